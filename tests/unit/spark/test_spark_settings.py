"""The Spark engine's settings, without a JVM: the engine switch, dbt's environment, the session's parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from laip.config import ConfigError, load_settings
from laip.spark.session import quoted, spark_conf
from laip.warehouse.build import dbt_env


def test_duckdb_is_the_default_engine_and_the_environment_chooses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAIP_WAREHOUSE_ENGINE", raising=False)
    assert load_settings(home=tmp_path).warehouse_engine == "duckdb"
    monkeypatch.setenv("LAIP_WAREHOUSE_ENGINE", "spark")
    settings = load_settings(home=tmp_path)
    assert settings.warehouse_engine == "spark"
    env = dbt_env(settings)  # dbt/profiles.yml's target is the engine
    assert env["LAIP_WAREHOUSE_ENGINE"] == "spark" and env["LAIP_SPARK_DIR"] == str(tmp_path / "spark")


def test_an_unknown_engine_is_refused_naming_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAIP_WAREHOUSE_ENGINE", "postgres")
    with pytest.raises(ConfigError, match=r"warehouse\.engine"):
        _ = load_settings(home=tmp_path).warehouse_engine


def test_the_platforms_spark_session_is_dbts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session parameters come from the profile's spark target, rendered with the platform's directories."""
    monkeypatch.delenv("LAIP_SPARK_MASTER", raising=False)
    conf = spark_conf(load_settings(home=tmp_path))
    assert conf["spark.master"] == "local[2]"
    assert conf["spark.sql.warehouse.dir"] == f"{tmp_path}/spark/warehouse"
    assert f"databaseName={tmp_path}/spark/metastore_db" in conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    monkeypatch.setenv("LAIP_SPARK_MASTER", "local[4]")
    assert spark_conf(load_settings(home=tmp_path))["spark.master"] == "local[4]"


def test_table_names_are_quoted_for_either_engine() -> None:
    """Names from the catalogs reach SQL quoted: Spark's backticks, DuckDB's double quotes, a quote inside doubled."""
    assert quoted("ml.ml_withdrawal_predictions") == "`ml`.`ml_withdrawal_predictions`"
    assert quoted("ml.odd`name") == "`ml`.`odd``name`"
    assert quoted('raw.cour"ses', quote='"') == '"raw"."cour""ses"'
