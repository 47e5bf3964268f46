"""Ingest: read a file, upload, URL, SQL query or DataFrame into one Parquet file.

``ingest_to_parquet`` is the only entry point the dataset service needs. It validates the
input, converts it to Arrow batch by batch, computes the quality summary in the same pass and
writes a single Parquet file (zstd, pandas metadata) to the caller's sink.

Sources (``source_kind``):

* ``"file"``: a local path (``str`` or ``os.PathLike``), or a
  :class:`~..workspace_files.WorkspaceFile` a server's workspace rule allowed.
* ``"url"``: an ``http://`` or ``https://`` URL, downloaded with SSRF protections
  (:mod:`.url`).
* ``"upload"``: ``bytes`` or a binary file object; needs ``filename=`` or ``format=``.
* ``"sql"``: a :class:`SqlSource` (SQLAlchemy URL and one SELECT/WITH query).
* ``"dataframe"``: a pandas DataFrame.

Formats: csv, tsv, excel (.xlsx/.xlsm), json (array of records, or JSON lines), jsonl,
parquet, arrow (IPC file or stream, .feather). Read options: :mod:`.options`. Excel and
JSON inputs are read whole, Parquet by row group; ``max_bytes`` bounds them.

Rejected with :class:`Invalid` (and nothing written to the sink): 0-byte files, files that
are not text (NUL bytes, undecodable), wrong explicit encodings, rows whose field count
differs from the header (truncated or unquoted delimiters), empty or duplicate column names,
unsupported extensions and schemes, malformed JSON/Excel/Parquet/Arrow, SQL that is not a
single SELECT/WITH or cannot connect. A CSV with a header and no data rows is a valid
0-row dataset (all columns text); its quality report flags it.

One module per concern; each imports only modules listed above it, so there is no cycle:

* :mod:`.options`: formats, file extensions, read options and their checks;
* :mod:`.sources`: re-readable byte sources and the ``max_bytes`` meter;
* :mod:`.sink`: the Parquet writer and the batch pipeline every source shares (quality in
  the same pass, flattening, the schema convention of :class:`IngestResult`);
* :mod:`.text`: encoding and delimiter detection, the plan of a CSV read;
* :mod:`.csv_reader`: the CSV/TSV engines, their restarts and errors;
* :mod:`.excel_reader`, :mod:`.json_reader`, :mod:`.columnar` (Parquet and Arrow);
* :mod:`.url`: downloads with SSRF protection;
* :mod:`.sql`: read-only queries;
* :mod:`.dispatch`: ``ingest_to_parquet``, which sends each source to its reader.
"""

from __future__ import annotations

from .csv_reader import SMALL_CSV_BYTES as SMALL_CSV_BYTES
from .dispatch import ingest_to_parquet
from .json_reader import MAX_JSON_FILE_DEPTH as MAX_JSON_FILE_DEPTH
from .options import FORMAT_ALIASES as FORMAT_ALIASES
from .options import FORMATS, READ_OPTIONS, check_read_options, detect_format
from .sink import IngestResult
from .sources import Progress as Progress
from .sql import SqlSource
from .text import MAX_CSV_ROW_BYTES as MAX_CSV_ROW_BYTES

__all__ = [
    "FORMATS",
    "READ_OPTIONS",
    "check_read_options",
    "IngestResult",
    "SqlSource",
    "detect_format",
    "ingest_to_parquet",
]
