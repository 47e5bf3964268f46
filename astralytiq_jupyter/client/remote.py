"""RemoteBackend: the Workspace API over the server extension's REST API.

Each area implements its contract (``client.contracts``) as the local backend does, with the
same return types and exceptions: the server's error body names the core error class, which
is raised again here. DataFrames travel as Parquet; only the bounded frames of a recipe
preview come as JSON (datasets and recipes: ``remote_datasets``, ``remote_recipes``).
Training runs here, in the kernel, on a version downloaded through the API (kernels do the
compute; the server only grants the training slot).
"""

from __future__ import annotations

import io
import json
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import requests

from ..core import errors
from ..core.audit import AuditEvent
from ..core.dashboards import Dashboard
from ..core.dataset_versions import DatasetVersion
from ..core.permissions import Principal, Role
from ..core.tenancy import Member, Quotas, Tenant
from ..core.tokens import ApiToken, IssuedToken
from ..core.training_slots import TrainingSlot, holding
from .remote_datasets import RemoteDatasets
from .remote_recipes import RemoteRecipes
from .session import EXPIRED, NOT_SIGNED_IN, TokenLease
from .wire import from_dict

if TYPE_CHECKING:
    from ..core.model_versions import AliasMove, ModelSummary, ModelVersion
    from ..core.training import TrainingProgress, TrainingResult, TrainingSpec

PARQUET = "application/vnd.apache.parquet"
READ_CHUNK = 1 << 22  # bytes per read of a download


def error_from_reply(status: int, body: Any, where: str) -> errors.AstralytiqError:
    """The core error an API answer of ``status`` with JSON ``body`` stands for (the
    server names the error class by its code; the status is the fallback), read from the
    one table of ``core.errors``."""
    body = body if isinstance(body, dict) else {}
    cls = errors.error_class(body.get("error"), status)
    message = body.get("message") or f"HTTP {status} from {where}"
    detail = body.get("detail")
    return cls(message, **(detail if isinstance(detail, dict) else {}))


def _frame_bytes(df: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), sink)
    return sink.getvalue()


class RemoteClient:
    """HTTP plumbing: base URL, credentials (a kernel's token is extended before it runs out:
    ``session.TokenLease``), error translation."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        tenant: str | None = None,
        timeout: float = 300.0,
        expires_at: float | None = None,
    ) -> None:
        self.base = url.rstrip("/") + "/astralytiq/api"
        self.session = requests.Session()
        self.signed_in = bool(token)
        if token:
            scheme = "Bearer" if token.startswith("aqt_") else "token"
            self.session.headers["Authorization"] = f"{scheme} {token}"
        if tenant:
            self.session.headers["X-AstralytiQ-Tenant"] = tenant
        self.timeout = timeout
        self.lease = TokenLease(token, expires_at) if token and expires_at else None

    def url(self, *parts: str | int) -> str:
        return self.base + "".join("/" + quote(str(p), safe="@") for p in parts)

    def request(self, method: str, *parts: str | int, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        if self.lease is not None and self.lease.due():
            self.lease.renew(self.session, self.url("session"), min(self.timeout, 30.0))
        response = self.session.request(method, self.url(*parts), **kwargs)
        if response.status_code >= 400:
            raise self._error(response)
        return response

    def body(self, method: str, *parts: str | int, **kwargs: Any) -> bytes:
        """The whole response body, read in one piece: ``response.content`` gathers it in
        10 kB blocks, which costs as much as parsing a large download."""
        with self.request(method, *parts, stream=True, **kwargs) as response:
            return response.raw.read(decode_content=True)

    def buffer(self, method: str, *parts: str | int, **kwargs: Any) -> pa.Buffer:
        """The response body in an Arrow buffer, read into memory from Arrow's pool: it
        reuses what earlier downloads freed, where a fresh allocation of a large body costs
        about as much in page faults as receiving it."""
        with self.request(method, *parts, stream=True, **kwargs) as response:
            length = response.headers.get("Content-Length", "")
            if not length.isdigit() or response.headers.get("Content-Encoding"):
                return pa.py_buffer(response.raw.read(decode_content=True))
            size = int(length)
            buffer = pa.allocate_buffer(size)
            view = memoryview(buffer).cast("B")
            done = 0
            while done < size:
                chunk = response.raw.read(min(size - done, READ_CHUNK))
                if not chunk:
                    raise requests.ConnectionError(
                        f"The download from {response.url} ended after {done} of {size} bytes."
                    )
                view[done : done + len(chunk)] = chunk
                done += len(chunk)
            return buffer

    def json(self, method: str, *parts: str | int, **kwargs: Any) -> Any:
        response = self.request(method, *parts, **kwargs)
        return response.json() if response.content else None

    def items(self, *parts: str | int, **params: Any) -> list[dict[str, Any]]:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.json("GET", *parts, params=clean)["items"]

    def _error(self, response: requests.Response) -> errors.AstralytiqError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = error_from_reply(response.status_code, body, response.url)
        if response.status_code == 403:
            # Without credentials every request is refused before any role check.
            if not self.signed_in:
                error = type(error)(NOT_SIGNED_IN)
            elif self.lease is not None and self.lease.expired():
                error = type(error)(EXPIRED)
        return error

    def close(self) -> None:
        self.session.close()


def _model_versions() -> types.ModuleType:
    """``core.model_versions``, imported on first use: it brings the ML stack (skops,
    scikit-learn), which a kernel that never touches models (a Voila page opening on its
    datasets) should not load."""
    from ..core import model_versions

    return model_versions


class RemoteModels:
    """``ws.models`` over HTTP: artifacts go up as skops files, frames as Parquet."""

    def __init__(self, client: RemoteClient) -> None:
        self._c = client

    def register(self, name: str, trained: Any, **metadata: Any) -> ModelVersion:
        """Serialise the estimator with skops here and upload it with its metadata; a
        training result brings its own metadata, as with the local backend."""
        from ..core import artifacts
        from ..core.model_versions import EXAMPLE_ROWS, registration_metadata
        from ..core.training import TrainingResult

        meta = {k: v for k, v in metadata.items() if v is not None}
        model = trained
        if isinstance(trained, TrainingResult):
            model = trained.model
            defaults = registration_metadata(trained)
            meta = {**{k: v for k, v in defaults.items() if v}, **meta}
        if meta.get("dataset") and meta.get("recipe") is None:
            meta["recipe"] = self._c.json("GET", "datasets", meta["dataset"]).get("recipe")
        meta.setdefault("library_versions", artifacts.library_versions())
        example = meta.get("input_example")
        if isinstance(example, pd.DataFrame):
            # Records, as the server verifies a compilation on (dates travel as ISO text).
            meta["input_example"] = json.loads(
                example.head(EXAMPLE_ROWS).to_json(orient="records", date_format="iso")
            )
        data = artifacts.dump_model(model)
        files = {"artifact": (f"{name}.skops", data, "application/octet-stream")}
        form = {"metadata": json.dumps(artifacts.json_safe(meta))}
        return from_dict(
            _model_versions().ModelVersion,
            self._c.json("POST", "models", name, "versions", files=files, data=form),
        )

    def get(self, ref: str) -> ModelVersion:
        return from_dict(_model_versions().ModelVersion, self._c.json("GET", "models", ref))

    def versions(self, name: str) -> list[ModelVersion]:
        return [
            from_dict(_model_versions().ModelVersion, d)
            for d in self._c.json("GET", "models", name, "versions")
        ]

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        return from_dict(
            _model_versions().ModelVersion,
            self._c.json("PUT", "models", name, "aliases", alias, json={"version": version}),
        )

    def remove_alias(self, name: str, alias: str) -> None:
        self._c.request("DELETE", "models", name, "aliases", alias)

    def alias_history(self, name: str) -> list[AliasMove]:
        data = self._c.json("GET", "models", name, "aliases")
        return [from_dict(_model_versions().AliasMove, d) for d in data["history"]]

    def predict(self, ref: str, df: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(df, pd.DataFrame):
            raise errors.Invalid("predict() takes a pandas DataFrame of input rows.")
        response = self._c.request(
            "POST",
            "models",
            ref,
            "predict",
            data=_frame_bytes(df),
            headers={"Content-Type": PARQUET, "Accept": PARQUET},
        )
        return pq.read_table(pa.BufferReader(response.content)).to_pandas()

    def score(self, model: str, dataset: str, save_as: str, *, note: str = "") -> DatasetVersion:
        """Batch-score a dataset version on the server; predictions become a new version."""
        body = {"dataset": dataset, "save_as": save_as, "note": note}
        return from_dict(DatasetVersion, self._c.json("POST", "models", model, "score", json=body))

    def load(self, ref: str) -> Any:
        """The fitted scikit-learn estimator of a version: the artifact is downloaded, checked
        against the registry's SHA-256 of the version and loaded here trusting the types the
        server trusts in it (its configured list, never types read from the artifact), so it
        loads here exactly when it would load on the server."""
        from ..core import artifacts

        version = self.get(ref)  # pins an alias or "latest" to one version
        response = self._c.request("GET", "models", version.ref, "artifact")
        trusted = json.loads(response.headers.get(artifacts.TRUSTED_TYPES_HEADER) or "[]")
        return artifacts.load_model(
            response.content, trusted=trusted, expected_sha256=version.sha256
        )

    def delete(self, name: str, version: int | None = None) -> int:
        ref = f"{name}@{int(version)}" if version is not None else name
        return self._c.json("DELETE", "models", ref)["deleted_versions"]

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ModelSummary]:
        items = self._c.items("models", search=search, limit=limit, offset=offset)
        return [from_dict(_model_versions().ModelSummary, d) for d in items]


class RemoteTraining:
    """``ws.train`` and ``ws.compare`` with a remote store: the dataset version comes over the
    API and the ML engine runs here, in the kernel (kernels do the compute). The server
    grants the training slot (permission, the tenant's concurrent-training quota across
    kernels and servers, audit), as it does for the local backend; the slot is renewed while
    the training runs and released after. Register the result with ``ws.models.register``."""

    def __init__(self, backend: RemoteBackend) -> None:
        self._backend = backend

    def train(
        self,
        dataset: str,
        spec: TrainingSpec | Mapping[str, Any] | None = None,
        *,
        progress: Callable[[TrainingProgress], None] | None = None,
        cancel: threading.Event | None = None,
        **options: Any,
    ) -> TrainingResult:
        """Train and compare models on a dataset version; the result records the version."""
        from ..core.training import train as train_models

        version = self._backend.datasets.get(dataset)
        with self._slot("model.train", version):
            frame = self._backend.datasets.load(version.ref)
            return train_models(
                frame,
                spec,
                progress=progress,
                cancel=cancel,
                model_columns=version.model_columns,
                **{**options, "dataset": version.ref},
            )

    def compare(
        self,
        dataset: str,
        spec: TrainingSpec | Mapping[str, Any] | None = None,
        *,
        progress: Callable[[TrainingProgress], None] | None = None,
        cancel: threading.Event | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """Only the cross-validated leaderboard, a DataFrame (no tuning, no refit)."""
        from ..core.training import compare as compare_models

        version = self._backend.datasets.get(dataset)
        with self._slot("model.compare", version):
            frame = self._backend.datasets.load(version.ref)
            return compare_models(
                frame,
                spec,
                progress=progress,
                cancel=cancel,
                model_columns=version.model_columns,
                **{**options, "dataset": version.ref},
            )

    @contextmanager
    def _slot(self, action: str, version: DatasetVersion) -> Iterator[TrainingSlot]:
        """Hold a training slot granted by the server (see ``core.training_slots``)."""
        client = self._backend.client
        taken = client.json(
            "POST", "training", "slots", json={"action": action, "dataset": version.ref}
        )
        slot = from_dict(TrainingSlot, taken)
        with holding(
            slot,
            lambda: client.json("PUT", "training", "slots", slot.id),
            lambda: client.request("DELETE", "training", "slots", slot.id),
        ):
            yield slot


class RemoteDashboards:
    """``ws.dashboards`` over HTTP."""

    def __init__(self, client: RemoteClient) -> None:
        self._c = client

    def save(self, spec: dict[str, Any], *, expected_revision: int | None = None) -> Dashboard:
        body: dict[str, Any] = {"spec": spec}
        if expected_revision is not None:
            body["expected_revision"] = expected_revision
        return from_dict(Dashboard, self._c.json("POST", "dashboards", json=body))

    def get(self, name: str) -> Dashboard:
        return from_dict(Dashboard, self._c.json("GET", "dashboards", name))

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Dashboard]:
        items = self._c.items("dashboards", search=search, limit=limit, offset=offset)
        return [from_dict(Dashboard, d) for d in items]

    def delete(self, name: str) -> None:
        self._c.request("DELETE", "dashboards", name)

    def publish(self, name: str) -> str:
        """The shareable Voila address of a saved dashboard."""
        return self._c.json("POST", "dashboards", name, "publish", json={})["url"]


class RemoteTenant:
    """``ws.tenant`` over HTTP."""

    def __init__(self, client: RemoteClient) -> None:
        self._c = client

    def info(self) -> Tenant:
        return _tenant(self._c.json("GET", "tenant"))

    def update(
        self,
        *,
        display_name: str | None = None,
        branding: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        plan: str | None = None,
    ) -> Tenant:
        given = {"display_name": display_name, "branding": branding, "settings": settings}
        changes = {k: v for k, v in {**given, "plan": plan}.items() if v is not None}
        return _tenant(self._c.json("PATCH", "tenant", json=changes))

    def members(self) -> list[Member]:
        return [from_dict(Member, d) for d in self._c.json("GET", "tenant", "members")["items"]]

    def add_member(self, username: str, role: str | Role) -> Member:
        body = {"username": username, "role": Role(role).value if isinstance(role, Role) else role}
        return from_dict(Member, self._c.json("POST", "tenant", "members", json=body))

    def set_role(self, username: str, role: str | Role) -> Member:
        body = {"role": Role(role).value if isinstance(role, Role) else role}
        return from_dict(Member, self._c.json("PATCH", "tenant", "members", username, json=body))

    def remove_member(self, username: str) -> None:
        self._c.request("DELETE", "tenant", "members", username)

    def usage(self) -> dict[str, Any]:
        return self._c.json("GET", "tenant", "usage")


def _tenant(data: dict[str, Any]) -> Tenant:
    return from_dict(Tenant, {**data, "quotas": Quotas(**data["quotas"])})


class RemoteAudit:
    """``ws.audit`` over HTTP."""

    def __init__(self, client: RemoteClient) -> None:
        self._c = client

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
        items = self._c.items(
            "audit",
            action=action,
            actor=actor,
            outcome=outcome,
            resource=resource,
            since=since.isoformat() if since else None,
            until=until.isoformat() if until else None,
            limit=limit,
            offset=offset,
        )
        return [from_dict(AuditEvent, d) for d in items]


class RemoteTokens:
    """``ws.tokens``: platform API tokens of the tenant (admins)."""

    def __init__(self, client: RemoteClient) -> None:
        self._c = client

    def create(
        self, name: str, *, role: str | Role | None = None, expires_in: float | None = None
    ) -> IssuedToken:
        body: dict[str, Any] = {"name": name}
        if role is not None:  # a role name is checked by the server, as for members
            body["role"] = role.value if isinstance(role, Role) else role
        if expires_in is not None:
            body["expires_in"] = expires_in
        data = self._c.json("POST", "tokens", json=body)
        return IssuedToken(from_dict(ApiToken, data), data["token"])

    def list(
        self, *, include_inactive: bool = False, limit: int = 100, offset: int = 0
    ) -> list[ApiToken]:
        inactive = str(include_inactive).lower()
        items = self._c.items("tokens", include_inactive=inactive, limit=limit, offset=offset)
        return [from_dict(ApiToken, d) for d in items]

    def revoke(self, token_id: str) -> None:
        self._c.request("DELETE", "tokens", token_id)


class RemoteBackend:
    """The Workspace API served by a Jupyter server running the AstralytiQ extension."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        tenant: str | None = None,
        timeout: float = 300.0,
        expires_at: float | None = None,
    ) -> None:
        self.client = RemoteClient(
            url, token, tenant=tenant, timeout=timeout, expires_at=expires_at
        )
        self.url = url
        self.datasets = RemoteDatasets(self.client)
        self.recipes = RemoteRecipes(self.client)
        self.models = RemoteModels(self.client)
        self.dashboards = RemoteDashboards(self.client)
        self.tenant = RemoteTenant(self.client)
        self.audit = RemoteAudit(self.client)
        self.tokens = RemoteTokens(self.client)
        self.training = RemoteTraining(self)
        self._me: Principal | None = None

    @property
    def me(self) -> Principal:
        if self._me is None:
            data = self.client.json("GET", "me")
            self._me = Principal(
                user=data["user"],
                tenant=data["tenant"],
                role=Role(data["role"]),
                platform_owner=bool(data.get("platform_owner")),
                display_name=data.get("display_name"),
                via=data.get("via", "remote"),
                extra={"tenant_name": data.get("tenant_name") or ""},
            )
        return self._me

    @property
    def branding(self) -> dict[str, Any]:
        return self.client.json("GET", "me").get("branding") or {}

    def close(self) -> None:
        self.client.close()
