"""``astralytiq`` command: operator tasks on a store (which store it is, migrations, orphan
sweeping, compiling model versions for serving)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from .core import db
from .core.config import StoreConfig


def _config(args: argparse.Namespace) -> StoreConfig:
    kwargs = {}
    if args.home:
        kwargs["home"] = Path(args.home)
    return StoreConfig(
        database_url=args.database_url, storage_url=getattr(args, "storage_url", None), **kwargs
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="astralytiq", description=__doc__)
    parser.add_argument(
        "--home", help="store home (default: $ASTRALYTIQ_HOME or the Jupyter data dir)"
    )
    parser.add_argument("--database-url", help="SQLAlchemy URL of a shared metadata database")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser(
        "info", help="print the store this command (and aq.connect(), the server...) uses"
    )
    info.add_argument("--storage-url", help="fsspec URL of the byte storage")

    dbp = sub.add_parser("db", help="metadata database schema")
    dbsub = dbp.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="apply the shipped migrations")
    up.add_argument("revision", nargs="?", default="head")
    dbsub.add_parser("current", help="print the schema revision")

    sweep = sub.add_parser("sweep", help="delete stored files no version refers to")
    sweep.add_argument("--storage-url", help="fsspec URL of the byte storage")
    sweep.add_argument(
        "--min-age",
        type=float,
        default=3600.0,
        help="only files older than this many seconds (default 3600)",
    )

    models = sub.add_parser("models", help="model registry maintenance")
    msub = models.add_subparsers(dest="models_command", required=True)
    comp = msub.add_parser(
        "compile",
        help="compile versions served by scikit-learn or by an older compiled layout (e.g. "
        "registered before an upgrade)",
    )
    comp.add_argument("--storage-url", help="fsspec URL of the byte storage")
    comp.add_argument("--tenant", help="only this tenant (slug)")
    comp.add_argument("--all", action="store_true", help="recompile compiled versions too")

    args = parser.parse_args(argv)
    config = _config(args)
    if args.command == "info":
        return _info(config, explicit_home=bool(args.home))
    engine = db.make_engine(config.resolved_database_url)
    try:
        if args.command == "db" and args.db_command == "upgrade":
            db.upgrade(engine, args.revision)
            print(f"Schema at revision {db.current_revision(engine)}.")
        elif args.command == "db":
            print(db.current_revision(engine) or "(empty database)")
        elif args.command == "sweep":
            from .core.store import Store

            with Store(config) as store:
                removed = store.sweep_orphans(args.min_age)
            print(f"Removed {len(removed)} orphaned file(s).")
            for key in removed:
                print(f"  {key}")
        elif args.command == "models":
            return _compile_models(config, args.tenant, recompile=args.all)
    finally:
        engine.dispose()
    return 0


def _info(config: StoreConfig, *, explicit_home: bool) -> int:
    """Print where the store is and why (the same default as every entry point), without
    creating anything."""
    if explicit_home:
        why = "--home"
    elif os.environ.get("ASTRALYTIQ_HOME"):
        why = "$ASTRALYTIQ_HOME"
    else:
        why = "default: {jupyter_data_dir}/astralytiq; set ASTRALYTIQ_HOME to change it"
    database = config.resolved_database_url
    print(f"home:     {config.home}  ({why})")
    print(f"database: {make_url(database).render_as_string(hide_password=True)}")
    print(f"storage:  {config.resolved_storage_url}")
    if config.embedded and not config.embedded_database.exists():
        print("schema:   (no store here yet; it is created on first use)")
        return 0
    engine = db.make_engine(database)
    try:
        print(f"schema:   {db.current_revision(engine) or '(empty database)'}")
    except SQLAlchemyError as exc:
        print(f"schema:   (cannot read the database: {type(exc.orig or exc).__name__})")
        return 1
    finally:
        engine.dispose()
    return 0


def _compile_models(config: StoreConfig, tenant: str | None, *, recompile: bool) -> int:
    """Compile every version still served by scikit-learn, its compiled file missing or of an
    older layout (or every version); one line each.
    Acts as an admin of each tenant named ``astralytiq-cli`` in the audit log."""
    from sqlalchemy import select

    from .core.compiled import is_current
    from .core.errors import AstralytiqError
    from .core.models import ModelRecord, ModelVersionRecord, TenantRecord
    from .core.permissions import Principal, Role
    from .core.store import Store

    failures = 0
    with Store(config) as store:
        with store.session() as session:
            stmt = (
                select(
                    TenantRecord.slug,
                    ModelRecord.name,
                    ModelVersionRecord.version,
                    ModelVersionRecord.compiled_key,
                )
                .join(ModelRecord, ModelRecord.id == ModelVersionRecord.model_id)
                .join(TenantRecord, TenantRecord.id == ModelVersionRecord.tenant_id)
                .order_by(TenantRecord.slug, ModelRecord.name, ModelVersionRecord.version)
            )
            if tenant:
                stmt = stmt.where(TenantRecord.slug == tenant)
            rows = list(session.execute(stmt))
        # Compiled files of an older layout are recompiled too: they are served by
        # scikit-learn until then.
        todo = [
            (slug, name, number)
            for slug, name, number, key in rows
            if recompile or key is None or not is_current(store.storage.read_bytes(key))
        ]
        for slug, name, number in todo:
            operator = Principal(user="astralytiq-cli", tenant=slug, role=Role.ADMIN, via="cli")
            try:
                version = store.models.compile(operator, f"{name}@{number}")
            except AstralytiqError as exc:
                failures += 1
                print(f"{slug}/{name}@{number}: error: {exc.message}")
                continue
            print(f"{slug}/{version.ref}: {version.runtime} ({version.runtime_note})")
        print(f"{len(todo)} version(s) examined, {failures} error(s).")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
