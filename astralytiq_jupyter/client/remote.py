"""RemoteBackend: the Workspace API over the server extension's REST API.

Each sub-API mirrors its local counterpart (``LocalDatasets`` -> ``RemoteDatasets``...) with
the same signatures, return types and exceptions: the server's error body names the core
error class, which is raised again here. DataFrames travel as Parquet; only the bounded
frames of a recipe preview come as JSON. Training runs here, in the kernel, on a version
downloaded through the API (kernels do the compute; the server only grants the training slot).
"""

from __future__ import annotations

import io
import json
import os
import threading
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import requests

from ..core import errors, upload_query
from ..core.audit import AuditEvent
from ..core.dashboards import Dashboard
from ..core.datasets import DatasetSummary, DatasetVersion
from ..core.frames import frame_parquet
from ..core.names import parse_ref
from ..core.permissions import Principal, Role
from ..core.recipebook import SavedRecipe
from ..core.tenancy import Member, Quotas, Tenant
from ..core.tokens import ApiToken, IssuedToken
from ..core.training_slots import TrainingSlot, holding
from .session import EXPIRED, NOT_SIGNED_IN, TokenLease

if TYPE_CHECKING:
    from ..core.aggregate import Aggregate
    from ..core.profiling import Profile
    from ..core.recipes import Recipe, RecipePreview
    from ..core.registry import AliasMove, ModelSummary, ModelVersion
    from ..core.training import TrainingProgress, TrainingResult, TrainingSpec

T = TypeVar("T")
PARQUET = "application/vnd.apache.parquet"
CHUNK = 1 << 20  # bytes per read of an upload
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


def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a core dataclass from its ``to_dict()``: ISO times become datetimes, roles
    Roles, nested versions their dataclasses."""
    assert is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is Role:
        return Role(value)
    if isinstance(hint, type) and is_dataclass(hint) and isinstance(value, dict):
        return _from_dict(hint, value)
    return value


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


class RemoteDatasets:
    """``ws.datasets`` over HTTP."""

    def __init__(self, client: RemoteClient) -> None:
        self._c = client

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
        """Upload a file, bytes or DataFrame (streamed), or have the server read a URL or a
        ``SqlSource``."""
        if isinstance(source, str) and source.startswith(("http://", "https://")):
            body = {
                "url": source,
                "format": format,
                "description": description,
                "note": note,
                "read_options": read_options,
                "force": force or None,
            }
            return self._ingest(name, body)
        if type(source).__name__ == "SqlSource" and is_dataclass(source):
            sql = {f.name: getattr(source, f.name) for f in fields(source)}
            return self._ingest(
                name,
                {
                    "sql": sql,
                    "format": format,
                    "description": description,
                    "note": note,
                    "read_options": read_options,
                    "force": force or None,
                },
            )
        query = upload_query.encode(read_options)  # refuses options an upload cannot carry
        if isinstance(source, pd.DataFrame):
            if query:
                raise errors.Invalid("A DataFrame has no read options.", options=sorted(query))
            data: Any = frame_parquet(source)
            format, filename = "parquet", filename or f"{name}.parquet"
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            filename = filename or path.name
            return self._upload(
                name,
                path,
                format=format,
                filename=filename,
                description=description,
                note=note,
                progress=progress,
                force="true" if force else None,
                **query,
            )
        elif isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        elif hasattr(source, "read"):
            data = source.read()
        else:
            raise errors.Invalid(
                f"Cannot ingest a {type(source).__name__}: give a path, URL, "
                "bytes, file object, DataFrame or SqlSource."
            )
        return self._upload(
            name,
            data,
            format=format,
            filename=filename,
            description=description,
            note=note,
            progress=progress,
            force="true" if force else None,
            **query,
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
        (unless ``force``). The frame is converted (and refused) here exactly as the server
        would, so both backends store the same table."""
        if not isinstance(df, pd.DataFrame):
            raise errors.Invalid(
                "save() takes a pandas DataFrame; use ingest() for files and URLs."
            )
        return self._upload(
            name,
            frame_parquet(df),
            mode="save",
            parent=parent,
            recipe=json.dumps(recipe) if recipe is not None else None,
            note=note,
            description=description,
            force="true" if force else None,
        )

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DatasetSummary]:
        items = self._c.items("datasets", search=search, limit=limit, offset=offset)
        return [_from_dict(DatasetSummary, d) for d in items]

    def get(self, ref: str) -> DatasetVersion:
        parse_ref(ref)
        return _from_dict(DatasetVersion, self._c.json("GET", "datasets", ref))

    def versions(self, name: str) -> list[DatasetVersion]:
        return [
            _from_dict(DatasetVersion, d) for d in self._c.json("GET", "datasets", name, "versions")
        ]

    def load(
        self,
        ref: str,
        *,
        columns: list[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Rows of a version: all, some ``columns``, or ``limit`` rows from row ``offset``."""
        parse_ref(ref)
        if isinstance(columns, str):
            columns = [columns]
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise errors.Invalid("limit must be a non-negative whole number of rows.")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise errors.Invalid("offset must be a non-negative whole number of rows.")
        params: dict[str, Any] = {"format": "parquet"}
        if columns is not None:
            params["columns"] = ",".join(columns)
        if limit is not None:
            params["limit"] = limit
        if offset:
            params["offset"] = offset
        table = pq.read_table(
            pa.BufferReader(self._c.buffer("GET", "datasets", ref, "data", params=params))
        )
        if columns is not None and not columns:
            return table.select([]).to_pandas()
        return table.to_pandas()

    def delete(self, name: str, version: int | None = None) -> int:
        ref = f"{name}@{int(version)}" if version is not None else name
        return self._c.json("DELETE", "datasets", ref)["deleted_versions"]

    def profile(self, ref: str, **options: Any) -> Profile:
        """EDA and quality report of a version, computed by the server on all rows."""
        from ..core.profiling import Profile

        return Profile.from_dict(self._c.json("GET", "datasets", ref, "profile", params=options))

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
        from ..core.aggregate import check_sample

        parse_ref(ref)
        check_sample(n, seed)
        params: dict[str, Any] = {"n": n, "seed": seed}
        if columns is not None:
            params["columns"] = ",".join([columns] if isinstance(columns, str) else columns)
        if filters:
            params["filters"] = json.dumps(filters)
        body = self._c.buffer("GET", "datasets", ref, "sample", params=params)
        return pq.read_table(pa.BufferReader(body)).to_pandas()

    def aggregate(self, ref: str, query: dict[str, Any]) -> Aggregate:
        """Groups, time buckets and metrics of a version, computed by the server."""
        from ..core.aggregate import Aggregate

        return Aggregate.from_dict(
            self._c.json("POST", "datasets", ref, "aggregate", json={"query": query})
        )

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
        params: dict[str, Any] = {"sample": sample, "random_state": random_state}
        if columns is not None:
            params["columns"] = columns if isinstance(columns, str) else ",".join(columns)
        if isinstance(k_range, range) and k_range.step == 1 and len(k_range) > 0:
            params.update(k_min=k_range.start, k_max=k_range.stop - 1)
        else:
            params["k"] = ",".join(str(k) for k in k_range)
        return self._c.json("GET", "datasets", ref, "clusters", params=params)

    def _ingest(self, name: str, body: dict[str, Any]) -> DatasetVersion:
        body = {k: v for k, v in body.items() if v not in (None, {}, "")}
        return _from_dict(
            DatasetVersion, self._c.json("POST", "datasets", name, "ingest", json=body)
        )

    def _upload(
        self,
        name: str,
        data: bytes | Path,
        *,
        progress: Callable[[int, int | None], None] | None = None,
        **params: Any,
    ) -> DatasetVersion:
        clean = {k: v for k, v in params.items() if v is not None and (v != "" or k in _KEEP)}
        headers = {"Content-Type": "application/octet-stream"}
        if isinstance(data, Path):
            with data.open("rb") as fh:
                body = _Reader(fh, data.stat().st_size, progress)
                reply = self._c.json(
                    "POST", "datasets", name, "versions", params=clean, data=body, headers=headers
                )
        else:
            body = _Reader(io.BytesIO(data), len(data), progress)
            reply = self._c.json(
                "POST", "datasets", name, "versions", params=clean, data=body, headers=headers
            )
        return _from_dict(DatasetVersion, reply)


# Read options whose empty value means something (an empty delimiter is refused by the
# server rather than silently dropped; null_values lists may hold "").
_KEEP = frozenset(upload_query.QUERY_PARAMETERS)


class _Reader:
    """A sized file-like body (so requests sends Content-Length and streams it in blocks)
    that reports upload progress."""

    def __init__(
        self, fh: IO[bytes], total: int, progress: Callable[[int, int | None], None] | None
    ) -> None:
        self._fh, self._total, self._progress, self._sent = fh, total, progress, 0

    def __len__(self) -> int:
        return self._total

    def read(self, size: int = -1) -> bytes:
        chunk = self._fh.read(CHUNK if size is None or size < 0 else size)
        self._sent += len(chunk)
        if self._progress is not None and chunk:
            self._progress(self._sent, self._total)
        return chunk


class RemoteRecipes:
    """``ws.recipes`` over HTTP."""

    def __init__(self, client: RemoteClient) -> None:
        self._c = client

    def apply(
        self,
        recipe: Recipe | list[dict[str, Any]] | str,
        dataset: str,
        *,
        save_as: str | None = None,
        note: str = "",
        progress: Callable[..., None] | None = None,
    ) -> DatasetVersion:
        """Run a recipe (object, steps or saved name) on a version on the server; the result
        is a new version with lineage. The server runs it in one request, so ``progress`` is
        called once, as the local backend's last call: ``progress(steps, steps, "done")``."""
        body = {"recipe": _steps(recipe), "save_as": save_as, "note": note}
        version = _from_dict(
            DatasetVersion, self._c.json("POST", "datasets", dataset, "apply", json=body)
        )
        if progress is not None:
            total = len(version.recipe or ())
            progress(total, total, "done")
        return version

    def preview(
        self,
        recipe: Recipe | list[dict[str, Any]] | str,
        dataset: str,
        *,
        rows: int = 1000,
        head: int = 5,
    ) -> RecipePreview:
        """Run a recipe on the first ``rows`` rows on the server and report each step (with
        the first ``head`` rows of its result)."""
        body = {"recipe": _steps(recipe), "rows": rows, "head": head}
        return _preview(self._c.json("POST", "datasets", dataset, "preview", json=body))

    def save(
        self,
        name: str,
        recipe: Recipe | list[dict[str, Any]] | str,
        *,
        description: str | None = None,
    ) -> SavedRecipe:
        steps = _steps(recipe)
        if isinstance(steps, str):
            steps = json.loads(steps)
        body = {"steps": steps, "description": description}
        return _from_dict(SavedRecipe, self._c.json("PUT", "recipes", name, json=body))

    def get(self, name: str) -> SavedRecipe:
        return _from_dict(SavedRecipe, self._c.json("GET", "recipes", name))

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[SavedRecipe]:
        items = self._c.items("recipes", search=search, limit=limit, offset=offset)
        return [_from_dict(SavedRecipe, d) for d in items]

    def delete(self, name: str) -> None:
        self._c.request("DELETE", "recipes", name)


def _steps(recipe: Any) -> Any:
    """What the API takes for a recipe: its steps, JSON text or a saved recipe's name."""
    return recipe.to_json() if hasattr(recipe, "to_json") else recipe


def _frame(data: dict[str, Any] | None) -> pd.DataFrame | None:
    """A small frame back from its JSON form (``{"columns", "dtypes", "data"}``), each column
    in its original dtype where the JSON values convert back to it (a category keeps the
    categories it shows; the index is not part of the form)."""
    if data is None:
        return None
    rows = data["data"]
    columns = [[row[i] for row in rows] for i in range(len(data["columns"]))]
    frame = pd.DataFrame(
        {
            i: _column(values, dtype)
            for i, (values, dtype) in enumerate(zip(columns, data["dtypes"], strict=True))
        }
    )
    frame.columns = pd.Index(data["columns"])
    return frame


def _column(values: list[Any], dtype: str) -> pd.Series:
    series = pd.Series(values, dtype=object)
    try:
        if dtype.startswith("datetime64"):
            series = pd.to_datetime(series, format="ISO8601")
        elif dtype.startswith("timedelta64"):
            series = pd.to_timedelta(series)
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series


def _preview(data: dict[str, Any]) -> RecipePreview:
    """A :class:`RecipePreview` rebuilt from its ``to_dict()`` form."""
    from ..core.recipes import RecipePreview, StepPreview

    step_fields = {f.name for f in fields(StepPreview)} - {"head"}
    steps = [
        StepPreview(
            **{k: v for k, v in step.items() if k in step_fields}, head=_frame(step["head"])
        )
        for step in data["steps"]
    ]
    return RecipePreview(
        rows_total=data["rows_total"],
        rows_sampled=data["rows_sampled"],
        sample=data["sample"],
        steps=steps,
        result=_frame(data["result"]),
        error=data.get("error"),
    )


def _registry() -> types.ModuleType:
    """``core.registry``, imported on first use: it brings the ML stack (skops,
    scikit-learn), which a kernel that never touches models (a Voila page opening on its
    datasets) should not load."""
    from ..core import registry

    return registry


class RemoteModels:
    """``ws.models`` over HTTP: artifacts go up as skops files, frames as Parquet."""

    def __init__(self, client: RemoteClient) -> None:
        self._c = client

    def register(self, name: str, trained: Any, **metadata: Any) -> ModelVersion:
        """Serialise the estimator with skops here and upload it with its metadata; a
        training result brings its own metadata, as with the local backend."""
        from ..core import artifacts
        from ..core.registry import EXAMPLE_ROWS, registration_metadata
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
        return _from_dict(
            _registry().ModelVersion,
            self._c.json("POST", "models", name, "versions", files=files, data=form),
        )

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ModelSummary]:
        items = self._c.items("models", search=search, limit=limit, offset=offset)
        return [_from_dict(_registry().ModelSummary, d) for d in items]

    def get(self, ref: str) -> ModelVersion:
        return _from_dict(_registry().ModelVersion, self._c.json("GET", "models", ref))

    def versions(self, name: str) -> list[ModelVersion]:
        return [
            _from_dict(_registry().ModelVersion, d)
            for d in self._c.json("GET", "models", name, "versions")
        ]

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        return _from_dict(
            _registry().ModelVersion,
            self._c.json("PUT", "models", name, "aliases", alias, json={"version": version}),
        )

    def remove_alias(self, name: str, alias: str) -> None:
        self._c.request("DELETE", "models", name, "aliases", alias)

    def alias_history(self, name: str) -> list[AliasMove]:
        data = self._c.json("GET", "models", name, "aliases")
        return [_from_dict(_registry().AliasMove, d) for d in data["history"]]

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
        return _from_dict(DatasetVersion, self._c.json("POST", "models", model, "score", json=body))

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
        spec: TrainingSpec | dict[str, Any] | None = None,
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
        spec: TrainingSpec | dict[str, Any] | None = None,
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
        slot = _from_dict(TrainingSlot, taken)
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
        return _from_dict(Dashboard, self._c.json("POST", "dashboards", json=body))

    def get(self, name: str) -> Dashboard:
        return _from_dict(Dashboard, self._c.json("GET", "dashboards", name))

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Dashboard]:
        items = self._c.items("dashboards", search=search, limit=limit, offset=offset)
        return [_from_dict(Dashboard, d) for d in items]

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

    def update(self, **changes: Any) -> Tenant:
        return _tenant(self._c.json("PATCH", "tenant", json=changes))

    def members(self) -> list[Member]:
        return [_from_dict(Member, d) for d in self._c.json("GET", "tenant", "members")["items"]]

    def add_member(self, username: str, role: str | Role) -> Member:
        body = {"username": username, "role": Role(role).value if isinstance(role, Role) else role}
        return _from_dict(Member, self._c.json("POST", "tenant", "members", json=body))

    def set_role(self, username: str, role: str | Role) -> Member:
        body = {"role": Role(role).value if isinstance(role, Role) else role}
        return _from_dict(Member, self._c.json("PATCH", "tenant", "members", username, json=body))

    def remove_member(self, username: str) -> None:
        self._c.request("DELETE", "tenant", "members", username)

    def usage(self) -> dict[str, Any]:
        return self._c.json("GET", "tenant", "usage")


def _tenant(data: dict[str, Any]) -> Tenant:
    return _from_dict(Tenant, {**data, "quotas": Quotas(**data["quotas"])})


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
        return [_from_dict(AuditEvent, d) for d in items]


class RemoteTokens:
    """``ws.tokens``: platform API tokens of the tenant (admins)."""

    def __init__(self, client: RemoteClient) -> None:
        self._c = client

    def create(
        self, name: str, *, role: str | Role | None = None, expires_in: float | None = None
    ) -> IssuedToken:
        body: dict[str, Any] = {"name": name}
        if role is not None:
            body["role"] = Role(role).value
        if expires_in is not None:
            body["expires_in"] = expires_in
        data = self._c.json("POST", "tokens", json=body)
        return IssuedToken(_from_dict(ApiToken, data), data["token"])

    def list(self, *, include_inactive: bool = False) -> list[ApiToken]:
        items = self._c.items("tokens", include_inactive=str(include_inactive).lower())
        return [_from_dict(ApiToken, d) for d in items]

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
