"""Versioned datasets: ingest, save, list, load and delete immutable Parquet versions."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, or_

from .dataset_reads import (
    STREAM_READ_BUFFER,
    TableStream,
    batch_rows,
    checked_read,
    iter_batches,
    row_range,
)
from .dataset_versions import DatasetSummary, DatasetVersion
from .errors import Invalid, NotFound, QuotaExceeded
from .ingest import IngestResult, SqlSource, ingest_to_parquet
from .ingest.sql import check_sql_allowed
from .limits import check_json, check_text
from .models import DatasetRecord, DatasetVersionRecord, new_id
from .names import Ref, check_name, parse_ref
from .permissions import Permission, Principal, require
from .profile_cache import ProfileCache
from .profiling_clusters import (
    check_cluster_options,
    cluster_counts,
)
from .repository import TenantRepository, check_page
from .storage import StagedObject
from .tenancy import enforce_quotas
from .workspace_files import WorkspaceFile

if TYPE_CHECKING:
    from .store import Store

Progress = Callable[[int, "int | None"], None]


class DatasetService:
    """Dataset operations for a :class:`Principal`; see the Workspace API for the user view.

    Identical content is stored once: when an ingest or save would store exactly what the
    latest version of the dataset holds (the same SHA-256 of the stored Parquet, so the same
    columns, types and values) with the same lineage (parent version, recipe, model), that
    version is returned with ``reused=True`` and nothing is added; ``force=True`` makes a new
    version anyway. The stored Parquet is a function of the data read: an unchanged file,
    upload or URL gives the same bytes again, and so does an equal DataFrame (equal values
    and dtypes). Notes, descriptions and where the data came from are not compared.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._columns: Any = None  # an aggregate.ColumnCache once an aggregation ran
        self.profiles = ProfileCache()

    # -- writes ------------------------------------------------------------------------
    def ingest(
        self,
        principal: Principal,
        /,
        source: Any,
        name: str,
        *,
        format: str | None = None,
        filename: str | None = None,
        description: str | None = None,
        note: str = "",
        progress: Progress | None = None,
        force: bool = False,
        **read_options: Any,
    ) -> DatasetVersion:
        """Read ``source`` (path, URL, upload bytes/file, DataFrame or ``SqlSource``) into a
        new version of dataset ``name``. Nothing is stored unless every check passes, and
        nothing new when the content is that of the latest version (unless ``force``)."""
        with self.store.audit.action(principal, "dataset.ingest", f"dataset:{name}") as act:
            require(principal, Permission.DATASET_WRITE)
            check_name(name, "dataset name")
            version = self._write_version(
                principal,
                name,
                source,
                format=format,
                filename=filename,
                description=description,
                note=note,
                progress=progress,
                read_options=read_options,
                force=force,
            )
            act.resource = f"dataset:{version.ref}"
            act.detail.update(
                rows=version.rows,
                size_bytes=version.size_bytes,
                source=version.source,
                reused=version.reused,
            )
            return version

    def save(
        self,
        principal: Principal,
        df: pd.DataFrame,
        name: str,
        *,
        parent: str | None = None,
        recipe: list[dict[str, Any]] | None = None,
        note: str = "",
        description: str | None = None,
        model: str | None = None,
        model_columns: Sequence[str] = (),
        force: bool = False,
    ) -> DatasetVersion:
        """Store a DataFrame as a new version; ``parent``/``recipe`` (and ``model`` with the
        ``model_columns`` its batch predictions wrote) record its lineage. Columns a model wrote
        into the parent, still present, stay recorded as such. What is stored, and which
        frames are refused, is :mod:`.frames`' rule; an equal frame with the same lineage as
        the latest version returns that version (``reused=True``) unless ``force``."""
        with self.store.audit.action(principal, "dataset.save", f"dataset:{name}") as act:
            require(principal, Permission.DATASET_WRITE)
            check_name(name, "dataset name")
            if not isinstance(df, pd.DataFrame):
                raise Invalid("save() takes a pandas DataFrame; use ingest() for files and URLs.")
            parent_id = model_version_id = None
            written: dict[str, str] = {}
            with self.store.session() as session:
                repo = self.store.repo(session, principal)
                if parent is not None:
                    parent_row = self._version_row(repo, parent)[1]
                    parent_id = parent_row.id
                    inherited = parent_row.model_columns or {}
                    written = {c: m for c, m in inherited.items() if c in df.columns}
                if model is not None:
                    model_version_id = self.store.models.version_id(repo, model)
                    written.update(dict.fromkeys(model_columns, model))
            version = self._write_version(
                principal,
                name,
                df,
                description=description,
                note=note,
                parent_version_id=parent_id,
                recipe=recipe,
                model_version_id=model_version_id,
                model_columns=written,
                source_kind="derived" if parent_id else None,
                force=force,
            )
            act.resource = f"dataset:{version.ref}"
            act.detail.update(rows=version.rows, parent=parent, reused=version.reused)
            return version

    def delete(self, principal: Principal, name: str, version: int | None = None) -> int:
        """Delete one version, or the whole dataset; returns how many versions went."""
        resource = f"dataset:{name}" + (f"@{version}" if version else "")
        with self.store.audit.action(principal, "dataset.delete", resource) as act:
            require(principal, Permission.DATASET_DELETE)
            check_name(name, "dataset name")
            with self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                ds = self._dataset_row(repo, name)
                stmt = repo.select(DatasetVersionRecord).where(
                    DatasetVersionRecord.dataset_id == ds.id
                )
                if version is not None:
                    stmt = stmt.where(DatasetVersionRecord.version == int(version))
                rows = list(session.scalars(stmt))
                if not rows:
                    raise NotFound(f"Dataset {name}@{version} not found.")
                keys = [r.storage_key for r in rows]
                for row in rows:
                    session.delete(row)
                session.flush()
                if repo.count(DatasetVersionRecord, DatasetVersionRecord.dataset_id == ds.id) == 0:
                    session.delete(ds)
            # Bytes go only after the rows are gone: a crash here leaves orphans for the
            # sweeper, never a row pointing at a missing file.
            for key in keys:
                self.store.storage.remove(key)
                self.store.storage.prune(key)
            act.detail.update(versions=len(keys))
            return len(keys)

    def upload_limit(self, principal: Principal, name: str, size: int | None = None) -> int | None:
        """Check, before a byte of an upload is read, that ``principal`` may add a version of
        ``name`` of ``size`` bytes (if known); return the most bytes the upload may have."""
        self.store.audit.authorize(principal, Permission.DATASET_WRITE, "dataset.upload_limit")
        check_name(name, "dataset name")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            quotas = self.store.quotas(session, principal)
            existing = repo.one_or_none(DatasetRecord, DatasetRecord.name == name)
            enforce_quotas(repo, quotas, new_dataset=existing is None, incoming_bytes=size or 0)
        limits = [x for x in (quotas.upload_bytes, self.store.config.max_upload_bytes) if x]
        max_bytes = min(limits) if limits else None
        if max_bytes is not None and size is not None and size > max_bytes:
            raise QuotaExceeded(
                f"The file is {size / 1e6:.1f} MB; the upload limit is {max_bytes / 1e6:.1f} MB.",
                quota="upload_bytes",
                limit=max_bytes,
            )
        return max_bytes

    # -- reads -------------------------------------------------------------------------
    def list(
        self, principal: Principal, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DatasetSummary]:
        """Datasets of the tenant, by name, with their latest version."""
        self.store.audit.authorize(principal, Permission.DATASET_READ, "dataset.list")
        check_page(limit, offset)
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            stmt = repo.select(DatasetRecord)
            if search:
                pattern = f"%{search.lower()}%"
                stmt = stmt.where(
                    or_(
                        func.lower(DatasetRecord.name).like(pattern),
                        func.lower(DatasetRecord.description).like(pattern),
                    )
                )
            datasets = list(
                session.scalars(stmt.order_by(DatasetRecord.name).limit(limit).offset(offset))
            )
            if not datasets:
                return []
            ids = [d.id for d in datasets]
            latest = (
                repo.select(
                    DatasetVersionRecord,
                    DatasetVersionRecord.dataset_id,
                    func.max(DatasetVersionRecord.version),
                    func.count(),
                )
                .where(DatasetVersionRecord.dataset_id.in_(ids))
                .group_by(DatasetVersionRecord.dataset_id)
            )
            counts = {ds_id: (top, n) for ds_id, top, n in session.execute(latest)}
            out = []
            for ds in datasets:
                top, n = counts[ds.id]
                row = repo.one_or_none(
                    DatasetVersionRecord,
                    DatasetVersionRecord.dataset_id == ds.id,
                    DatasetVersionRecord.version == top,
                )
                assert row is not None
                out.append(
                    DatasetSummary(
                        ds.name,
                        ds.description,
                        n,
                        self._to_version(repo, ds, row),
                        ds.created_by,
                        ds.created_at,
                    )
                )
            return out

    def get(self, principal: Principal, ref: str) -> DatasetVersion:
        """Metadata of ``name`` (latest) or ``name@N``."""
        self.store.audit.authorize(principal, Permission.DATASET_READ, "dataset.get")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            ds, row = self._version_row(repo, ref)
            return self._to_version(repo, ds, row)

    def versions(self, principal: Principal, name: str) -> list[DatasetVersion]:
        """Every version of ``name``, oldest first."""
        self.store.audit.authorize(principal, Permission.DATASET_READ, "dataset.versions")
        check_name(name, "dataset name")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            ds = self._dataset_row(repo, name)
            rows = session.scalars(
                repo.select(DatasetVersionRecord)
                .where(DatasetVersionRecord.dataset_id == ds.id)
                .order_by(DatasetVersionRecord.version)
            )
            return [self._to_version(repo, ds, r) for r in rows]

    def load(
        self,
        principal: Principal,
        ref: str,
        *,
        columns: list[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Read a version as a DataFrame: all of it, some ``columns``, or ``limit`` rows from
        row ``offset`` (a page of a preview reads only the row groups it needs)."""
        return self.read_table(
            principal, ref, columns=columns, limit=limit, offset=offset
        ).to_pandas()

    def read_table(
        self,
        principal: Principal,
        ref: str,
        *,
        columns: list[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pa.Table:
        """Like :meth:`load`, as an Arrow table (what the REST API streams)."""
        self.store.audit.authorize(principal, Permission.DATASET_READ, "dataset.read_table")
        # One read for the version and its key: "sales" must not resolve twice, to two versions.
        version, key = self._pinned(principal, ref)
        columns = checked_read(version, columns, limit, offset)
        storage = self.store.storage
        with storage.open(key, label=f"dataset {version.ref}") as fh:
            if limit is None and offset == 0:
                return pq.read_table(fh, columns=columns)
            parquet = pq.ParquetFile(fh)
            batches = list(row_range(parquet, columns, offset, limit, min(limit or 65_536, 65_536)))
            schema = parquet.schema_arrow
            if columns is not None:
                schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
            return (
                pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()
            )

    def profile(self, principal: Principal, /, ref: str, **options: Any) -> Any:
        """The EDA/quality report of a version, with exact statistics on all of its rows
        (``options`` go to :func:`.profiling.profile`, e.g. ``bins``, ``top``); computed once
        per stored content and options (:mod:`.profile_cache`)."""
        from .profiling import profile

        self.store.audit.authorize(principal, Permission.DATASET_READ, "dataset.profile")
        version, key = self._pinned(principal, ref)

        def compute() -> Any:
            with self.store.storage.open(key, label=f"dataset {version.ref}") as fh:
                return profile(pq.read_table(fh).to_pandas(), **options)

        return self.profiles.get(version.sha256, options, compute)

    def explore_clusters(
        self,
        principal: Principal,
        ref: str,
        *,
        columns: Sequence[str] | None = None,
        k_range: Sequence[int] = range(2, 11),
        sample: int = 5000,
        random_state: int = 0,
    ) -> dict[str, Any]:
        """K-means cluster exploration of a version for the EDA tab (see
        :func:`.profiling.explore_clusters`). Only the numeric columns are read, and ``k`` and
        ``sample`` are capped so that one request cannot occupy the server for long."""
        from .profiling import explore_clusters
        from .recipe_base import kind_of

        self.store.audit.authorize(
            principal, Permission.DATASET_READ, "dataset.explore_clusters", f"dataset:{ref}"
        )
        ks = cluster_counts(k_range)
        check_cluster_options(sample, random_state)
        version = self.get(principal, ref)
        if columns is None:
            wanted = [c for c, dtype in version.schema.items() if kind_of(dtype) == "numeric"]
        else:
            wanted = [columns] if isinstance(columns, str) else list(columns)
        frame = self.load(principal, version.ref, columns=wanted)
        return explore_clusters(
            frame, wanted if columns is not None else None, ks, sample, random_state
        )

    def sample(
        self,
        principal: Principal,
        ref: str,
        n: int = 5000,
        *,
        columns: list[str] | None = None,
        seed: int = 0,
        filters: list[dict[str, Any]] | None = None,
    ) -> pd.DataFrame:
        """A uniform random sample of ``n`` rows (all rows if fewer), in stored order, of the
        rows meeting ``filters`` (conditions as in recipes): what a chart of a large version
        draws instead of the whole."""
        from .aggregate import apply_filters, check_sample, decoded, parse_filters

        self.store.audit.authorize(principal, Permission.DATASET_READ, "dataset.sample")
        check_sample(n, seed)
        version, key = self._pinned(principal, ref)
        wanted = checked_read(version, columns, None) or list(version.schema)
        conditions = parse_filters(filters, version.schema)
        read = list(dict.fromkeys([*wanted, *(c["column"] for c in conditions)]))
        table = self._cached_columns(version, key, read)
        table = apply_filters(table, conditions, "all", version.schema).select(wanted)
        if table.num_rows > n:
            import numpy as np

            rows = np.random.default_rng(seed).choice(table.num_rows, size=n, replace=False)
            table = table.take(pa.array(np.sort(rows)))
        return decoded(table, version.schema).to_pandas()

    def aggregate(self, principal: Principal, ref: str, query: dict[str, Any]) -> Any:
        """Group, bucket by time, filter and summarise a version next to its data (see
        :mod:`.aggregate`); only the columns the query names are read, and kept in a small
        cache for the next query on the same version."""
        from .aggregate import AggregateQuery, aggregate

        self.store.audit.authorize(principal, Permission.DATASET_READ, "dataset.aggregate")
        version, key = self._pinned(principal, ref)
        parsed = AggregateQuery.parse(query, version.schema)
        return aggregate(self._cached_columns(version, key, parsed.columns), parsed)

    def _cached_columns(self, version: DatasetVersion, key: str, columns: list[str]) -> pa.Table:
        """Columns of a stored version, from the cache shared by aggregations and samples
        (a dashboard's charts and filter changes read each column once). Text columns are
        kept dictionary-encoded as Parquet stores them: reading them so is ~3x cheaper than
        building every string, they take about half the memory, and DuckDB filters and
        groups them on their few distinct values (~30% less CPU per query on 5,000,000 rows);
        :func:`.aggregate.decoded` gives the strings back wherever pandas sees them."""
        from .aggregate import ColumnCache
        from .recipe_base import kind_of

        if self._columns is None:
            self._columns = ColumnCache()

        def read(wanted: list[str]) -> pa.Table:
            text = [c for c in wanted if kind_of(version.schema.get(c, "")) == "text"]
            with self.store.storage.open(key, label=f"dataset {version.ref}") as fh:
                return pq.read_table(fh, columns=wanted, read_dictionary=text or None)

        return self._columns.get(version.sha256, columns, read)

    def _pinned(self, principal: Principal, ref: str) -> tuple[DatasetVersion, str]:
        """A version and its storage key, resolved in one session (never a mismatched pair)."""
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            ds, row = self._version_row(repo, ref)
            return self._to_version(repo, ds, row), row.storage_key

    def open_stored(self, principal: Principal, ref: str) -> tuple[DatasetVersion, IO[bytes]]:
        """A version and its stored Parquet file, open for reading (the caller closes it):
        the cheapest way to hand out a whole version, byte for byte (``sha256`` matches)."""
        self.store.audit.authorize(principal, Permission.DATASET_READ, "dataset.open_stored")
        version, key = self._pinned(principal, ref)
        return version, self.store.storage.open(key, label=f"dataset {version.ref}")

    def stream(
        self,
        principal: Principal,
        ref: str,
        *,
        columns: list[str] | None = None,
        limit: int | None = None,
        batch_size: int | None = None,
        offset: int = 0,
    ) -> TableStream:
        """Like :meth:`read_table`, as record batches read lazily from the stored Parquet,
        so a download of any size holds about one batch in memory. Batches hold about
        ``STREAM_BATCH_BYTES`` (at most ``STREAM_BATCH_ROWS`` rows) unless ``batch_size``
        says how many rows. Options are checked here, before the first batch is read."""
        self.store.audit.authorize(principal, Permission.DATASET_READ, "dataset.stream")
        version, key = self._pinned(principal, ref)
        columns = checked_read(version, columns, limit, offset)
        fh = self.store.storage.open(key, label=f"dataset {version.ref}")
        try:
            # Buffered reads without pre-buffering fetch a page at a time; by default whole
            # row groups (tens of MB each) are read into memory first.
            parquet = pq.ParquetFile(fh, buffer_size=STREAM_READ_BUFFER, pre_buffer=False)
            schema = parquet.schema_arrow
            if columns is not None:
                schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
        except BaseException:
            fh.close()
            raise
        available = max(0, version.rows - offset)
        rows = available if limit is None else min(limit, available)
        size = batch_size if batch_size is not None else batch_rows(parquet.metadata, columns)
        batches = iter_batches(parquet, fh, columns, limit, max(1, size), offset)
        return TableStream(version, schema, rows, batches, fh)

    def storage_key(self, principal: Principal, ref: str) -> str:
        """The stored object of a version (for services that stream it, e.g. downloads)."""
        self.store.audit.authorize(principal, Permission.DATASET_READ, "dataset.storage_key")
        return self._storage_key(principal, ref)

    # -- internals ---------------------------------------------------------------------
    def _storage_key(self, principal: Principal, ref: str) -> str:
        with self.store.session() as session:
            return self._version_row(self.store.repo(session, principal), ref)[1].storage_key

    def _dataset_row(self, repo: TenantRepository, name: str) -> DatasetRecord:
        return repo.get(DatasetRecord, f"Dataset {name!r}", DatasetRecord.name == name)

    def _version_row(
        self, repo: TenantRepository, ref: str | Ref
    ) -> tuple[DatasetRecord, DatasetVersionRecord]:
        parsed = parse_ref(ref)
        ds = self._dataset_row(repo, parsed.name)
        stmt = repo.select(DatasetVersionRecord).where(DatasetVersionRecord.dataset_id == ds.id)
        if parsed.version is None:
            stmt = stmt.order_by(DatasetVersionRecord.version.desc()).limit(1)
        else:
            stmt = stmt.where(DatasetVersionRecord.version == parsed.version)
        row = repo.session.scalars(stmt).first()
        if row is None:
            raise NotFound(f"Dataset {parsed} not found.")
        return ds, row

    def _to_version(
        self, repo: TenantRepository, ds: DatasetRecord, row: DatasetVersionRecord
    ) -> DatasetVersion:
        parent = None
        if row.parent_version_id:
            found = repo.session.execute(
                repo.select(DatasetVersionRecord, DatasetRecord.name, DatasetVersionRecord.version)
                .join(DatasetRecord, DatasetRecord.id == DatasetVersionRecord.dataset_id)
                .where(DatasetVersionRecord.id == row.parent_version_id)
            ).first()
            if found:
                parent = f"{found[0]}@{found[1]}"
        model = None
        if row.model_version_id:
            model = self.store.models.ref_of(repo, row.model_version_id)
        return DatasetVersion(
            name=ds.name,
            version=row.version,
            rows=row.row_count,
            columns=row.column_count,
            schema=dict(row.schema),
            size_bytes=row.size_bytes,
            sha256=row.sha256,
            quality=dict(row.quality),
            format=row.format,
            source=row.source_kind,
            source_detail=row.source_detail,
            parent=parent,
            recipe=row.recipe,
            created_by=row.created_by,
            created_at=row.created_at,
            note=row.note,
            model=model,
            model_columns=dict(row.model_columns or {}),
        )

    def _write_version(
        self,
        principal: Principal,
        name: str,
        source: Any,
        *,
        format: str | None = None,
        filename: str | None = None,
        description: str | None = None,
        note: str = "",
        progress: Progress | None = None,
        read_options: dict[str, Any] | None = None,
        parent_version_id: str | None = None,
        recipe: list[dict[str, Any]] | None = None,
        model_version_id: str | None = None,
        model_columns: dict[str, str] | None = None,
        source_kind: str | None = None,
        force: bool = False,
    ) -> DatasetVersion:
        store = self.store
        check_text(description, "The description")
        check_text(note, "The note", optional=False)
        if recipe is not None:
            check_json(recipe, "The recipe", store.config.json_limits)
        with store.session() as session:
            repo = store.repo(session, principal)
            tenant_id = repo.tenant_id
            quotas = store.quotas(session, principal)
            existing = repo.one_or_none(DatasetRecord, DatasetRecord.name == name)
            # Fail fast, before reading a byte; the locked re-check below is authoritative.
            enforce_quotas(repo, quotas, new_dataset=existing is None)
        files = store.config.workspace_files
        if files is not None and files.names_a_file(source):
            # Before anything looks at the path: a refused file is never stat'ed for its size.
            source = files.resolve(principal, source)
        # The import limit bounds what is read from outside; a DataFrame is already in memory.
        limits = [x for x in (quotas.upload_bytes, store.config.max_upload_bytes) if x]
        max_bytes = min(limits) if limits and not isinstance(source, pd.DataFrame) else None
        size_hint = _source_size(source)
        if max_bytes is not None and size_hint is not None and size_hint > max_bytes:
            raise QuotaExceeded(
                f"The file is {size_hint / 1e6:.1f} MB; the upload limit is "
                f"{max_bytes / 1e6:.1f} MB.",
                quota="upload_bytes",
                limit=max_bytes,
            )
        if isinstance(source, SqlSource):
            check_sql_allowed(source.url, store.config.sql_import_allowlist)
        dataset_id = existing.id if existing else new_id()
        with store.storage.stage(tenant_id, "datasets", dataset_id) as stager:
            result: IngestResult = ingest_to_parquet(
                source,
                stager.writer,
                format=format,
                filename=filename,
                max_bytes=max_bytes,
                url_allowlist=store.config.url_import_allowlist,
                progress=progress,
                **(read_options or {}),
            )
        staged = stager.result
        assert staged is not None
        try:
            return self._commit_version(
                principal,
                name,
                dataset_id,
                staged,
                result,
                description=description,
                note=note,
                parent_version_id=parent_version_id,
                recipe=recipe,
                model_version_id=model_version_id,
                model_columns=model_columns,
                source_kind=source_kind or result.source_kind,
                force=force,
            )
        except BaseException:
            staged.discard()
            raise

    def _commit_version(
        self,
        principal: Principal,
        name: str,
        dataset_id: str,
        staged: StagedObject,
        result: IngestResult,
        *,
        description: str | None,
        note: str,
        parent_version_id: str | None,
        recipe: list[dict[str, Any]] | None,
        model_version_id: str | None,
        source_kind: str,
        force: bool,
        model_columns: dict[str, str] | None = None,
    ) -> DatasetVersion:
        with self.store.transaction() as session:
            repo = self.store.repo(session, principal)
            repo.lock_tenant()
            quotas = self.store.quotas(session, principal)
            ds = repo.one_or_none(DatasetRecord, DatasetRecord.name == name)
            if ds is not None and not force:
                # Under the tenant lock: of two identical writes, the second sees the first.
                latest = self._version_row(repo, name)[1]
                if (
                    latest.sha256,
                    latest.parent_version_id,
                    latest.recipe,
                    latest.model_version_id,
                ) == (staged.sha256, parent_version_id, recipe, model_version_id):
                    staged.discard()
                    return replace(self._to_version(repo, ds, latest), reused=True)
            enforce_quotas(repo, quotas, new_dataset=ds is None, incoming_bytes=staged.size)
            ds = repo.named(
                DatasetRecord, name, new_id=dataset_id, description=description, user=principal.user
            )
            number = repo.next_version("datasets", name, DatasetVersionRecord.dataset_id, ds.id)
            key = staged.commit(ds.id, number)
            row = repo.add(
                DatasetVersionRecord(
                    dataset_id=ds.id,
                    version=number,
                    storage_key=key,
                    sha256=staged.sha256,
                    size_bytes=staged.size,
                    row_count=result.rows,
                    column_count=result.columns,
                    schema=result.schema,
                    quality=result.quality,
                    format=result.format,
                    source_kind=source_kind,
                    source_detail=result.source_detail[:4000],
                    parent_version_id=parent_version_id,
                    recipe=recipe,
                    model_version_id=model_version_id,
                    model_columns=model_columns or None,
                    note=note,
                    created_by=principal.user,
                )
            )
            session.flush()
            return self._to_version(repo, ds, row)


def _source_size(source: Any) -> int | None:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source)
    if isinstance(source, WorkspaceFile):
        return source.size
    if isinstance(source, (str, os.PathLike)) and not str(source).startswith(
        ("http://", "https://")
    ):
        try:
            return os.path.getsize(source)
        except OSError:
            return None
    return None
