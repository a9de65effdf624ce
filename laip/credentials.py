"""Secrets the platform generates for itself (API token, model-signing key): from the environment, else created
once under ``$LAIP_HOME/secrets`` readable by the owner only, and compared in constant time."""

from __future__ import annotations

import hmac
import os
import secrets
import tempfile
from pathlib import Path

SECRETS_DIR = "secrets"
API_TOKEN_ENV = "LAIP_API_TOKEN"
API_TOKEN_FILE = "api_token"
MLFLOW_USER = "laip-pipeline"  # the pipeline's account on an authenticated MLflow server (production profile)
MLFLOW_PASSWORD_FILE = "mlflow_pipeline_password"
MLFLOW_READER_USER = "laip-api"  # the API's read-only account on that server
MLFLOW_READER_PASSWORD_ENV = "LAIP_MLFLOW_API_PASSWORD"
MLFLOW_READER_PASSWORD_FILE = "mlflow_api_password"


def secret_file(home: Path, name: str) -> Path:
    return Path(home) / SECRETS_DIR / name


def read_or_create(path: Path, nbytes: int = 32) -> str:
    """The secret stored in ``path``; the first caller creates it. The file is 0600 from its first byte (written
    under a temporary name, then linked into place: never a moment with other modes or half a secret), and two
    processes starting together agree on one value (the second link fails and it reads the first's)."""
    path = Path(path)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(nbytes))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it to have a new secret generated")
    return value


def api_token(home: Path) -> str:
    """The token that authorizes state-changing API calls: ``LAIP_API_TOKEN``, else ``$LAIP_HOME/secrets/api_token``."""
    return os.environ.get(API_TOKEN_ENV) or read_or_create(secret_file(home, API_TOKEN_FILE))


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison (no timing hint about how much of a guess was right)."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def mlflow_pipeline_credentials(home: Path) -> tuple[str, str]:
    """(user, password) of the pipeline's MLflow account: MLflow's client variables ``MLFLOW_TRACKING_USERNAME`` /
    ``MLFLOW_TRACKING_PASSWORD``, else ``laip-pipeline`` and ``$LAIP_HOME/secrets/mlflow_pipeline_password``."""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME") or MLFLOW_USER
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD") or read_or_create(secret_file(home, MLFLOW_PASSWORD_FILE))
    return user, password


def mlflow_reader_credentials(home: Path) -> tuple[str, str]:
    """(user, password) of the API's read-only MLflow account: ``laip-api`` and ``LAIP_MLFLOW_API_PASSWORD``, else
    ``$LAIP_HOME/secrets/mlflow_api_password``. The server creates the account (:mod:`laip.services.mlflow_server`);
    the API logs in with it through MLflow's client variables."""
    password = os.environ.get(MLFLOW_READER_PASSWORD_ENV) or read_or_create(
        secret_file(home, MLFLOW_READER_PASSWORD_FILE)
    )
    return MLFLOW_READER_USER, password


def use_mlflow_login(home: Path, tracking_uri: str) -> None:
    """Log MLflow's client in as the pipeline when it talks to a server (http/https) and no login is given: the
    server of the production profile and the clients share LAIP_HOME, so the generated password is the same."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        return
    # a password alone (no user) would send no login at all: the user is then the pipeline's
    user, password = mlflow_pipeline_credentials(home)
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = user, password
