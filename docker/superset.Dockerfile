# Superset 6.1 BI service of LAIP: provisions itself from superset/ (metadata DB, admin, assets, roles), then
# serves with gunicorn. It reads the serving snapshot $LAIP_HOME/serving/laip.duckdb read-only; share the
# laip-home volume with the pipeline container. Build from the repository root:
#   docker build -f docker/superset.Dockerfile -t laip/superset .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    LAIP_HOME=/var/lib/laip LAIP_SUPERSET_VENV=/opt/superset-venv PYTHONPATH=/opt/laip \
    SUPERSET_CONFIG_PATH=/opt/laip/superset/superset_config.py
WORKDIR /opt/laip

# Superset needs SQLAlchemy 1.4: its own environment, from its own lock (same as .venv-superset).
COPY superset/requirements.lock ./superset/requirements.lock
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv venv -p /usr/local/bin/python3.11 "$LAIP_SUPERSET_VENV" \
 && uv pip sync --no-cache -p "$LAIP_SUPERSET_VENV/bin/python" superset/requirements.lock

# Only what the service needs: settings (laip.config, laip.profile), the service driver and superset/.
COPY laip.yaml ./
COPY laip/__init__.py laip/config.py laip/profile.py ./laip/
COPY laip/services/__init__.py laip/services/superset.py ./laip/services/
COPY superset ./superset
RUN useradd --create-home --uid 50000 laip && mkdir -p "$LAIP_HOME" && chown laip "$LAIP_HOME"
USER laip

EXPOSE 8088
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8088/health', timeout=5)"
# Admin credentials: SUPERSET_ADMIN_USER / SUPERSET_ADMIN_PASSWORD, else generated once into
# $LAIP_HOME/superset/admin_credentials.json and printed in the log. SECRET_KEY: SUPERSET_SECRET_KEY or generated.
CMD ["/opt/superset-venv/bin/python", "-m", "laip.services.superset", "serve", "--host", "0.0.0.0", "--port", "8088"]
