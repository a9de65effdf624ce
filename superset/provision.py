"""Provision LAIP's Superset from code: metadata DB, admin, roles and the assets under ``superset/assets``.

Runs in the Superset environment (``.venv-superset/bin/python superset/provision.py ...``); normally called
by ``laip.services.superset.prepare`` (``make up``), which sets the environment below.

    provision.py setup               db upgrade, init, admin user, asset import, roles (idempotent)
    provision.py import              import the assets only (overwrites what the bundle defines)
    provision.py roles               (re)build the LAIP roles from roles.yaml
    provision.py user NAME ROLE ...  create or update users; passwords from $LAIP_USER_PASSWORD(S)
    provision.py export [--out DIR]  export every asset of the instance as a normalised YAML bundle
    provision.py list-charts         JSON list of charts: id, uuid, name, dataset, student-level flag

Environment:
    LAIP_SUPERSET_HOME        state folder (metadata DB, secret key); see superset_config.py
    LAIP_SERVING_WAREHOUSE    the read-only serving snapshot the database URI points at
    LAIP_MIN_GROUP_SIZE       small-group suppression threshold handed to the datasets (default 10)
    LAIP_PREDICTION_DAY       the default checkpoint (course day) of the model charts (default 30)
    SUPERSET_ADMIN_USER / SUPERSET_ADMIN_PASSWORD   admin credentials (setup)

The bundle keeps the placeholder ``${LAIP_SERVING_WAREHOUSE}`` in the database URI; it is filled in at
import time and put back at export time, so no machine-specific path is committed. Export also strips the
instance-specific ids (chart ids in the dashboard layout become stable numbers, datasource ids are
dropped; import sets them again) so that exporting an unchanged instance gives no diff.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ASSETS_DIR = HERE / "assets"
ROLES_FILE = HERE / "roles.yaml"
WAREHOUSE_PLACEHOLDER = "${LAIP_SERVING_WAREHOUSE}"
GROUP_SIZE_PARAM = "min_group_size"
CHECKPOINT_PARAM = "prediction_day"  # the default checkpoint: what the model charts show unless one is picked
# a dataset with one of these columns has one row per student (attempt): never for the viewer role
STUDENT_LEVEL_COLUMNS = {"id_student", "student_module_id"}

os.environ.setdefault("SUPERSET_CONFIG_PATH", str(HERE / "superset_config.py"))
os.environ.setdefault("FLASK_APP", "superset.app:create_app()")

log = logging.getLogger("laip.superset")


# ----------------------------------------------------------------------------------------------- app
def _app():
    from superset.app import create_app

    app = create_app()
    app.app_context().push()
    return app


def _serving_warehouse() -> Path:
    value = os.environ.get("LAIP_SERVING_WAREHOUSE")
    if not value:
        sys.path.insert(0, str(HERE.parent))
        from laip.config import load_settings

        return load_settings().serving_warehouse
    return Path(value).resolve()


def _min_group_size() -> int:
    return int(os.environ.get("LAIP_MIN_GROUP_SIZE", "10"))


def _prediction_day() -> int:
    return int(os.environ.get("LAIP_PREDICTION_DAY", "30"))


def _admin():
    from superset import security_manager

    name = os.environ.get("SUPERSET_ADMIN_USER", "admin")
    user = security_manager.find_user(username=name)
    if user is None:
        raise SystemExit(f"no admin user {name!r}; run `provision.py setup` first")
    return user


# ------------------------------------------------------------------------------------------- bundle
def read_bundle(assets: Path, warehouse: Path, min_group_size: int, prediction_day: int = 30) -> dict[str, str]:
    """The bundle as Superset's importer wants it ({relative path: YAML text}), machine values filled in."""
    import yaml

    if any(ch in str(warehouse) for ch in "?#"):
        raise SystemExit(f"unsupported character in the warehouse path {warehouse}")
    contents: dict[str, str] = {}
    for path in sorted(assets.rglob("*.yaml")):
        rel = path.relative_to(assets).as_posix()
        text = path.read_text()
        if rel.startswith("databases/"):
            text = text.replace(WAREHOUSE_PLACEHOLDER, str(warehouse))
        elif rel.startswith("dashboards/"):
            text = _with_default_checkpoint(text, prediction_day)
        elif rel.startswith("datasets/"):
            config = yaml.safe_load(text)
            params = config.get("template_params") or {}
            values = {GROUP_SIZE_PARAM: min_group_size, CHECKPOINT_PARAM: prediction_day}
            if values.keys() & params.keys():
                params.update({k: v for k, v in values.items() if k in params})
                config["template_params"] = params
                text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
        contents[rel] = text
    if "metadata.yaml" not in contents:
        raise SystemExit(f"{assets} has no metadata.yaml: not an asset bundle")
    return contents


def _with_default_checkpoint(text: str, prediction_day: int) -> str:
    """The dashboard with its Checkpoint filter defaulting to ``prediction_day`` (the datasets' own default)."""
    import yaml

    config = yaml.safe_load(text)
    for flt in config.get("metadata", {}).get("native_filter_configuration", []):
        mask = flt.get("defaultDataMask", {})
        if flt["targets"][0]["column"]["name"] != CHECKPOINT_PARAM or mask["filterState"]["value"] == [prediction_day]:
            continue
        mask["filterState"].update(value=[prediction_day], label=str(prediction_day))
        mask["extraFormData"] = {"filters": [{"col": CHECKPOINT_PARAM, "op": "IN", "val": [prediction_day]}]}
        text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    return text


def import_assets(assets: Path = ASSETS_DIR) -> dict[str, int]:
    from superset.commands.importers.v1.assets import ImportAssetsCommand
    from superset.utils.core import override_user

    contents = read_bundle(assets, _serving_warehouse(), _min_group_size(), _prediction_day())
    with override_user(_admin()):
        ImportAssetsCommand(contents).run()
    counts: dict[str, int] = {}
    for rel in contents:
        kind = rel.split("/")[0]
        counts[kind] = counts.get(kind, 0) + 1
    counts.pop("metadata.yaml", None)
    return counts


# ------------------------------------------------------------------------------------------- export
_ID_SUFFIX = re.compile(r"_\d+\.yaml$")
_INSTANCE_KEYS = ("datasource", "slice_id", "dashboards", "url_params")


def _canonical_chart_ids(*bundles: Path) -> dict[str, int]:
    """uuid -> the stable chart number used in the dashboard layouts of the committed bundle (first wins)."""
    import yaml

    ids: dict[str, int] = {}
    for bundle in bundles:
        for path in sorted((bundle / "dashboards").glob("*.yaml")) if (bundle / "dashboards").is_dir() else []:
            position = (yaml.safe_load(path.read_text()) or {}).get("position") or {}
            for node in position.values():
                if isinstance(node, dict) and node.get("type") == "CHART" and "uuid" in node.get("meta", {}):
                    ids.setdefault(node["meta"]["uuid"], int(node["meta"]["chartId"]))
    return ids


def _normalise_chart(config: dict[str, Any]) -> dict[str, Any]:
    params = config.get("params") or {}
    for key in _INSTANCE_KEYS:
        params.pop(key, None)
    if config.get("query_context"):
        qc = json.loads(config["query_context"])
        qc.pop("datasource", None)
        for query in qc.get("queries", []):
            query.pop("datasource", None)
        for key in _INSTANCE_KEYS:
            qc.get("form_data", {}).pop(key, None)
        config["query_context"] = json.dumps(qc, sort_keys=True, indent=2) + "\n"
    return config


def _normalise_dashboard(config: dict[str, Any], chart_ids: dict[str, int]) -> dict[str, Any]:
    position = config.get("position") or {}
    real_to_canonical: dict[int, int] = {}
    next_id = max(chart_ids.values(), default=0) + 1
    for node in position.values():
        if isinstance(node, dict) and node.get("type") == "CHART":
            meta = node["meta"]
            if meta["uuid"] not in chart_ids:
                chart_ids[meta["uuid"]] = next_id
                next_id += 1
            real_to_canonical[int(meta["chartId"])] = chart_ids[meta["uuid"]]
            meta["chartId"] = chart_ids[meta["uuid"]]
    metadata = config.get("metadata") or {}
    for flt in metadata.get("native_filter_configuration", []):
        flt.pop("chartsInScope", None)  # derived from scope by the frontend
        flt.pop("tabsInScope", None)
        scope = flt.get("scope") or {}
        if scope.get("excluded"):
            scope["excluded"] = sorted(real_to_canonical.get(i, i) for i in scope["excluded"])
    if "chart_configuration" in metadata:
        metadata["chart_configuration"] = {
            str(real_to_canonical.get(int(k), k)): {**v, "id": real_to_canonical.get(int(k), k)}
            for k, v in metadata["chart_configuration"].items()
        }
    glob = metadata.get("global_chart_configuration")
    if isinstance(glob, dict):
        glob.pop("chartsInScope", None)
    for key in (
        "positions",
        "show_native_filters",
        "shared_label_colors",
        "map_label_colors",
        "color_scheme_domain",
        "timed_refresh_immune_slices",
    ):
        if key in metadata and not metadata[key]:
            metadata.pop(key)
    return config


def dump_yaml(config: Any) -> str:
    """YAML like Superset's export, but multi-line strings (SQL, query contexts, markdown) as literal blocks."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        if "\n" in value:
            value = "\n".join(line.rstrip() for line in value.split("\n"))
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", value)

    Dumper.add_representer(str, str_presenter)
    return yaml.dump(config, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=110)


def export_assets(out: Path = ASSETS_DIR) -> list[str]:
    """Write every asset of the instance to ``out`` (replacing the YAML there); return the file names."""
    import yaml
    from superset.commands.export.assets import ExportAssetsCommand
    from superset.utils.core import override_user

    warehouse = str(_serving_warehouse())
    chart_ids = _canonical_chart_ids(ASSETS_DIR, out)
    timestamp = None
    for old_meta in (out / "metadata.yaml", ASSETS_DIR / "metadata.yaml"):
        if old_meta.is_file():
            timestamp = (yaml.safe_load(old_meta.read_text()) or {}).get("timestamp")
            break

    if out.is_dir() and any(out.iterdir()) and not (out / "metadata.yaml").is_file():
        raise SystemExit(f"{out} is not empty and holds no asset bundle; export into an empty folder or a bundle")
    with override_user(_admin()):
        exported = [(name, content()) for name, content in ExportAssetsCommand().run()]

    files: dict[str, str] = {}
    for name, text in exported:
        name = _ID_SUFFIX.sub(".yaml", name)
        config = yaml.safe_load(text)
        if name == "metadata.yaml":
            config["timestamp"] = timestamp or datetime.now(tz=UTC).isoformat()
        elif name.startswith("databases/"):
            config["sqlalchemy_uri"] = config["sqlalchemy_uri"].replace(warehouse, WAREHOUSE_PLACEHOLDER)
        elif name.startswith("charts/"):
            config = _normalise_chart(config)
        elif name.startswith("dashboards/"):
            config = _normalise_dashboard(config, chart_ids)
        if name in files:
            raise SystemExit(f"two assets export to {name}; give them distinct names")
        files[name] = dump_yaml(config)

    for old in out.rglob("*.yaml"):
        old.unlink()
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in sorted((p for p in out.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return sorted(files)


# -------------------------------------------------------------------------------------------- roles
def _is_student_level(dataset, listed: set[str]) -> bool:
    return dataset.table_name in listed or bool(STUDENT_LEVEL_COLUMNS & {c.column_name for c in dataset.columns})


def sync_roles(roles_file: Path = ROLES_FILE) -> dict[str, list[str]]:
    """Create or rebuild each LAIP role: the permissions of its base role + access to its datasets."""
    import yaml
    from superset.connectors.sqla.models import SqlaTable

    from superset import db, security_manager

    spec = yaml.safe_load(roles_file.read_text())
    listed = set(spec.get("student_level_datasets", []))
    datasets = db.session.query(SqlaTable).order_by(SqlaTable.table_name).all()
    granted: dict[str, list[str]] = {}
    for name, role_spec in spec["roles"].items():
        base = security_manager.find_role(role_spec["copy_permissions_of"])
        if base is None:
            raise SystemExit(f"base role {role_spec['copy_permissions_of']!r} missing; run `superset init`")
        role = security_manager.find_role(name) or security_manager.add_role(name)
        access = role_spec["dataset_access"]
        if access not in ("aggregate", "all"):
            raise SystemExit(f"role {name}: dataset_access must be 'aggregate' or 'all'")
        allowed = [d for d in datasets if access == "all" or not _is_student_level(d, listed)]
        perms = [
            p
            for p in base.permissions
            if p.permission.name not in ("datasource_access", "schema_access", "database_access", "catalog_access")
        ]
        for dataset in allowed:
            pvm = security_manager.add_permission_view_menu("datasource_access", dataset.get_perm())
            perms.append(pvm)
        role.permissions = perms
        granted[name] = [d.table_name for d in allowed]
    db.session.commit()
    return granted


# -------------------------------------------------------------------------------------------- users
def ensure_user(username: str, role_name: str, password: str, first: str = "LAIP", last: str = "User") -> str:
    """Create the user or bring its role and password up to date. Returns created/updated/unchanged."""
    from werkzeug.security import check_password_hash

    from superset import db, security_manager

    role = security_manager.find_role(role_name)
    if role is None:
        raise SystemExit(f"no role {role_name!r}")
    user = security_manager.find_user(username=username)
    if user is None:
        email = f"{username}@laip.invalid"
        if not security_manager.add_user(username, first, last, email, [role], password=password):
            raise SystemExit(f"could not create user {username}")
        return "created"
    changed = False
    if [r.name for r in user.roles] != [role_name]:
        user.roles = [role]
        changed = True
    if not check_password_hash(user.password, password):
        security_manager.reset_password(user.id, password)
        changed = True
    if not user.active:
        user.active = True
        changed = True
    db.session.commit()
    return "updated" if changed else "unchanged"


# ---------------------------------------------------------------------------------------------- cli
def cmd_setup(args: argparse.Namespace) -> None:
    from flask_migrate import upgrade
    from superset.extensions import appbuilder

    from superset import security_manager

    user = os.environ.get("SUPERSET_ADMIN_USER")
    password = os.environ.get("SUPERSET_ADMIN_PASSWORD")
    if not user or not password:
        raise SystemExit("setup needs SUPERSET_ADMIN_USER and SUPERSET_ADMIN_PASSWORD")
    upgrade()
    appbuilder.add_permissions(update_perms=True)
    security_manager.sync_role_definitions()
    print(f"admin user {user}: {ensure_user(user, 'Admin', password, 'LAIP', 'Admin')}")
    counts = import_assets(Path(args.assets))
    print("imported " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    for role, names in sync_roles().items():
        print(f"role {role!r}: {len(names)} datasets")


def cmd_import(args: argparse.Namespace) -> None:
    counts = import_assets(Path(args.assets))
    print("imported " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    sync_roles()


def cmd_roles(args: argparse.Namespace) -> None:
    print(json.dumps(sync_roles(), indent=2))


def cmd_user(args: argparse.Namespace) -> None:
    """user NAME ROLE [NAME ROLE ...]; passwords from $LAIP_USER_PASSWORDS (JSON {name: password}) or, for a
    single user, $LAIP_USER_PASSWORD (never on the command line, where `ps` shows it)."""
    pairs = list(zip(args.spec[::2], args.spec[1::2], strict=False))
    if not pairs or len(args.spec) % 2:
        raise SystemExit("usage: user NAME ROLE [NAME ROLE ...]")
    passwords = json.loads(os.environ.get("LAIP_USER_PASSWORDS", "{}"))
    if len(pairs) == 1 and os.environ.get("LAIP_USER_PASSWORD"):
        passwords.setdefault(pairs[0][0], os.environ["LAIP_USER_PASSWORD"])
    for name, role in pairs:
        if not passwords.get(name):
            raise SystemExit(f"no password for {name}: set LAIP_USER_PASSWORDS or LAIP_USER_PASSWORD")
        print(f"user {name}: {ensure_user(name, role, passwords[name])}")


def cmd_export(args: argparse.Namespace) -> None:
    out = Path(args.out)
    names = export_assets(out)
    print(f"exported {len(names)} files to {out}")


def cmd_list_charts(args: argparse.Namespace) -> None:
    import yaml
    from superset.models.slice import Slice

    from superset import db

    listed = set(yaml.safe_load(ROLES_FILE.read_text()).get("student_level_datasets", []))
    rows = []
    for chart in db.session.query(Slice).order_by(Slice.id):
        table = chart.table
        rows.append(
            {
                "id": chart.id,
                "uuid": str(chart.uuid),
                "name": chart.slice_name,
                "viz_type": chart.viz_type,
                "dataset": table.table_name if table else None,
                "columns": sorted(c.column_name for c in table.columns) if table else [],
                "student_level": bool(table and _is_student_level(table, listed)),
                "has_query_context": bool(chart.query_context),
            }
        )
    print(json.dumps(rows, indent=1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup")
    p.add_argument("--assets", default=str(ASSETS_DIR))
    p.set_defaults(func=cmd_setup)
    p = sub.add_parser("import")
    p.add_argument("--assets", default=str(ASSETS_DIR))
    p.set_defaults(func=cmd_import)
    sub.add_parser("roles").set_defaults(func=cmd_roles)
    p = sub.add_parser("user")
    p.add_argument("spec", nargs="+", metavar="NAME ROLE")
    p.set_defaults(func=cmd_user)
    p = sub.add_parser("export")
    p.add_argument("--out", default=str(ASSETS_DIR))
    p.set_defaults(func=cmd_export)
    sub.add_parser("list-charts").set_defaults(func=cmd_list_charts)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with contextlib.redirect_stdout(sys.stderr):  # Superset prints "Loaded your LOCAL configuration"
        _app()
    args.func(args)


if __name__ == "__main__":
    main()
