"""``ws.datasets`` over the REST API: uploads stream (files in blocks, with progress), URLs
and SQL sources are read by the server, and frames travel as Parquet."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..core import errors, upload_query
from ..core.dataset_versions import DatasetSummary, DatasetVersion
from ..core.frames import frame_parquet
from ..core.names import parse_ref
from .wire import from_dict

if TYPE_CHECKING:
    from ..core.aggregate import Aggregate
    from ..core.profiling import Profile
    from .remote import RemoteClient

CHUNK = 1 << 20  # bytes per read of an upload


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
        given = {"format": format, "description": description, "note": note}
        if isinstance(source, str) and source.startswith(("http://", "https://")):
            body = {"url": source, **given, "read_options": read_options, "force": force or None}
            return self._ingest(name, body)
        if type(source).__name__ == "SqlSource" and is_dataclass(source):
            sql = {f.name: getattr(source, f.name) for f in fields(source)}
            body = {"sql": sql, **given, "read_options": read_options, "force": force or None}
            return self._ingest(name, body)
        query = upload_query.encode(read_options)  # refuses options an upload cannot carry
        data: bytes | Path
        if isinstance(source, pd.DataFrame):
            if query:
                raise errors.Invalid("A DataFrame has no read options.", options=sorted(query))
            data = frame_parquet(source)
            given["format"], filename = "parquet", filename or f"{name}.parquet"
        elif isinstance(source, (str, os.PathLike)):
            data = Path(source)
            filename = filename or data.name
        elif isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        elif hasattr(source, "read"):
            data = source.read()
        else:
            raise errors.Invalid(
                f"Cannot ingest a {type(source).__name__}: give a path, URL, "
                "bytes, file object, DataFrame or SqlSource."
            )
        force_flag = "true" if force else None
        return self._upload(
            name, data, filename=filename, progress=progress, force=force_flag, **given, **query
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

    def get(self, ref: str) -> DatasetVersion:
        parse_ref(ref)
        return from_dict(DatasetVersion, self._c.json("GET", "datasets", ref))

    def versions(self, name: str) -> list[DatasetVersion]:
        return [
            from_dict(DatasetVersion, d) for d in self._c.json("GET", "datasets", name, "versions")
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

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DatasetSummary]:
        items = self._c.items("datasets", search=search, limit=limit, offset=offset)
        return [from_dict(DatasetSummary, d) for d in items]

    def _ingest(self, name: str, body: dict[str, Any]) -> DatasetVersion:
        body = {k: v for k, v in body.items() if v not in (None, {}, "")}
        return from_dict(
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
        size = data.stat().st_size if isinstance(data, Path) else len(data)
        with data.open("rb") if isinstance(data, Path) else io.BytesIO(data) as fh:
            body = _Reader(fh, size, progress)
            reply = self._c.json(
                "POST", "datasets", name, "versions", params=clean, data=body, headers=headers
            )
        return from_dict(DatasetVersion, reply)


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
