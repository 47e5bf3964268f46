"""The ``AstralytiQ`` ExtensionApp: configuration, the shared store, identity, the routes,
and what kernels and Voila pages need to act as their users (``kernels.py``)."""

from __future__ import annotations

import asyncio
import gc
import getpass
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.services.contents.fileio import FileManagerMixin
from jupyter_server.utils import url_path_join
from tornado.ioloop import PeriodicCallback
from traitlets import Bool, Float, Integer, List, Type, Unicode, default

from ..core.config import MB, StoreConfig, default_home
from ..core.limits import DEFAULT_JSON_LIMITS
from ..core.maintenance import sweep
from ..core.permissions import Role
from ..core.store import Store
from ..core.workspace_files import WorkspaceFiles
from .admission import TenantGate
from .apps import APPS_PATH, app_handlers
from .base import UnknownPathHandler
from .identity import PrincipalResolver
from .kernels import ENV_URL, PROVISIONER, KernelCredentials
from .operations import API_PREFIX
from .routes import api_routes


def _local_path(url: str) -> str | None:
    """The local file or directory behind a storage or SQLite URL, if there is one."""
    if url.startswith("sqlite:"):
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        return database if database and database != ":memory:" else None
    if "://" not in url:
        return url
    return url[len("file://") :] if url.startswith("file://") else None


def _under_jupyterhub() -> bool:
    return bool(os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or os.environ.get("JUPYTERHUB_API_URL"))


class AstralytiQ(ExtensionApp):
    """Configured as ``c.AstralytiQ.<trait>`` in any Jupyter server config file."""

    name = "astralytiq"
    load_other_extensions = True

    home = Unicode(help="Store home: SQLite file and default storage live here.").tag(config=True)
    database_url = Unicode(
        None,
        allow_none=True,
        help="SQLAlchemy URL of the metadata database (default: SQLite under home). A shared "
        "database must be migrated with `astralytiq db upgrade` first.",
    ).tag(config=True)
    storage_url = Unicode(
        None, allow_none=True, help="Local path or fsspec URL of the byte storage."
    ).tag(config=True)
    max_upload_bytes = Integer(1024 * MB, help="Largest upload accepted, in bytes.").tag(
        config=True
    )
    max_json_bytes = Integer(
        DEFAULT_JSON_LIMITS.max_bytes,
        help="Largest JSON document stored as metadata (recipe, dashboard, settings, model "
        "metadata) or taken as a JSON request body, in bytes.",
    ).tag(config=True)
    max_json_depth = Integer(
        DEFAULT_JSON_LIMITS.max_depth,
        help="Deepest nesting of JSON metadata and JSON request bodies accepted.",
    ).tag(config=True)
    max_artifact_unpacked_bytes = Integer(
        256 * MB,
        help="Most bytes an uploaded skops model artifact (a zip file) may unpack to.",
    ).tag(config=True)
    url_import_allowlist = List(
        Unicode(), help="Hosts or CIDRs URL imports may reach despite being private."
    ).tag(config=True)
    trusted_model_types = List(
        Unicode(),
        default_value=None,
        allow_none=True,
        help="Types a model artifact may contain (default: the engine's list of scikit-learn "
        "estimators). Never read from the artifact itself.",
    ).tag(config=True)
    compile_models = Bool(
        True,
        help="Compile registered models to ONNX for serving; a compiled version is used only "
        "after it reproduces scikit-learn's predictions on example rows.",
    ).tag(config=True)
    predict_cache_seconds = Float(
        2.0,
        help="How long a model ref's resolution (an alias's target) is reused for predict. "
        "This server applies its own alias moves at once; other servers' within this time.",
    ).tag(config=True)
    workspace_file_import = Bool(
        True,
        help="Let Jupyter users of this server import files of the Jupyter workspace by path "
        "(regular, visible files inside the contents root, symlinks resolved). Platform-token "
        "callers never may; False refuses server-side paths to everyone.",
    ).tag(config=True)
    sql_import_allowlist = List(
        Unicode(),
        help="SQLAlchemy URLs (the password may be left out) of databases that API callers "
        "may import from; a request matches an entry on driver, host, port and database. "
        "Empty: SQL import through the API is off.",
    ).tag(config=True)
    predict_threads = Integer(
        0,
        help="Worker threads for predictions on the scikit-learn runtime too large to answer "
        "on the event loop (0: one per CPU). Requests beyond them queue in arrival order, "
        "which keeps tail latency close to the median under load.",
    ).tag(config=True)
    compiled_predict_threads = Integer(
        1,
        help="Worker threads for large predictions on compiled models. The compiled runtime "
        "already spreads one batch over every core, so more workers only make batches "
        "compete for them (measured on 2 cores: 1 worker gives 30-40% more throughput than 2).",
    ).tag(config=True)
    long_request_threads = Integer(
        8,
        help="Worker threads for long requests (ingest, uploads, downloads, profiles, clusters, "
        "samples, aggregations, recipe previews and applications, model registration, "
        "artifact downloads, batch scoring), apart from short requests and /health.",
    ).tag(config=True)
    long_requests_per_tenant = Integer(
        2,
        help="Long requests one tenant may have running at once; more wait their turn in "
        "arrival order (see long_request_queue).",
    ).tag(config=True)
    long_request_queue = Integer(
        16,
        help="Long requests of one tenant that may wait for a turn; beyond them a request is "
        "refused at once with 429 and Retry-After.",
    ).tag(config=True)
    freeze_gc = Bool(
        True,
        help="Exempt the objects alive once the server has started from garbage collection "
        "(gc.freeze), which keeps full collections from stalling requests for ~100 ms.",
    ).tag(config=True)
    default_tenant = Unicode("default", help="Tenant of the server owner.").tag(config=True)
    usage_flush_seconds = Float(
        5.0, help="How often counted API calls are written to the database."
    ).tag(config=True)
    temp_cleanup_seconds = Float(
        3600.0,
        help="Remove temporary files left by crashed writes once they are this old (and the "
        "empty folders of the storage layout), at start and then as often. A temporary file "
        "that a live writer holds is never removed; committed files are left to "
        "`astralytiq sweep`. 0: only `astralytiq sweep` removes them.",
    ).tag(config=True)
    owner = Unicode(help="Username bootstrapped as admin of the default tenant.").tag(config=True)
    bootstrap_owner = Bool(
        help="Make the owner admin of the default tenant at start (default: on a single-user "
        "server, not under JupyterHub)."
    ).tag(config=True)
    owner_fallback = Bool(
        None,
        allow_none=True,
        help="Treat any authenticated caller who is not in the member table as the owner. "
        "Default: only with jupyter_server's own token/password identity, where anyone who "
        "authenticates holds the owner's credentials.",
    ).tag(config=True)
    platform_owners = List(
        Unicode(),
        help="Usernames that may create tenants (default: the owner, when not under JupyterHub).",
    ).tag(config=True)
    tenant_group_prefix = Unicode(
        "astralytiq-tenant-", help="JupyterHub group prefix naming a user's tenant."
    ).tag(config=True)
    role_group_prefix = Unicode(
        "astralytiq-role-", help="JupyterHub group prefix naming a user's role."
    ).tag(config=True)
    platform_owner_group = Unicode(
        "astralytiq-platform-owners", help="JupyterHub group whose members may create tenants."
    ).tag(config=True)
    principal_resolver_class = Type(
        PrincipalResolver,
        klass=PrincipalResolver,
        help="Maps jupyter_server users to principals (user, tenant, role).",
    ).tag(config=True)
    dashboard_app = Unicode(
        "",
        help="Path of a dashboard app notebook relative to the Jupyter contents root: "
        "published dashboards open at {base_url}voila/render/<this>?name=<dashboard>. Empty "
        "(default): the packaged app, {base_url}astralytiq/apps/dashboard.ipynb?name=..., "
        "which needs no file in the workspace.",
    ).tag(config=True)
    set_kernel_env = Bool(
        True,
        help=f"Once listening, set {ENV_URL} (never a credential) in the server's "
        "environment, so that a kernel started without AstralytiQ's kernel provisioner "
        "connects to this API and is refused, rather than opening the embedded store.",
    ).tag(config=True)
    kernel_token_seconds = Float(
        3600.0,
        help="Lifetime of the platform token each kernel gets (a Voila page's kernel acts as "
        "its viewer, any other as the user who started it). A running kernel extends it "
        "while its user is a member; it is revoked when the kernel stops.",
    ).tag(config=True)

    @default("home")
    def _home_default(self) -> str:
        return str(default_home())

    @default("owner")
    def _owner_default(self) -> str:
        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

    @default("bootstrap_owner")
    def _bootstrap_default(self) -> bool:
        return not _under_jupyterhub()

    @default("platform_owners")
    def _platform_owners_default(self) -> list[str]:
        return [] if _under_jupyterhub() else [self.owner]

    @property
    def platform_owner_names(self) -> frozenset[str]:
        return frozenset(self.platform_owners)

    def store_config(self) -> StoreConfig:
        return StoreConfig(
            home=Path(self.home),
            database_url=self.database_url,
            storage_url=self.storage_url,
            max_upload_bytes=self.max_upload_bytes,
            url_import_allowlist=tuple(self.url_import_allowlist),
            sql_import_allowlist=tuple(self.sql_import_allowlist),
            trusted_model_types=(
                tuple(self.trusted_model_types) if self.trusted_model_types is not None else None
            ),
            default_tenant=self.default_tenant,
            compile_models=self.compile_models,
            predict_cache_seconds=self.predict_cache_seconds,
            dashboard_app_url=(
                url_path_join(self.serverapp.base_url, "voila/render", self.dashboard_app)
                if self.dashboard_app
                else url_path_join(self.serverapp.base_url, APPS_PATH, "dashboard.ipynb")
            ),
            max_json_bytes=self.max_json_bytes,
            max_json_depth=self.max_json_depth,
            max_artifact_unpacked_bytes=self.max_artifact_unpacked_bytes,
            workspace_files=self.workspace_files(),
        )

    def workspace_files(self) -> WorkspaceFiles:
        """The rule for server-side files API callers name: the contents manager's root and
        ``allow_hidden``, minus the directories Jupyter and the store keep for themselves."""
        serverapp = self.serverapp
        contents = getattr(serverapp, "contents_manager", None)
        # A contents manager that keeps files elsewhere (a database, object storage) has a
        # root_dir that names no local folder ("/" by default): the server's root is used.
        on_disk = isinstance(contents, FileManagerMixin) and contents.root_dir
        root = contents.root_dir if on_disk else serverapp.root_dir
        excluded = [
            getattr(serverapp, name, None) for name in ("runtime_dir", "config_dir", "data_dir")
        ]
        excluded.append(self.home)
        config = StoreConfig(
            home=Path(self.home), database_url=self.database_url, storage_url=self.storage_url
        )
        for url in (config.resolved_storage_url, config.resolved_database_url):
            local = _local_path(url)
            if local is not None:
                excluded.append(local)
        return WorkspaceFiles(
            root,
            allow_hidden=bool(getattr(contents, "allow_hidden", False)),
            excluded=[p for p in excluded if p],
            enabled=self.workspace_file_import,
        )

    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        """Before any extension loads or kernel manager exists: make this package's kernel
        provisioner the default, and make Voila (when it runs in this server) resolve each
        page's viewer first and load nothing from a CDN, keeping the hooks the deployment
        configured."""
        super()._link_jupyter_server_extension(serverapp)
        # Kernels get their identity from this package's provisioner (kernels.py). Server
        # config files of the ``.d`` folders only enable extensions, so it is chosen here,
        # before the kernel managers exist, unless the deployment chose another.
        factory = serverapp.config.KernelProvisionerFactory
        if "default_provisioner_name" in factory or os.environ.get(
            "JUPYTER_DEFAULT_PROVISIONER_NAME"
        ):
            self.log.warning(
                "A default kernel provisioner is configured: kernels it starts get no "
                "AstralytiQ credentials unless it is %r.",
                PROVISIONER,
            )
        else:
            factory.default_provisioner_name = PROVISIONER
        voila = serverapp.config.VoilaConfiguration
        configured = voila.get("prelaunch_hook") if "prelaunch_hook" in voila else None

        def prelaunch_hook(handler: Any, notebook: Any, cwd: str) -> Any:
            self.kernel_credentials.voila_prelaunch(handler, notebook, cwd)
            # Reading the token sets the _xsrf cookie (Voila's page handler never does): the
            # page sends it when it is left, so that its kernel (and token) stop at once
            # instead of a 403 that leaves the kernel running until culled.
            _ = handler.xsrf_token
            if callable(configured):
                return configured(handler, notebook=notebook, cwd=cwd)
            return None

        voila.prelaunch_hook = prelaunch_hook
        configured_page = voila.get("page_config_hook") if "page_config_hook" in voila else None

        def page_config_hook(page_config: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            # Null MathJax settings make Voila's front-end use the MathJax it bundles
            # instead of fetching it from a CDN (a page offline logs a console error).
            page_config.update(fullMathjaxUrl=None, mathjaxConfig=None)
            if callable(configured_page):
                return configured_page(page_config, **kwargs)
            return page_config

        voila.page_config_hook = page_config_hook

    def initialize_settings(self) -> None:
        self.store = Store(self.store_config())
        if self.bootstrap_owner:
            self.store.ensure_tenant(self.default_tenant, "Default workspace")
            self.store.ensure_member(self.default_tenant, self.owner, Role.ADMIN)
        if self.owner_fallback is None:
            provider = type(self.serverapp.identity_provider)
            self.owner_fallback = provider in (IdentityProvider, PasswordIdentityProvider)
        self.resolver = self.principal_resolver_class(self)
        self.predict_executor = ThreadPoolExecutor(
            max_workers=self.predict_threads or os.cpu_count() or 1,
            thread_name_prefix="astralytiq-predict",
        )
        self.compiled_executor = ThreadPoolExecutor(
            max_workers=max(1, self.compiled_predict_threads),
            thread_name_prefix="astralytiq-predict-onnx",
        )
        self.kernel_credentials = KernelCredentials(self)
        self.long_executor = ThreadPoolExecutor(
            max_workers=max(1, self.long_request_threads), thread_name_prefix="astralytiq-long"
        )
        self.long_gate = TenantGate(self.long_requests_per_tenant, self.long_request_queue)
        self.settings["astralytiq"] = self
        self._env_set: dict[str, str] = {}

    async def cleanup_temp(self) -> None:
        """Remove what crashed writes left (see ``temp_cleanup_seconds``)."""
        try:
            report = await asyncio.to_thread(
                sweep, self.store, self.temp_cleanup_seconds, temp_only=True
            )
        except Exception:  # a storage hiccup must not stop the cleaner
            self.log.exception("Could not remove temporary files of crashed writes; will retry")
            return
        if report.removed or report.folders:
            self.log.info(
                "Removed %d temporary file(s) of crashed writes and %d empty folder(s)",
                len(report.removed),
                len(report.folders),
            )

    async def _flush_usage(self) -> None:
        try:
            await asyncio.to_thread(self.store.usage.flush)
        except Exception:  # a database hiccup must not stop the flusher
            self.log.exception("Could not record API usage; will retry")

    def initialize_handlers(self) -> None:
        self.handlers.extend(route.spec() for route in api_routes())
        self.handlers.extend(app_handlers(self))
        # Last: any other path under the API's prefix answers a JSON 404.
        self.handlers.append((API_PREFIX + r"(?:/.*)?", UnknownPathHandler))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Runs once the server listens: flush API usage periodically, and point kernels
        started from now on at this API."""
        self._usage_flusher = PeriodicCallback(self._flush_usage, self.usage_flush_seconds * 1000)
        self._usage_flusher.start()
        if self.temp_cleanup_seconds > 0:
            self.cleanup_task = asyncio.ensure_future(self.cleanup_temp())
            self._temp_cleaner = PeriodicCallback(
                self.cleanup_temp, self.temp_cleanup_seconds * 1000
            )
            self._temp_cleaner.start()
        if self.freeze_gc:
            import onnxruntime  # noqa: F401 - imported now to be frozen with the rest
        # Everything alive now (the server, scikit-learn, pandas, ONNX Runtime) lives as long
        # as the process. Moving it out of the collector's reach shortens full collections
        # from ~100-200 ms, a stall every request in flight would wait out, to the few
        # milliseconds the request-made objects take.
        self.freeze_long_lived()
        if not self.set_kernel_env:
            return
        # Only the URL: credentials go into each kernel's own environment (kernels.py).
        values = {ENV_URL: self.serverapp.connection_url}
        os.environ.update(values)
        self._env_set = values

    def freeze_long_lived(self) -> None:
        """Collect, then exempt every object alive now from future collections (see
        ``freeze_gc``): called at start and when a model has been loaded into the cache."""
        if self.freeze_gc:
            gc.collect()
            gc.freeze()

    async def stop_extension(self) -> None:
        if getattr(self, "_temp_cleaner", None) is not None:
            self._temp_cleaner.stop()
            await self.cleanup_task  # not past the store's close
        if getattr(self, "_usage_flusher", None) is not None:
            self._usage_flusher.stop()
            await asyncio.to_thread(self.store.usage.flush)
        for key, value in getattr(self, "_env_set", {}).items():
            if os.environ.get(key) == value:
                del os.environ[key]
        for name in ("predict_executor", "compiled_executor", "long_executor"):
            executor = getattr(self, name, None)
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
