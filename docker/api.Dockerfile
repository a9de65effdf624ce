# The prediction API (laip serve: FastAPI + uvicorn) serving models:/laip-withdrawal-day30@champion.
# It never trains: it reads the MLflow store and the serving snapshot from the shared laip-home volume.
# Build from the repository root: docker build -f docker/api.Dockerfile .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 \
    LAIP_HOME=/var/lib/laip MLFLOW_TRACKING_URI=sqlite:////var/lib/laip/mlflow/mlflow.db
WORKDIR /opt/laip

COPY requirements.lock ./
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv pip install --system --no-cache -r requirements.lock

COPY pyproject.toml laip.yaml ./
COPY laip ./laip
COPY ml ./ml
RUN uv pip install --system --no-cache --no-deps -e . \
 && useradd --create-home --uid 50000 laip && mkdir -p "$LAIP_HOME" && chown laip "$LAIP_HOME"
USER laip

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=5)"
CMD ["laip", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
