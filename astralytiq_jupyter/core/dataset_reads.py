"""Reading stored dataset versions: the checks of a read (columns, limit, offset), and
Parquet row ranges and batches that skip what a read does not need, for loads and streams."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

from .dataset_versions import DatasetVersion
from .errors import Invalid
from .limits import check_int

STREAM_BATCH_ROWS = 65_536  # most rows per streamed batch
STREAM_BATCH_BYTES = 4 * 1024 * 1024  # about this much decoded data per streamed batch
STREAM_READ_BUFFER = 1024 * 1024
MAX_ROWS = 10**12  # the largest row count a read may ask for (any real version is smaller)


@dataclass
class TableStream:
    """Record batches of a version read lazily from its stored Parquet, with the version,
    the Arrow schema of the batches and how many rows they hold. Exhaust or close it to
    release the file."""

    version: DatasetVersion
    schema: pa.Schema
    rows: int
    batches: Generator[pa.RecordBatch, None, None]
    file: IO[bytes] = field(repr=False)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self.batches

    def close(self) -> None:
        self.batches.close()
        self.file.close()

    def __enter__(self) -> TableStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def checked_read(
    version: DatasetVersion, columns: list[str] | str | None, limit: int | None, offset: int = 0
) -> list[str] | None:
    """The ``columns`` (as a list), ``limit`` and ``offset`` of a read, refused unless they fit
    ``version``."""
    if columns is not None:
        if isinstance(columns, str):
            columns = [columns]
        unknown = [c for c in columns if c not in version.schema]
        if unknown:
            raise Invalid(
                f"Dataset {version.ref} has no column(s) {', '.join(map(repr, unknown))}; "
                f"available: {', '.join(version.schema)}.",
                columns=unknown,
            )
    if limit is not None:
        check_int(limit, "limit", 0, MAX_ROWS)
    check_int(offset, "offset", 0, MAX_ROWS)
    return columns


def batch_rows(metadata: pq.FileMetaData, columns: list[str] | None) -> int:
    """Rows per streamed batch so that one holds about ``STREAM_BATCH_BYTES`` decoded: the
    width of a row is estimated from the file's uncompressed column sizes, counting at least
    8 bytes per value (dictionary-encoded text is far larger decoded than stored)."""
    if metadata.num_rows == 0:
        return STREAM_BATCH_ROWS
    wanted = set(columns) if columns is not None else None
    widths: dict[str, float] = {}
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        for j in range(group.num_columns):
            chunk = group.column(j)
            name = chunk.path_in_schema.split(".")[0]
            if wanted is None or name in wanted:
                widths[chunk.path_in_schema] = (
                    widths.get(chunk.path_in_schema, 0.0) + chunk.total_uncompressed_size
                )
    width = sum(max(8.0, total / metadata.num_rows) for total in widths.values())
    return int(min(STREAM_BATCH_ROWS, max(1024, STREAM_BATCH_BYTES // max(width, 1.0))))


def row_range(
    parquet: pq.ParquetFile,
    columns: list[str] | None,
    offset: int,
    limit: int | None,
    batch_size: int,
) -> Generator[pa.RecordBatch, None, None]:
    """The batches of at most ``limit`` rows from row ``offset``: row groups wholly before
    ``offset`` are skipped by their metadata, never read."""
    if limit == 0:
        return
    metadata = parquet.metadata
    first, skip = 0, offset
    while first < metadata.num_row_groups and skip >= metadata.row_group(first).num_rows:
        skip -= metadata.row_group(first).num_rows
        first += 1
    if first >= metadata.num_row_groups:
        return
    remaining = limit
    groups = list(range(first, metadata.num_row_groups))
    size = batch_size if remaining is None else max(1, min(batch_size, remaining + skip))
    for batch in parquet.iter_batches(batch_size=size, columns=columns, row_groups=groups):
        if skip:
            if skip >= batch.num_rows:
                skip -= batch.num_rows
                continue
            batch, skip = batch.slice(skip), 0
        if remaining is not None:
            batch = batch.slice(0, remaining)
            remaining -= batch.num_rows
        yield batch
        if remaining is not None and remaining <= 0:
            return


def iter_batches(
    parquet: pq.ParquetFile,
    fh: IO[bytes],
    columns: list[str] | None,
    limit: int | None,
    batch_size: int,
    offset: int = 0,
) -> Generator[pa.RecordBatch, None, None]:
    """The batches of a stored file, at most ``limit`` rows from ``offset``; closes the file
    when done."""
    try:
        yield from row_range(parquet, columns, offset, limit, batch_size)
    finally:
        fh.close()
