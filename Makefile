# Learning Analytics Intelligence Platform: the interface everyone builds on.
#   make run    set up (if needed) and run the whole pipeline through the Airflow DAG on the available data
#   make up     start Airflow, MLflow, Superset and the API on 127.0.0.1 in the background (make down stops them)
#   make test   set up (if needed) and run the fast and the integration test tiers
#   make lint   ruff (lint + format), mypy on laip/, sqlfluff on dbt/ (zero findings; CI runs it before the tests)
#   make bench  print speed figures (BENCH_DATA=dir; default: the full real OULAD beside the repo)
#   make setup-spark   add the Spark warehouse engine (dbt-spark, pyspark) to the environment (docs/scaling.md)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
UV_VERSION := 0.13.9
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUPERSET_VENV := .venv-superset
SUPERSET_STAMP := $(SUPERSET_VENV)/.installed
BENCH_DATA ?= ../shared/data/oulad
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup setup-tools run run-direct up up-prod down test test-unit test-integration test-full-data test-spark lint format bench bench-api docs lock clean
.PHONY: setup-superset lock-superset superset-export screenshots bench-superset bench-weekly setup-spark lock-spark bench-engines

setup: $(STAMP) $(SUPERSET_STAMP)

# The pipeline / ML environment: created from the pinned lock file, then the project itself (editable).
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install -q -p $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q -p $(BIN)/python --no-deps -e .
	@touch $@

# The BI environment: Superset 6.1 needs SQLAlchemy 1.4, so it gets its own venv, synced to its lock.
setup-superset: $(SUPERSET_STAMP)
$(SUPERSET_STAMP): superset/requirements.lock | $(STAMP)
	@test -x $(SUPERSET_VENV)/bin/python || $(BIN)/uv venv -q -p $(PYTHON) $(SUPERSET_VENV)
	$(BIN)/uv pip sync -q -p $(SUPERSET_VENV)/bin/python superset/requirements.lock
	@touch $@

# The Spark warehouse extra (warehouse.engine: spark; docs/scaling.md): dbt-spark and pyspark (about 480 MB, on Java 17)
# into the project venv, pinned in spark/requirements.lock against requirements.lock. The default install leaves it out.
SPARK_STAMP := $(VENV)/.spark-installed
setup-spark: $(SPARK_STAMP)
$(SPARK_STAMP): spark/requirements.lock | $(STAMP)
	$(BIN)/uv pip install -q -p $(BIN)/python -r spark/requirements.lock
	@touch $@

# What ops schedule: the laip_pipeline DAG, run once with `airflow dags test` (DATA=dir to choose the data).
run: setup
	$(BIN)/laip dag --allow-sample $(DATA)

# The same steps without Airflow (for comparison and debugging).
run-direct: setup
	$(BIN)/laip run --allow-sample $(DATA)

up: setup
	$(BIN)/laip up

# The production profile on this machine: PostgreSQL and Redis of its own under $$LAIP_HOME/production, Airflow on
# Celery workers, Superset and the MLflow server on PostgreSQL (docs/deployment.md). `make down` stops it all.
up-prod: setup
	$(BIN)/laip up --production

down:
	@test -x $(BIN)/laip && $(BIN)/laip down || true

# System tools the tests need (Debian packages): docker-compose validates the compose file, chromium
# drives the dashboard browser tests, redis-server is the production profile's broker and cache (PostgreSQL 15's
# server programs must already be installed). Installed only when missing (needs root or sudo).
TOOLS := docker-compose chromium redis-server
setup-tools:
	@missing=""; for t in $(TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing >/dev/null; \
	fi

# Both tiers run on two pytest-xdist workers; the integration tier's modules go out in groups, heaviest first
# (tests/support/workers.py), and it prints its 30 slowest tests: where CI's time goes. The full-data tier (the real
# OULAD in ../shared/data/oulad: load and build it, time travel over 28 exports; about 7 min) is `make test-full-data`.
UNIT_TESTS := -m "not integration" -q -n 2
INTEGRATION_TESTS := -m "integration and not full_data" -q -n 2 --dist loadgroup --no-loadscope-reorder \
	--durations=30
test: setup setup-spark setup-tools
	$(BIN)/pytest $(UNIT_TESTS)
	$(BIN)/pytest $(INTEGRATION_TESTS)

# The Spark tier alone (in `make test` too; about 12 min: `laip run` on Spark, marts equal DuckDB's, the ML bridge,
# the leakage proof).
test-spark: setup setup-spark
	$(BIN)/pytest -m spark -q --durations=5

test-full-data: setup
	$(BIN)/pytest -m full_data -q --durations=5

# Linters, pinned in requirements.lock and configured in pyproject.toml / .sqlfluff (.pre-commit-config.yaml runs
# the same). `make format` applies ruff's fixes and formatting.
PY_SOURCES := laip tests dags superset
lint: setup setup-spark
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/mypy
	$(BIN)/sqlfluff lint dbt

format: setup
	$(BIN)/ruff check --fix $(PY_SOURCES)
	$(BIN)/ruff format $(PY_SOURCES)

test-unit: setup
	$(BIN)/pytest $(UNIT_TESTS)

test-integration: setup setup-spark setup-tools
	$(BIN)/pytest $(INTEGRATION_TESTS)

bench: setup
	$(BIN)/python -m laip.bench.pipeline $(BENCH_DATA)

# Prediction API load benchmark (loopback): /predict p50/p99 and req/s, batch scoring of the day-30 population.
# BENCH_API_HOME = a LAIP_HOME with a champion (default: LAIP_HOME / .laip), e.g. after `laip run` on the full data.
bench-api: setup
	$(BIN)/python -m laip.bench.api $(if $(BENCH_API_HOME),--home $(BENCH_API_HOME))

docs: setup
	$(BIN)/laip docs

# Monitoring (drift, performance, API health, retrain decision) and the model card / retraining plan (docs/).
.PHONY: monitor model-card
monitor: setup
	$(BIN)/laip monitor

model-card: setup
	$(BIN)/laip model-card

# Re-resolve the full pinned set from requirements.txt (needs the registry).
lock: setup
	$(BIN)/uv pip compile -q -p 3.11 requirements.txt -o requirements.lock

lock-spark: setup
	$(BIN)/uv pip compile -q -p 3.11 spark/requirements.txt -c requirements.lock -o spark/requirements.lock

lock-superset: setup
	$(BIN)/uv pip compile -q -p 3.11 superset/requirements.txt -o superset/requirements.lock

# Superset assets: export the instance of LAIP_HOME (default .laip) back to superset/assets for review.
superset-export: setup
	$(BIN)/python -m laip.services.superset export

# Regenerate the README's screenshots of the real UIs, taken by the browser tests into .laip/screenshots: every
# dashboard tab (Superset on the sample), a DAG run in Airflow, the trainings in MLflow; smaller copies into
# docs/screenshots.
README_SHOTS := overview students-at-risk picked-student-student-drill-down engagement-assessment \
  student-success-signals ml-withdrawal-risk risk-through-the-term model-monitoring airflow-dag-run mlflow-runs
screenshots: setup setup-tools
	LAIP_SCREENSHOT_DIR=$(CURDIR)/.laip/screenshots $(BIN)/pytest -m integration -q -k "browser or uis_show" \
	  tests/integration/test_superset.py tests/integration/test_dag_run.py
	$(SUPERSET_VENV)/bin/python superset/browser.py shrink .laip/screenshots docs/screenshots $(README_SHOTS)

# One week's incremental load + dbt build vs a full build of the same export (BENCH_DATA: a finished history).
bench-weekly: setup
	$(BIN)/python -m laip.bench.weekly $(BENCH_DATA)

# The same load + dbt build on DuckDB and on Spark local[2], side by side, with peak memory (docs/scaling.md).
bench-engines: setup setup-spark
	$(BIN)/python -m laip.bench.engines $(BENCH_DATA)

# Per-chart query time (median, p95) and dashboard load time on BENCH_DATA (default: the full OULAD).
bench-superset: setup setup-tools
	$(BIN)/python -m laip.bench.superset $(BENCH_DATA)

clean:
	rm -rf $(VENV) $(SUPERSET_VENV) .laip
