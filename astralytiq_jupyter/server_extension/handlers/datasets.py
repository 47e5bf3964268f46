"""Datasets: list, versions, streamed upload, URL/SQL ingest, download, profile, cluster
exploration, recipe previews and applying recipes."""

from __future__ import annotations

import asyncio
import functools
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import pyarrow as pa
from tornado import web
from tornado.iostream import StreamClosedError

from ...core.dataset_reads import TableStream
from ...core.errors import AstralytiqError, Invalid, QuotaExceeded
from ...core.ingest import check_read_options
from ...core.limits import parse_json
from ...core.names import parse_ref
from ...core.upload_query import decode as decode_read_options
from .. import codecs, metrics
from ..base import ApiHandler, PageHandler
from ..sendfile import send_file

SPOOL_IN_MEMORY = 8 * 1024 * 1024
DRAIN_BYTES = 1024 * 1024  # refused bodies up to this size are read (and dropped) first
# Encoding downloads is CPU work: two threads serve every download, batch by batch, so
# concurrent downloads share the cores fairly and hold at most two batches in flight.
_ENCODERS = ThreadPoolExecutor(2, thread_name_prefix="astralytiq-download")


class DatasetsHandler(PageHandler):
    service = "datasets"


class DatasetHandler(ApiHandler):
    async def get(self, ref: str) -> None:
        self.reply(await self.run(self.app.store.datasets.get, self.principal, ref))

    async def delete(self, ref: str) -> None:
        parsed = parse_ref(ref)
        count = await self.run(
            self.app.store.datasets.delete, self.principal, parsed.name, parsed.version
        )
        self.reply({"deleted_versions": count})


@web.stream_request_body
class VersionsHandler(ApiHandler):
    """``GET``: the versions. ``POST``: a new version from the raw request body, streamed to
    a spool file; the caller's rights and quotas are checked before a byte is accepted and
    the size limit while the bytes arrive."""

    _spool: IO[bytes] | None = None
    _limit: int | None = None
    _received = 0
    _refusal: AstralytiqError | None = None
    _closing = False

    async def prepare(self) -> None:  # type: ignore[override]
        try:
            await self._admit()
        except AstralytiqError as exc:
            # An identified caller refused for a small body gets a readable answer: the body
            # is read and dropped first (closing on unread bytes resets the connection before
            # most clients read the response). Anonymous callers and large bodies are
            # refused at once, before any byte is read.
            if not self._drainable():
                self._closing = True
                raise
            self._refusal = exc
        except web.HTTPError:
            self._closing = True
            raise

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self._closing:
            # Refused before its body was read, the connection is closed after the answer:
            # saying so keeps clients from sending their next request on it.
            self.set_header("Connection", "close")
        super().write_error(status_code, **kwargs)

    async def _admit(self) -> None:
        await super().prepare()
        if self._finished or self.request.method != "POST":
            return
        length = self.request.headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None
        self._limit = await self.run(
            self.app.store.datasets.upload_limit, self.principal, self.path_kwargs["name"], size
        )
        # tornado's own cap (the server's max_body_size) would refuse large uploads before
        # this check; it stays as a backstop above the limit, which data_received enforces
        # with a 413 the client can read.
        limit = self._limit if self._limit is not None else self.app.max_upload_bytes
        self.request.connection.set_max_body_size(2 * limit + (1 << 20))  # type: ignore[union-attr]
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115

    def _drainable(self) -> bool:
        length = self.request.headers.get("Content-Length", "")
        return (
            self.request.method == "POST"
            and getattr(self, "principal", None) is not None
            and length.isdigit()
            and int(length) <= DRAIN_BYTES
        )

    def data_received(self, chunk: bytes) -> None:
        if self._spool is None or self._finished:
            return
        self._received += len(chunk)
        if self._limit is not None and self._received > self._limit:
            self._spool.close()
            self._spool = None
            metrics.UPLOADS.labels(outcome="too_large").inc()
            error = QuotaExceeded(
                f"The upload is larger than the limit of {self._limit / 1e6:.1f} MB.",
                quota="upload_bytes",
                limit=self._limit,
            )
            self.send_error(error.http_status, exc_info=(QuotaExceeded, error, None))
            return
        self._spool.write(chunk)

    async def get(self, name: str) -> None:
        self.reply(await self.run(self.app.store.datasets.versions, self.principal, name))

    async def post(self, name: str) -> None:
        """The body is a file to read (``?format=&filename=`` and its read options, see
        :mod:`...core.upload_query`), or with ``?mode=save`` a Parquet DataFrame stored as
        is, with lineage (``?parent=&recipe=``). 201 with the new version, or 200 with the
        latest one when it holds the same content (``reused``; ``?force=true`` makes a new
        version anyway)."""
        if self._refusal is not None:
            raise self._refusal
        if self._finished or self._spool is None:
            return
        spool, self._spool = self._spool, None
        try:
            spool.seek(0)
            try:
                version = await self._store(spool, name)
            except Exception:
                metrics.UPLOADS.labels(outcome="error").inc()
                raise
        finally:
            spool.close()
        metrics.UPLOADS.labels(outcome="ok").inc()
        metrics.UPLOAD_BYTES.inc(self._received)
        self.reply(version, 200 if version.reused else 201)

    async def _store(self, spool: IO[bytes], name: str) -> Any:
        params = self.params
        common = {
            "description": params.get("description"),
            "note": params.get("note", ""),
            "force": params.get("force", False),
        }
        read_options = decode_read_options(lambda name: _as_texts(params.get(name)))
        if params.get("mode", "ingest") == "ingest":
            return await self.run(
                self.app.store.datasets.ingest,
                self.principal,
                spool,
                name,
                format=params.get("format"),
                filename=params.get("filename") or None,
                **common,
                **read_options,
            )
        if read_options:
            raise Invalid(
                "Read options apply to files (mode 'ingest'); a saved DataFrame has none.",
                options=sorted(read_options),
            )
        recipe = params.get("recipe")
        limits = self.app.store.config.json_limits
        steps = parse_json(recipe, "'recipe'", limits.max_depth) if recipe else None
        frame = await self.run(codecs.decode_frame, spool.read(), codecs.PARQUET)
        return await self.run(
            self.app.store.datasets.save,
            self.principal,
            frame,
            name,
            parent=params.get("parent") or None,
            recipe=steps,
            **common,
        )

    def on_connection_close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        super().on_connection_close()


class IngestHandler(ApiHandler):
    """A new version read by the server from a URL (allow-listed) or a SQL query."""

    async def post(self, name: str) -> None:
        body = self.json_body()
        if ("url" in body) == ("sql" in body):
            raise Invalid("Give exactly one source: 'url' or 'sql'.")
        if "force" in (body.get("read_options") or {}):
            raise Invalid("'force' is not a read option; give it next to 'url' or 'sql'.")
        options = check_read_options(body.get("read_options") or {})
        if "url" in body:
            source: Any = body["url"]
        else:
            from ...core.ingest import SqlSource

            sql = body["sql"]
            if not isinstance(sql, dict):
                raise Invalid("'sql' must be an object like {'url': ..., 'query': ...}.")
            try:
                source = SqlSource(**sql)
            except TypeError as exc:
                raise Invalid(f"Invalid 'sql' source: {exc}") from None
        ingest = functools.partial(
            self.app.store.datasets.ingest,
            self.principal,
            source,
            name,
            format=body.get("format"),
            description=body.get("description"),
            note=body.get("note") or "",
            force=body.get("force", False),
            **options,
        )
        version = await self.run(ingest)
        self.reply(version, 200 if version.reused else 201)


class DataHandler(ApiHandler):
    """Rows of a version: Parquet (default), Arrow IPC stream or CSV, streamed.

    A whole version as Parquet is its stored file, sent as is (by ``sendfile`` where the
    connection allows, see :mod:`..sendfile`); anything else is encoded one record batch at a
    time. Either way the server holds at most about one chunk or batch per download, and
    ``await self.flush()`` after each lets a slow client hold back the reads.
    """

    async def get(self, ref: str) -> None:
        fmt = self.params.get("format") or codecs.media_format(
            self.request.headers.get("Accept"), default="parquet"
        )
        if fmt not in ("parquet", "arrow", "csv"):
            raise Invalid(f"Unknown format {fmt!r}; use parquet, arrow or csv.")
        columns_arg = self.params.get("columns")
        columns = [c for c in columns_arg.split(",") if c] if columns_arg else None
        limit = self.params.get("limit")
        offset = self.params.get("offset", 0)
        self.set_header("Content-Type", codecs.FORMATS[fmt])
        if fmt == "csv":
            stem = parse_ref(ref).name
            self.set_header("Content-Disposition", f'attachment; filename="{stem}.csv"')
        try:
            if fmt == "parquet" and columns is None and limit is None and offset == 0:
                await self._send_stored(ref)
            else:
                await self._send_encoded(ref, fmt, columns, limit, offset)
        except StreamClosedError:
            return  # the client went away mid-download: nothing left to send it

    async def _send_stored(self, ref: str) -> None:
        datasets = self.app.store.datasets
        version, fh = await self.run(datasets.open_stored, self.principal, ref)
        self.set_header("Content-Length", str(version.size_bytes))
        self.set_header("X-AstralytiQ-Rows", str(version.rows))
        self.set_header("X-AstralytiQ-SHA256", version.sha256)
        try:
            await send_file(self, fh, version.size_bytes)
        finally:
            await self.run(fh.close)

    async def _send_encoded(
        self, ref: str, fmt: str, columns: list[str] | None, limit: int | None, offset: int
    ) -> None:
        datasets = self.app.store.datasets
        stream = await self.run(
            datasets.stream, self.principal, ref, columns=columns, limit=limit, offset=offset
        )
        loop = asyncio.get_running_loop()
        try:
            times: dict[str, tuple[str, str]] = {}
            stamped = [f.name for f in stream.schema if pa.types.is_timestamp(f.type)]
            if fmt == "csv" and stamped:
                # One pass over the time columns first, so every batch formats them alike.
                pinned = stream.version.ref
                with await self.run(
                    datasets.stream,
                    self.principal,
                    pinned,
                    columns=stamped,
                    limit=limit,
                    offset=offset,
                ) as times_only:
                    times = await loop.run_in_executor(
                        _ENCODERS, codecs.csv_time_formats, times_only
                    )
            encoder = codecs.BatchEncoder(fmt, stream.schema, times)
            self.set_header("X-AstralytiQ-Rows", str(stream.rows))
            self.write(await loop.run_in_executor(_ENCODERS, encoder.start))
            while True:
                data = await loop.run_in_executor(_ENCODERS, _encode_next, stream, encoder)
                if data is None:
                    break
                self.write(data)
                await self.flush()
            self.write(await loop.run_in_executor(_ENCODERS, encoder.finish))
        finally:
            await self.run(stream.close)
        self.finish()


def _encode_next(stream: TableStream, encoder: codecs.BatchEncoder) -> bytes | None:
    """Read and encode the next batch in one thread hop; ``None`` once the stream is done."""
    batch = next(iter(stream), None)
    return None if batch is None else encoder.encode(batch)


class ProfileHandler(ApiHandler):
    async def get(self, ref: str) -> None:
        options = {k: v for k, v in self.params.items() if k in ("bins", "top")}
        self.reply(await self.run(self.app.store.datasets.profile, self.principal, ref, **options))


class ClustersHandler(ApiHandler):
    """K-means cluster exploration: ``?columns=a,b&k_min=2&k_max=10&sample=&random_state=``
    (or ``k=2,4,8`` for a list of cluster counts)."""

    async def get(self, ref: str) -> None:
        params = self.params
        options: dict[str, Any] = {}
        columns = params.get("columns")
        if columns is not None:
            options["columns"] = [c for c in columns.split(",") if c]
        k_min, k_max = params.get("k_min"), params.get("k_max")
        if "k" in params:
            if k_min is not None or k_max is not None:
                raise Invalid("Give either 'k' (a list) or 'k_min'/'k_max', not both.")
            options["k_range"] = params["k"]
        elif k_min is not None or k_max is not None:
            low = k_min if k_min is not None else 2
            high = k_max if k_max is not None else 10
            if low > high:
                raise Invalid(f"k_min ({low}) must not be above k_max ({high}).")
            options["k_range"] = range(low, high + 1)
        for key in ("sample", "random_state"):
            if key in params:
                options[key] = params[key]
        self.reply(
            await self.run(self.app.store.datasets.explore_clusters, self.principal, ref, **options)
        )


class SampleHandler(ApiHandler):
    """A uniform random sample of rows as Parquet: ``?n=5000&columns=a,b&seed=0`` and
    optionally ``filters`` (a JSON list of conditions)."""

    async def get(self, ref: str) -> None:
        columns = self.params.get("columns")
        filters = self.params.get("filters")
        limits = self.app.store.config.json_limits
        conditions = parse_json(filters, "'filters'", limits.max_depth) if filters else None
        frame = await self.run(
            self.app.store.datasets.sample,
            self.principal,
            ref,
            self.params.get("n", 5000),
            columns=[c for c in columns.split(",") if c] if columns is not None else None,
            seed=self.params.get("seed", 0),
            filters=conditions,
        )
        self.set_header("Content-Type", codecs.FORMATS["parquet"])
        table = pa.Table.from_pandas(frame, preserve_index=False)
        self.finish(await self.run(codecs.encode_table, table, "parquet"))


class AggregateHandler(ApiHandler):
    """Groups, time buckets and metrics of a version (``{"query": {...}}``), as JSON."""

    async def post(self, ref: str) -> None:
        body = self.json_body()
        result = await self.run(
            self.app.store.datasets.aggregate, self.principal, ref, body["query"]
        )
        self.reply(result.to_dict())


class PreviewHandler(ApiHandler):
    """A recipe run on the first ``rows`` rows (default 1000), step by step, with the first
    ``head`` rows (default 5) of each step's result; nothing stored."""

    async def post(self, ref: str) -> None:
        body = self.json_body()
        rows, head = body.get("rows", 1000), body.get("head", 5)
        preview = await self.run(
            self.app.store.recipes.preview,
            self.principal,
            body["recipe"],
            ref,
            rows=rows,
            head=head,
        )
        self.reply(preview)


class ApplyHandler(ApiHandler):
    async def post(self, ref: str) -> None:
        body = self.json_body()
        version = await self.run(
            self.app.store.recipes.apply,
            self.principal,
            body["recipe"],
            ref,
            save_as=body.get("save_as"),
            note=body.get("note") or "",
        )
        self.reply(version, 201)


def _as_texts(value: Any) -> list[str]:
    """A parsed query parameter as the list of texts ``upload_query.decode`` reads."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
