"""The registered champion: one object for everyone who reads it (score, monitoring, the model card, the API).

``find_champion`` resolves ``models:/<registered name>@<alias>`` once; the :class:`ChampionVersion` it returns
names that exact version, its model run and its training (parent) run, and loads, reads metrics and datasets from
them, so a reader never mixes two versions when the alias moves in between.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from laip.config import Settings
from laip.ml.config import MLConfig
from laip.ml.provenance import verify
from laip.ml.tracking import allow_model_loading, setup_tracking

# A logged model names the classes it holds by their import path (skops and pickle alike). Models trained before the
# package was laid out by stage name the old paths: those stay importable while a model is loaded.
LEGACY_MODULES = {"laip.modeling": "laip.ml.modeling"}


@contextlib.contextmanager
def legacy_module_names() -> Iterator[None]:
    """Make the old module paths of :data:`LEGACY_MODULES` importable for the duration of a model load."""
    added = [old for old in LEGACY_MODULES if old not in sys.modules]
    for old in added:
        sys.modules[old] = importlib.import_module(LEGACY_MODULES[old])
    try:
        yield
    finally:
        for old in added:
            sys.modules.pop(old, None)


REGISTERED_MODEL_DESCRIPTION = (
    "Day-30 withdrawal risk of an OULAD module attempt: the calibrated probability that a student enrolled on course "
    "day 30 withdraws later, from information dated up to day 30 only (leakage-safe). The `champion` alias marks "
    "the version the pipeline scores with and the API serves; a version is promoted only if it is at least as good "
    "as the champion on the same held-out rows (tag `laip.not_promoted` says why one was not). Each version's "
    "description is its model card once `laip model-card` ran (docs/model_card.md). Reason codes and risk bands "
    "are model outputs, not causes."
)


MAX_DESCRIPTION = 5000


def describe_version(registered_model_name: str, version: int, description: str) -> None:
    """Set the registered model's description and that version's (MLflow renders both as markdown)."""
    from mlflow import MlflowClient

    if len(description) > MAX_DESCRIPTION:  # the registry's column holds 5,000 characters
        cut = description[: MAX_DESCRIPTION - 200].rsplit("\n", 1)[0]
        description = f"{cut}\n\n... (the whole card: the training run's artifact docs/model_card.md)"
    client = MlflowClient()
    client.update_registered_model(registered_model_name, description=REGISTERED_MODEL_DESCRIPTION)
    client.update_model_version(registered_model_name, str(version), description=description)


class NoChampion(LookupError):
    """No version carries the champion alias (yet)."""


@dataclass(frozen=True)
class ChampionVersion:
    registered_model_name: str
    alias: str
    version: int
    run_id: str  # the model's own (nested) run
    training_run_id: str  # the training (parent) run that selected it
    tags: dict[str, str] = field(default_factory=dict)  # the version's tags
    tracking_uri: str = ""
    home: Path = Path()  # LAIP_HOME: where the model-signing key is

    @property
    def model_uri(self) -> str:
        return f"models:/{self.registered_model_name}/{self.version}"

    @property
    def model_name(self) -> str:
        """The algorithm (lr / rf / hgb)."""
        return self.tags.get("model_name", "")

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(self.tracking_uri, registry_uri=self.tracking_uri)

    def load(self) -> Any:
        """The fitted model of this version (MLflow's sklearn flavour), after :func:`laip.ml.provenance.verify`
        showed this platform's training wrote exactly these files (raises UntrustedModel otherwise)."""
        import mlflow

        with tempfile.TemporaryDirectory(prefix="laip-model-") as tmp:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=self.model_uri, dst_path=tmp))
            verify(local, self.tags, self.home, self.model_uri)
            with allow_model_loading(), legacy_module_names():
                return mlflow.sklearn.load_model(str(local))

    def model_metrics(self) -> dict[str, float]:
        """Metrics of the model run, sorted by name."""
        return {k: float(v) for k, v in sorted(self.client().get_run(self.run_id).data.metrics.items())}

    def recorded_auc(self, split: str) -> float:
        """The held-out ROC AUC recorded for this version on ``split`` (NaN when none was recorded)."""
        metrics = self.client().get_run(self.training_run_id).data.metrics
        auc = metrics.get(f"selected_{split}_roc_auc")
        if auc is None:
            tag = self.tags.get(f"{split}_roc_auc")
            auc = float(tag) if tag else math.nan
        return float(auc)

    def training_datasets(self) -> list[dict[str, Any]]:
        """The dataset inputs of the training run (name, digest, source, context)."""
        parent = self.client().get_run(self.training_run_id)
        return [
            {
                "name": d.dataset.name,
                "digest": d.dataset.digest,
                "source": d.dataset.source,
                "context": next((t.value for t in d.tags if t.key == "mlflow.data.context"), None),
            }
            for d in parent.inputs.dataset_inputs
        ]


def find_champion(settings: Settings, config: MLConfig) -> ChampionVersion | None:
    """The version that carries the champion alias now, or None when there is none."""
    try:
        return get_champion(settings, config)
    except NoChampion:
        return None


def get_champion(settings: Settings, config: MLConfig) -> ChampionVersion:
    """The version that carries the champion alias now; raises :class:`NoChampion` naming the model."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    setup_tracking(settings, config)
    uri = settings.mlflow_tracking_uri
    try:
        version = MlflowClient(uri, registry_uri=uri).get_model_version_by_alias(
            config.registered_model_name, config.alias
        )
    except MlflowException as exc:
        raise NoChampion(
            f"no champion models:/{config.registered_model_name}@{config.alias}: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc
    tags = dict(version.tags)
    run_id = str(version.run_id)
    return ChampionVersion(
        config.registered_model_name,
        config.alias,
        int(version.version),
        run_id,
        tags.get("training_run_id") or run_id,
        tags,
        uri,
        settings.home,
    )


def champion_version_number(settings: Settings, config: MLConfig) -> int | None:
    """The version number the champion alias points at now (one registry query, nothing loaded), or None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = settings.mlflow_tracking_uri
    try:
        return int(
            MlflowClient(uri, registry_uri=uri)
            .get_model_version_by_alias(config.registered_model_name, config.alias)
            .version
        )
    except MlflowException:
        return None
