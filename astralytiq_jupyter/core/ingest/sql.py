"""SQL sources: one SELECT/WITH query, run read-only and fetched in chunks.

The query check refuses anything but a single reading statement; the real guard is the
transaction, which is read-only where the database can say so and always rolled back.
Column types come from the first chunk; a later chunk that does not fit restarts the query
with that column widened. Passwords never appear in messages or ``repr``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..errors import Forbidden, Invalid
from ..quality import check_column_names, frame_to_batches
from .options import _int_option
from .sink import (
    _FRAME_BATCH_ROWS,
    IngestResult,
    _drain,
    _metered,
    _pandas_metadata,
    _ParquetOut,
    _Restart,
    _result,
    _storage_type,
)
from .sources import Progress, _Meter, _ticker

_SQL_CHUNKSIZE = 50_000


@dataclass(frozen=True)
class SqlSource:
    """A read-only query against a database reachable with a SQLAlchemy URL."""

    url: str  # SQLAlchemy URL
    query: str  # a SELECT; run read-only via pandas.read_sql / SQLAlchemy, streamed in chunks

    def __repr__(self) -> str:
        return f"SqlSource(url={_mask_sql_url(self.url)!r}, query={self.query!r})"


def _mask_sql_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


_SQL_COMMENT = re.compile(r"\s+|--[^\n]*(?:\n|$)|/\*.*?\*/", re.S)


def _check_query(query: str) -> None:
    """Accept one SELECT/WITH statement; the read-only transaction is the real guard."""
    if not isinstance(query, str) or not query.strip():
        raise Invalid("The SQL query is empty.")
    pos = 0
    while True:
        match = _SQL_COMMENT.match(query, pos)
        if match and match.end() > pos:
            pos = match.end()
        elif query.startswith("(", pos):
            pos += 1
        else:
            break
    keyword = re.match(r"[A-Za-z]+", query[pos:])
    first = keyword.group(0).upper() if keyword else query[pos : pos + 10]
    if first not in ("SELECT", "WITH"):
        raise Invalid(
            f"Only queries that read data (SELECT or WITH) can be imported; this one starts "
            f"with '{first}'.",
            keyword=first,
        )
    # A second statement after a semicolon (outside quotes and comments) is refused.
    i, n = pos, len(query)
    while i < n:
        ch = query[i]
        if ch in "'\"`":
            end = query.find(ch, i + 1)
            while end != -1 and query.startswith(ch, end + 1):
                end = query.find(ch, end + 2)
            i = n if end == -1 else end + 1
        elif query.startswith("--", i) or query.startswith("/*", i):
            match = _SQL_COMMENT.match(query, i)
            i = match.end() if match else n
        elif ch == ";":
            rest = _SQL_COMMENT.sub("", query[i + 1 :])
            if rest.strip(" ;"):
                raise Invalid(
                    "Only one SQL statement can be imported at a time; remove the ';' and "
                    "what follows it."
                )
            i = n
        else:
            i += 1


def _sql_reason(exc: BaseException, url: Any) -> str:
    orig = getattr(exc, "orig", None)
    reason = str(orig if orig is not None else exc).strip().splitlines()
    text = reason[0] if reason else type(exc).__name__
    password = getattr(url, "password", None)
    if password:
        text = text.replace(str(password), "***")
    return text[:300]


def _sql_batches(
    source: SqlSource,
    chunksize: int,
    overrides: dict[str, pa.DataType],
    stack: contextlib.ExitStack,
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.pool import NullPool

    try:
        url = sa.engine.make_url(source.url)
    except sa_exc.ArgumentError:
        raise Invalid(
            "The database URL is not valid, e.g. postgresql+psycopg://user@host/db."
        ) from None
    masked = url.render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(url, poolclass=NullPool)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
        raise Invalid(f"Cannot use the database URL {masked}: {_sql_reason(exc, url)}") from None
    stack.callback(engine.dispose)
    try:
        conn = stack.enter_context(engine.connect())
    except sa_exc.SQLAlchemyError as exc:
        raise Invalid(f"Could not connect to {masked}: {_sql_reason(exc, url)}") from None
    try:
        # The transaction SQLAlchemy begins is rolled back whatever happens: the SELECT check
        # is not trusted on its own. Where the database can, it also refuses any write.
        stack.callback(conn.rollback)
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA query_only = ON")
        elif engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        result = conn.execution_options(
            stream_results=True, max_row_buffer=chunksize
        ).exec_driver_sql(source.query)
    except sa_exc.SQLAlchemyError as exc:
        raise Invalid(f"Could not run the query on {masked}: {_sql_reason(exc, url)}") from None
    if not result.returns_rows:
        raise Invalid("The query returned no result set; only SELECT queries can be imported.")
    keys = result.keys()
    names = [str(k) for k in keys]
    check_column_names(names)

    def frames() -> Iterator[pd.DataFrame]:
        try:
            while True:
                rows = result.fetchmany(chunksize)
                if not rows:
                    return
                yield pd.DataFrame.from_records(rows, columns=names, coerce_float=True)
        except sa_exc.SQLAlchemyError as exc:
            raise Invalid(f"The query failed on {masked}: {_sql_reason(exc, url)}") from None

    frame_iter = frames()
    first = next(frame_iter, None)
    if first is None:
        first = pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    inferred, _ = frame_to_batches(first, _FRAME_BATCH_ROWS)
    # Columns with no value in the first chunk are text unless a later chunk shows a type,
    # in which case the query is run again with that type (a restart).
    untyped = {f.name for f in inferred if pa.types.is_null(f.type) and f.name not in overrides}
    fields = [pa.field(f.name, overrides.get(f.name, _storage_type(f.type))) for f in inferred]
    target = _pandas_metadata(pa.schema(fields))

    def convert(df: pd.DataFrame) -> Iterator[pa.RecordBatch]:
        _, batches = frame_to_batches(df, _FRAME_BATCH_ROWS)
        for batch in batches:
            arrays = []
            for fld, arr in zip(target, batch.columns, strict=True):
                if arr.type != fld.type:
                    if fld.name in untyped and not pa.types.is_null(arr.type):
                        overrides[fld.name] = _storage_type(arr.type)
                        raise _Restart()
                    try:
                        arr = arr.cast(fld.type)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        overrides[fld.name] = _widen_arrow(fld.type, arr.type)
                        raise _Restart() from None
                arrays.append(arr)
            yield pa.RecordBatch.from_arrays(arrays, schema=target)

    def gen() -> Iterator[pa.RecordBatch]:
        yield from convert(first)
        for df in frame_iter:
            yield from convert(df)

    return target, gen()


def _widen_arrow(current: pa.DataType, found: pa.DataType) -> pa.DataType:
    if pa.types.is_integer(current) and pa.types.is_floating(found):
        return pa.float64()
    if pa.types.is_timestamp(current) and pa.types.is_timestamp(found):
        return pa.timestamp("us", tz=current.tz)
    if pa.types.is_string(current):
        # Text already: the values cannot be cast back, so this is a logic error.
        raise Invalid(f"A column changed type in a way that cannot be stored ({found}).")
    return pa.string()


def _ingest_sql(
    source: SqlSource,
    out: _ParquetOut,
    opts: dict[str, Any],
    max_bytes: int | None,
    progress: Progress | None,
) -> IngestResult:
    _check_query(source.query)
    chunksize = _int_option(opts, "chunksize", _SQL_CHUNKSIZE, minimum=1)
    overrides: dict[str, pa.DataType] = {}
    masked = _mask_sql_url(source.url)
    # Each restart fixes the type of one more column, so the loop ends; the bound is a guard.
    for _ in range(256):
        meter = _Meter(max_bytes)
        with contextlib.ExitStack() as stack:
            try:
                schema, batches = _sql_batches(source, chunksize, overrides, stack)
                drained = _drain(
                    schema, _metered(batches, meter), out, _ticker(progress, meter, None)
                )
            except _Restart:
                out.rewind()
                continue
        detail = f"{masked} :: {source.query.strip()}"
        return _result(drained, "sql", detail, "sql", meter.count)
    raise Invalid("The column types of this query could not be settled; please report it.")


def check_sql_allowed(url: str, allowlist: tuple[str, ...] | None) -> None:
    """Refuse a SQL import from a database the configuration does not allow.

    Entries match on driver, host, port, database and query parameters (the user and password
    may differ). The parameters must be exactly the entry's: a caller could otherwise add ones
    that make the driver read server files (libpq's ``sslkey``/``passfile``/``service``,
    SQLite's ``uri``).
    """
    if allowlist is None:
        return

    def identity(value: str) -> tuple[object, ...]:
        parsed = make_url(value)
        query = tuple(sorted((k, str(v)) for k, v in parsed.query.items()))
        return (parsed.drivername, parsed.host, parsed.port, parsed.database, query)

    try:
        wanted = identity(url)
    except ArgumentError:
        raise Invalid(
            "The database URL is not valid, e.g. postgresql+psycopg://user@host/db."
        ) from None
    allowed = set()
    for entry in allowlist:
        with contextlib.suppress(ArgumentError):
            allowed.add(identity(entry))
    if wanted not in allowed:
        raise Forbidden(
            "SQL import from this database is not allowed here; ask the operator to add it to "
            "c.AstralytiQ.sql_import_allowlist."
        )
