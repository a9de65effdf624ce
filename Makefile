# Learning Analytics Intelligence Platform: the interface everyone builds on.
#   make run    set up (if needed) and run the whole pipeline on the available data
#   make test   set up (if needed) and run the fast and the integration test tiers
#   make bench  print speed figures (BENCH_DATA=dir; default: the full real OULAD beside the repo)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
UV_VERSION := 0.13.9
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_DATA ?= ../shared/data/oulad
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup run test test-unit test-integration bench docs lock clean

setup: $(STAMP)

# The pipeline / ML environment: created from the pinned lock file, then the project itself (editable).
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install -q -p $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q -p $(BIN)/python --no-deps -e .
	@touch $@

run: setup
	$(BIN)/laip run

test: setup
	$(BIN)/pytest -m "not integration" -q
	$(BIN)/pytest -m integration -q

test-unit: setup
	$(BIN)/pytest -m "not integration" -q

test-integration: setup
	$(BIN)/pytest -m integration -q

bench: setup
	$(BIN)/python -m laip.bench $(BENCH_DATA)

docs: setup
	$(BIN)/laip docs

# Re-resolve the full pinned set from requirements.txt (needs the registry).
lock: setup
	$(BIN)/uv pip compile -q -p 3.11 requirements.txt -o requirements.lock

clean:
	rm -rf $(VENV) .laip
