"""LocalBackend: the core services in-process, acting as one principal.

Used in plain Python, tests and standalone Voila. The principal is the local OS user, admin
of tenant ``default`` unless told otherwise.
"""

from __future__ import annotations

import getpass
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.config import StoreConfig
from ..core.permissions import Principal, Role
from ..core.store import Store

if TYPE_CHECKING:
    import pandas as pd

    from ..core.aggregate import Aggregate
    from ..core.audit import AuditEvent
    from ..core.dashboards import Dashboard
    from ..core.dataset_versions import DatasetSummary, DatasetVersion
    from ..core.model_versions import AliasMove, ModelSummary, ModelVersion
    from ..core.profiling import Profile
    from ..core.recipebook import SavedRecipe
    from ..core.recipes import Recipe, RecipePreview
    from ..core.tenancy import Member, Tenant
    from ..core.training import TrainingProgress, TrainingResult, TrainingSpec


class _Service:
    """A store service looked up on use: importing the package and connecting stay light
    (the ML stack is imported only by the first call that needs it)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return getattr(obj._store, self.name)


class LocalDatasets:
    """``ws.datasets`` on the local store."""

    _service = _Service("datasets")

    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self._principal = principal

    def ingest(
        self,
        source: Any,
        name: str,
        *,
        format: str | None = None,
        filename: str | None = None,
        description: str | None = None,
        note: str = "",
        progress: Callable[[int, int | None], None] | None = None,
        force: bool = False,
        **read_options: Any,
    ) -> DatasetVersion:
        """Read a file, URL, upload, DataFrame or ``SqlSource`` into a new version of ``name``
        (or, when the latest version holds the same content, return it with ``reused=True``
        unless ``force``)."""
        return self._service.ingest(
            self._principal,
            source,
            name,
            format=format,
            filename=filename,
            description=description,
            note=note,
            progress=progress,
            force=force,
            **read_options,
        )

    def save(
        self,
        df: pd.DataFrame,
        name: str,
        *,
        parent: str | None = None,
        recipe: list[dict[str, Any]] | None = None,
        note: str = "",
        description: str | None = None,
        force: bool = False,
    ) -> DatasetVersion:
        """Store a DataFrame as a new version of ``name`` (with lineage when derived), or
        return the latest version with ``reused=True`` when it holds the same data and lineage
        (unless ``force``). See :mod:`astralytiq_jupyter.core.frames` for what is stored."""
        return self._service.save(
            self._principal,
            df,
            name,
            parent=parent,
            recipe=recipe,
            note=note,
            description=description,
            force=force,
        )

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DatasetSummary]:
        return self._service.list(self._principal, search=search, limit=limit, offset=offset)

    def get(self, ref: str) -> DatasetVersion:
        return self._service.get(self._principal, ref)

    def versions(self, name: str) -> list[DatasetVersion]:
        return self._service.versions(self._principal, name)

    def load(
        self,
        ref: str,
        *,
        columns: list[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Rows of a version: all, some ``columns``, or ``limit`` rows from row ``offset``."""
        return self._service.load(self._principal, ref, columns=columns, limit=limit, offset=offset)

    def delete(self, name: str, version: int | None = None) -> int:
        return self._service.delete(self._principal, name, version)

    def profile(self, ref: str, **options: Any) -> Profile:
        """EDA and quality report of a version (exact statistics on all rows)."""
        return self._service.profile(self._principal, ref, **options)

    def sample(
        self,
        ref: str,
        n: int = 5000,
        *,
        columns: list[str] | None = None,
        seed: int = 0,
        filters: list[dict[str, Any]] | None = None,
    ) -> pd.DataFrame:
        """A uniform random sample of ``n`` rows of a version (all rows if fewer) among the
        rows meeting ``filters`` (conditions as in recipes)."""
        return self._service.sample(
            self._principal, ref, n, columns=columns, seed=seed, filters=filters
        )

    def aggregate(self, ref: str, query: dict[str, Any]) -> Aggregate:
        """Groups, time buckets and metrics of a version, computed next to the data."""
        return self._service.aggregate(self._principal, ref, query)

    def explore_clusters(
        self,
        ref: str,
        *,
        columns: Sequence[str] | None = None,
        k_range: Sequence[int] = range(2, 11),
        sample: int = 5000,
        random_state: int = 0,
    ) -> dict[str, Any]:
        """K-means elbow, silhouettes and a 2-D PCA view of a version's numeric columns."""
        return self._service.explore_clusters(
            self._principal,
            ref,
            columns=columns,
            k_range=k_range,
            sample=sample,
            random_state=random_state,
        )


class LocalRecipes:
    """``ws.recipes``: saved cleaning recipes and applying them to dataset versions."""

    _book = _Service("recipes")

    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self._principal = principal

    def apply(
        self,
        recipe: Recipe | list[dict[str, Any]] | str,
        dataset: str,
        *,
        save_as: str | None = None,
        note: str = "",
        progress: Callable[..., None] | None = None,
    ) -> DatasetVersion:
        """Run a recipe (object, steps or saved name) on a version; store the result as a new
        version with lineage."""
        return self._book.apply(
            self._principal, recipe, dataset, save_as=save_as, note=note, progress=progress
        )

    def preview(
        self,
        recipe: Recipe | list[dict[str, Any]] | str,
        dataset: str,
        *,
        rows: int = 1000,
        head: int = 5,
    ) -> RecipePreview:
        """Run a recipe on the first ``rows`` rows and report each step (with the first
        ``head`` rows of its result); nothing is stored."""
        return self._book.preview(self._principal, recipe, dataset, rows=rows, head=head)

    def save(
        self,
        name: str,
        recipe: Recipe | list[dict[str, Any]] | str,
        *,
        description: str | None = None,
    ) -> SavedRecipe:
        return self._book.save(self._principal, name, recipe, description=description)

    def get(self, name: str) -> SavedRecipe:
        return self._book.get(self._principal, name)

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[SavedRecipe]:
        return self._book.list(self._principal, search=search, limit=limit, offset=offset)

    def delete(self, name: str) -> None:
        self._book.delete(self._principal, name)


class LocalModels:
    """``ws.models``: the model registry, prediction and batch scoring."""

    _registry = _Service("models")

    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self._principal = principal

    def register(self, name: str, trained: Any, **metadata: Any) -> ModelVersion:
        """Register a training result (or a fitted estimator with ``task``, ``algorithm`` and
        ``signature``) as the next version of ``name``."""
        return self._registry.register(self._principal, name, trained, **metadata)

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ModelSummary]:
        return self._registry.list(self._principal, search=search, limit=limit, offset=offset)

    def get(self, ref: str) -> ModelVersion:
        return self._registry.get(self._principal, ref)

    def versions(self, name: str) -> list[ModelVersion]:
        return self._registry.versions(self._principal, name)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        return self._registry.set_alias(self._principal, name, alias, version)

    def remove_alias(self, name: str, alias: str) -> None:
        self._registry.remove_alias(self._principal, name, alias)

    def alias_history(self, name: str) -> list[AliasMove]:
        return self._registry.alias_history(self._principal, name)

    def predict(self, ref: str, df: pd.DataFrame) -> pd.DataFrame:
        return self._registry.predict(self._principal, ref, df)

    def score(self, model: str, dataset: str, save_as: str, *, note: str = "") -> DatasetVersion:
        """Batch-score a dataset version; predictions become a new dataset version."""
        return self._registry.score_dataset(self._principal, model, dataset, save_as, note=note)

    def load(self, ref: str) -> Any:
        """The fitted scikit-learn estimator of a version (verified and trusted-types checked)."""
        return self._registry.load(self._principal, ref)[1]

    def delete(self, name: str, version: int | None = None) -> int:
        return self._registry.delete(self._principal, name, version)


class LocalTraining:
    """``ws.train`` and ``ws.compare``: the ML engine on the tenant's dataset versions."""

    _runs = _Service("training")

    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self._principal = principal

    def train(
        self,
        dataset: str,
        spec: TrainingSpec | dict[str, Any] | None = None,
        *,
        progress: Callable[[TrainingProgress], None] | None = None,
        cancel: threading.Event | None = None,
        **options: Any,
    ) -> TrainingResult:
        return self._runs.train(
            self._principal, dataset, spec, progress=progress, cancel=cancel, **options
        )

    def compare(
        self,
        dataset: str,
        spec: TrainingSpec | dict[str, Any] | None = None,
        *,
        progress: Callable[[TrainingProgress], None] | None = None,
        cancel: threading.Event | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        return self._runs.compare(
            self._principal, dataset, spec, progress=progress, cancel=cancel, **options
        )


class LocalTenant:
    """``ws.tenant``: settings, branding, members and usage of the current tenant."""

    _service = _Service("tenants")

    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self._principal = principal

    def info(self) -> Tenant:
        return self._service.get(self._principal)

    def update(self, **changes: Any) -> Tenant:
        return self._service.update(self._principal, **changes)

    def members(self) -> list[Member]:
        return self._service.members(self._principal)

    def add_member(self, username: str, role: str | Role) -> Member:
        return self._service.add_member(self._principal, username, role)

    def set_role(self, username: str, role: str | Role) -> Member:
        return self._service.set_role(self._principal, username, role)

    def remove_member(self, username: str) -> None:
        self._service.remove_member(self._principal, username)

    def usage(self) -> dict[str, Any]:
        return self._service.usage(self._principal)


class LocalAudit:
    """``ws.audit``: the tenant's audit log (admins)."""

    _log = _Service("audit")

    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self._principal = principal

    def list(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        outcome: str | None = None,
        resource: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEvent]:
        return self._log.list(
            self._principal,
            action=action,
            actor=actor,
            outcome=outcome,
            resource=resource,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )


class LocalDashboards:
    """``ws.dashboards``: dashboard specs of the tenant."""

    _service = _Service("dashboards")

    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self._principal = principal

    def save(self, spec: dict[str, Any], *, expected_revision: int | None = None) -> Dashboard:
        """Create or replace the dashboard named ``spec['name']`` (validated first)."""
        return self._service.save(self._principal, spec, expected_revision=expected_revision)

    def get(self, name: str) -> Dashboard:
        return self._service.get(self._principal, name)

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Dashboard]:
        return self._service.list(self._principal, search=search, limit=limit, offset=offset)

    def delete(self, name: str) -> None:
        self._service.delete(self._principal, name)

    def publish(self, name: str) -> str:
        """The shareable Voila address of a saved dashboard."""
        return self._service.publish(self._principal, name)


class LocalBackend:
    """Core services in-process on a :class:`Store`, as one :class:`Principal`."""

    def __init__(
        self,
        store: Store,
        principal: Principal,
        *,
        owns_store: bool = False,
    ) -> None:
        self.store = store
        self.me = principal
        self._owns_store = owns_store
        self.datasets = LocalDatasets(store, principal)
        self.recipes = LocalRecipes(store, principal)
        self.models = LocalModels(store, principal)
        self.training = LocalTraining(store, principal)
        self.tenant = LocalTenant(store, principal)
        self.audit = LocalAudit(store, principal)
        self.dashboards = LocalDashboards(store, principal)

    @classmethod
    def open(
        cls,
        home: str | Path | None = None,
        *,
        user: str | None = None,
        tenant: str | None = None,
        config: StoreConfig | None = None,
    ) -> LocalBackend:
        """Open the embedded store and act as ``user`` (default: the OS user).

        The first user of the ``default`` tenant is bootstrapped as its admin; in any other
        tenant the user must already be a member.
        """
        if config is None:
            config = StoreConfig(home=Path(home)) if home is not None else StoreConfig()
        store = Store(config)
        try:
            user = user or getpass.getuser()
            tenant = tenant or config.default_tenant
            if tenant == config.default_tenant:
                store.ensure_tenant(tenant, "Default workspace")
                role = store.ensure_member(tenant, user, Role.ADMIN)
            else:
                found = store.member_role(tenant, user)
                if found is None:
                    from ..core.errors import NotFound

                    raise NotFound(f"Tenant {tenant!r} not found (or {user!r} is not a member).")
                role = found
            principal = Principal(user=user, tenant=tenant, role=role, via="local")
        except BaseException:
            store.close()
            raise
        return cls(store, principal, owns_store=True)

    def as_principal(self, principal: Principal) -> LocalBackend:
        """The same store acting as someone else (tests, the server extension)."""
        return LocalBackend(self.store, principal)

    def close(self) -> None:
        if self._owns_store:
            self.store.close()
