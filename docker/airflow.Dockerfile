# Airflow 3 + Cosmos + dbt-duckdb + the laip package: runs the laip_pipeline DAG. Default command: `airflow
# standalone` (the embedded profile); docker-compose.yml runs one component per container instead
# (python -m laip.orchestration.airflow_run init | airflow api-server | ... ) and the MLflow server from this image.
# Build from the repository root: docker build -f docker/airflow.Dockerfile .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    LAIP_HOME=/var/lib/laip LAIP_DATA_DIR=/opt/laip/data/raw
WORKDIR /opt/laip

COPY requirements.lock ./
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv pip install --system --no-cache -r requirements.lock

COPY pyproject.toml laip.yaml ./
COPY laip ./laip
COPY dags ./dags
COPY dbt ./dbt
COPY ml ./ml
COPY data/sample ./data/sample
RUN uv pip install --system --no-cache --no-deps -e . \
 && useradd --create-home --uid 50000 laip && mkdir -p "$LAIP_HOME" && chown laip "$LAIP_HOME"
USER laip

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v2/monitor/health', timeout=5)"
CMD ["python", "-m", "laip.orchestration.airflow_run"]
