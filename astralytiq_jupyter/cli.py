"""``astralytiq`` command: operator tasks on a store (which store it is, migrations, orphan
sweeping, verifying stored files, compiling model versions for serving).

Commands that touch stored files refuse a storage that belongs to another store's
database (see ``core.identity``) and exit with status 2; ``verify`` exits with 1 when it
finds a missing or corrupted file."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from .core import db
from .core.config import StoreConfig
from .core.errors import AstralytiqError

if TYPE_CHECKING:
    from .core.store import Store


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

    sweep = sub.add_parser(
        "sweep",
        help="delete stored files no version refers to (left by crashed writes) and empty "
        "folders; safe while uploads go on",
    )
    sweep.add_argument("--storage-url", help="fsspec URL of the byte storage")
    sweep.add_argument(
        "--min-age",
        type=float,
        default=3600.0,
        help="only files older than this many seconds (default 3600)",
    )

    verify = sub.add_parser(
        "verify", help="check that every version's file is there with its recorded SHA-256"
    )
    verify.add_argument("--storage-url", help="fsspec URL of the byte storage")
    verify.add_argument("--tenant", help="only this tenant (slug)")

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

    demo = sub.add_parser("demo", help="demo content for newcomers")
    demo.add_subparsers(dest="demo_command", required=True).add_parser(
        "seed",
        help="the sample sales data, a registered revenue model and a dashboard in tenant "
        "'default' (idempotent: what exists is kept)",
    )
    apps = sub.add_parser("apps", help="the Voila apps (notebooks) shipped with the package")
    install = apps.add_subparsers(dest="apps_command", required=True).add_parser(
        "install", help="copy the apps into a folder, e.g. the Jupyter server's root"
    )
    install.add_argument("folder", nargs="?", default=".", help="target folder (default: .)")
    install.add_argument("--overwrite", action="store_true", help="replace files already there")

    args = parser.parse_args(argv)
    if args.command == "apps":
        return _install_apps(args.folder, overwrite=args.overwrite)
    config = _config(args)
    try:
        if args.command == "demo":
            return _seed_demo(config)
        if args.command == "info":
            return _info(config, explicit_home=bool(args.home))
        if args.command == "db":
            return _db(config, args)
        if args.command == "sweep":
            return _sweep(config, args.min_age)
        if args.command == "verify":
            return _verify(config, args.tenant)
        return _compile_models(config, args.tenant, recompile=args.all)
    except AstralytiqError as exc:
        print(f"astralytiq: {exc.message}", file=sys.stderr)
        return 2


def _seed_demo(config: StoreConfig) -> int:
    """Seed the embedded store as its local user (admin of tenant 'default')."""
    from .client import LocalBackend, Workspace
    from .demo import seed

    backend = LocalBackend.open(config=config)
    try:
        done = seed(Workspace(backend), say=print)
    finally:
        backend.close()
    made = ", ".join(done.created) or "nothing new (already there)"
    print(f"Demo: dataset {done.dataset}, model {done.model}, dashboard {done.dashboard}; "
          f"created {made}.")  # fmt: skip
    return 0


def _install_apps(folder: str, *, overwrite: bool) -> int:
    from .apps import install, names

    written = install(folder, overwrite=overwrite)
    for path in written:
        print(f"  {path}")
    kept = len(names()) - len(written)
    print(
        f"{len(written)} app(s) written to {folder}"
        + (f", {kept} kept as they were." if kept else ".")
    )
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


def _db(config: StoreConfig, args: argparse.Namespace) -> int:
    engine = db.make_engine(config.resolved_database_url)
    try:
        if args.db_command == "upgrade":
            db.upgrade(engine, args.revision)
            print(f"Schema at revision {db.current_revision(engine)}.")
        else:
            print(db.current_revision(engine) or "(empty database)")
    finally:
        engine.dispose()
    return 0


def _open(config: StoreConfig) -> Store:
    """The store, for maintenance: never binds a new storage to the database given."""
    from .core.store import Store

    return Store(config, adopt_new_storage=False)


def _sweep(config: StoreConfig, min_age: float) -> int:
    from .core.maintenance import sweep

    with _open(config) as store:
        if not store.bound:
            print("Nothing to sweep: neither the database nor the storage holds anything yet.")
            return 0
        report = sweep(store, min_age)
    print(f"Removed {len(report.removed)} orphaned file(s).")
    for key in report.removed:
        print(f"  {key}")
    if report.folders:
        print(f"Removed {len(report.folders)} empty folder(s).")
    if report.in_flight:
        print(f"Left {report.in_flight} temporary file(s) of writes still in progress.")
    return 0


def _verify(config: StoreConfig, tenant: str | None) -> int:
    with _open(config) as store:
        report = store.verify(tenant)
    for problem in report.problems:
        print(problem)
    missing = sum(p.issue == "missing" for p in report.problems)
    print(
        f"Checked {report.checked} stored file(s): {missing} missing, "
        f"{len(report.problems) - missing} corrupted."
    )
    return 0 if report.ok else 1


def _compile_models(config: StoreConfig, tenant: str | None, *, recompile: bool) -> int:
    """Compile every version still served by scikit-learn, its compiled file missing or of an
    older layout (or every version); one line each.
    Acts as an admin of each tenant named ``astralytiq-cli`` in the audit log."""
    from sqlalchemy import select

    from .core.compiled import unavailable_note
    from .core.models import ModelRecord, ModelVersionRecord, TenantRecord
    from .core.permissions import Principal, Role

    unavailable = unavailable_note()
    if unavailable is not None:
        print(f"error: {unavailable}", file=sys.stderr)
        return 1
    failures = 0
    with _open(config) as store:
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
            if recompile or key is None or not _compiled_is_current(store, key)
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


def _compiled_is_current(store: Store, key: str) -> bool:
    """Whether the compiled file ``key`` is there and of the current layout."""
    from .core.compiled import is_current
    from .core.errors import FileMissing

    try:
        return is_current(store.storage.read_bytes(key, label="a compiled model"))
    except FileMissing:
        return False


if __name__ == "__main__":
    sys.exit(main())
