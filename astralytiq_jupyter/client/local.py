"""LocalBackend: the core services in-process, acting as one principal.

Used in plain Python, tests and standalone Voila. The principal is the local OS user, admin
of tenant ``default`` unless told otherwise.

Each operation of the contract (``client.contracts``) is a core service method that takes
the principal first: :func:`_bind` names it once and binds the principal when it is used, so
its signature is the core's and mypy checks it against the contract. The few operations whose
core method differs are written out.
"""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from ..core.config import StoreConfig
from ..core.permissions import Principal, Role
from ..core.store import Store

if TYPE_CHECKING:
    import pandas as pd

    from ..core.dataset_versions import DatasetVersion
    from ..core.model_versions import ModelVersion

P = ParamSpec("P")
R = TypeVar("R")


class _Area:
    """One area of the local backend: the store's services acting as ``principal``."""

    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self._principal = principal


class _Bound(Generic[P, R]):
    """An operation of an area: the core method ``pick(store)`` with the area's principal
    bound as its first argument. The method is looked up on use, so importing the package and
    connecting stay light (the ML stack is imported by the first call that needs it)."""

    def __init__(self, pick: Callable[[Store], Callable[Concatenate[Principal, P], R]]) -> None:
        self._pick = pick

    @overload
    def __get__(self, area: None, owner: type) -> _Bound[P, R]: ...
    @overload
    def __get__(self, area: _Area, owner: type) -> Callable[P, R]: ...
    def __get__(self, area: _Area | None, owner: type) -> _Bound[P, R] | Callable[P, R]:
        if area is None:
            return self
        return functools.partial(self._pick(area._store), area._principal)


_bind = _Bound


class LocalDatasets(_Area):
    """``ws.datasets`` on the local store (``contracts.DatasetsContract``)."""

    ingest = _bind(lambda s: s.datasets.ingest)
    get = _bind(lambda s: s.datasets.get)
    versions = _bind(lambda s: s.datasets.versions)
    load = _bind(lambda s: s.datasets.load)
    delete = _bind(lambda s: s.datasets.delete)
    sample = _bind(lambda s: s.datasets.sample)
    aggregate = _bind(lambda s: s.datasets.aggregate)
    explore_clusters = _bind(lambda s: s.datasets.explore_clusters)
    profile = _bind(lambda s: s.datasets.profile)

    # The core's save also takes the lineage of a batch scoring (``model``), which only the
    # registry gives: the contract's save is the one both backends offer.
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
        return self._store.datasets.save(
            self._principal,
            df,
            name,
            parent=parent,
            recipe=recipe,
            note=note,
            description=description,
            force=force,
        )

    list = _bind(lambda s: s.datasets.list)


class LocalRecipes(_Area):
    """``ws.recipes`` on the local store (``contracts.RecipesContract``)."""

    apply = _bind(lambda s: s.recipes.apply)
    preview = _bind(lambda s: s.recipes.preview)
    save = _bind(lambda s: s.recipes.save)
    get = _bind(lambda s: s.recipes.get)
    delete = _bind(lambda s: s.recipes.delete)
    list = _bind(lambda s: s.recipes.list)


class LocalModels(_Area):
    """``ws.models`` on the local store (``contracts.ModelsContract``)."""

    get = _bind(lambda s: s.models.get)
    versions = _bind(lambda s: s.models.versions)
    set_alias = _bind(lambda s: s.models.set_alias)
    remove_alias = _bind(lambda s: s.models.remove_alias)
    alias_history = _bind(lambda s: s.models.alias_history)
    predict = _bind(lambda s: s.models.predict)
    delete = _bind(lambda s: s.models.delete)
    list = _bind(lambda s: s.models.list)

    # The registry takes each piece of metadata by name; the contract passes them through.
    def register(self, name: str, trained: Any, **metadata: Any) -> ModelVersion:
        return self._store.models.register(self._principal, name, trained, **metadata)

    def score(self, model: str, dataset: str, save_as: str, *, note: str = "") -> DatasetVersion:
        return self._store.models.score_dataset(self._principal, model, dataset, save_as, note=note)

    def load(self, ref: str) -> Any:
        # The registry also returns the version it loaded; the contract gives the estimator.
        return self._store.models.load(self._principal, ref)[1]


class LocalTraining(_Area):
    """``ws.train`` and ``ws.compare`` on the local store (``contracts.TrainingContract``)."""

    train = _bind(lambda s: s.training.train)
    compare = _bind(lambda s: s.training.compare)


class LocalTenant(_Area):
    """``ws.tenant`` on the local store (``contracts.TenantContract``)."""

    info = _bind(lambda s: s.tenants.get)
    update = _bind(lambda s: s.tenants.update)
    members = _bind(lambda s: s.tenants.members)
    add_member = _bind(lambda s: s.tenants.add_member)
    set_role = _bind(lambda s: s.tenants.set_role)
    remove_member = _bind(lambda s: s.tenants.remove_member)
    usage = _bind(lambda s: s.tenants.usage)


class LocalAudit(_Area):
    """``ws.audit`` on the local store (``contracts.AuditContract``)."""

    list = _bind(lambda s: s.audit.list)


class LocalDashboards(_Area):
    """``ws.dashboards`` on the local store (``contracts.DashboardsContract``)."""

    save = _bind(lambda s: s.dashboards.save)
    get = _bind(lambda s: s.dashboards.get)
    delete = _bind(lambda s: s.dashboards.delete)
    publish = _bind(lambda s: s.dashboards.publish)
    list = _bind(lambda s: s.dashboards.list)


class LocalTokens(_Area):
    """``ws.tokens`` on the local store (``contracts.TokensContract``)."""

    create = _bind(lambda s: s.tokens.create)
    list = _bind(lambda s: s.tokens.list)

    def revoke(self, token_id: str) -> None:
        # The service returns the revoked token; over HTTP the answer is empty, so neither is.
        self._store.tokens.revoke(self._principal, token_id)


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
        self.tokens = LocalTokens(store, principal)

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
