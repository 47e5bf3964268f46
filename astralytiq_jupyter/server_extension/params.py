"""Typed specs of every query parameter and JSON body field the API takes: the one place
that states each one's type and bounds. The route table lists them per operation; the base
handler validates requests with them before any work starts, and the OpenAPI document is
written from them (``minimum``, ``maximum``, ``enum``, ``pattern``, ``maxLength``).

The bounds are the core's own constants (``core.limits`` and the services'), so the API
refuses at the door exactly what the core would refuse later, with the same message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from ..core.aggregate import MAX_FILTERS, MAX_SAMPLE
from ..core.dataset_reads import MAX_ROWS
from ..core.errors import Invalid
from ..core.ingest import FORMAT_ALIASES, FORMATS
from ..core.limits import MAX_INT32, MAX_SEED, MAX_TEXT, check_number, parse_time, shown
from ..core.permissions import Role
from ..core.profiling import MAX_BINS, MAX_TOP
from ..core.profiling_clusters import MAX_CLUSTER_SAMPLE, MAX_CLUSTERS
from ..core.recipes import MAX_HEAD, MAX_PREVIEW_ROWS, MAX_STEPS
from ..core.repository import MAX_OFFSET, MAX_PAGE
from ..core.tenancy import PLANS
from ..core.tokens import MAX_TTL, MIN_TTL
from ..core.training_slots import ACTIONS as TRAINING_ACTIONS
from ..core.upload_query import MAX_ROW_NUMBER

#: Names of datasets, models, recipes and dashboards (``core.names``), in the ECMA regex
#: dialect of JSON Schema; the core also refuses '..' anywhere in a name.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
ALIAS_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,62}$"
DATASET_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}(@[1-9][0-9]{0,9})?$"
REF_PATTERN = (
    r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}(@([1-9][0-9]{0,9}|[A-Za-z][A-Za-z0-9_\-]{0,62}))?$"
)
SLUG_PATTERN = r"^[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?$"
_INTEGER = re.compile(r"-?[0-9]{1,20}")
_INTEGER_LIST = r"^[0-9]{1,3}(,[0-9]{1,3}){0,99}$"

#: The JSON types a spec may take (``date-time`` and ``integers`` are strings in a query).
KINDS = (
    "integer",
    "number",
    "string",
    "boolean",
    "date-time",
    "integers",
    "array",
    "object",
    "any",
)


@dataclass(frozen=True)
class Param:
    """One query parameter or body field: its type, bounds and meaning."""

    name: str
    kind: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    max_length: int | None = None
    min_length: int | None = None
    max_items: int | None = None
    required: bool = False
    #: Body fields: ``null`` is accepted and means "not given".
    nullable: bool = True
    #: A typical value, shown in the OpenAPI document.
    example: Any = None
    #: Query parameters only: given once per value (``?v=a&v=b``), read as a list of at
    #: most ``max_items`` values.
    repeated: bool = False

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind

    def but(self, **changes: Any) -> Param:
        """A copy with some attributes changed (the same field, described for another route)."""
        return replace(self, **changes)

    # -- the OpenAPI document ----------------------------------------------------------------
    def schema(self, *, in_body: bool = False) -> dict[str, Any]:
        """The JSON Schema of the value."""
        schema: dict[str, Any]
        if self.kind == "date-time":
            schema = {"type": "string", "format": "date-time"}
        elif self.kind == "integers":
            schema = {"type": "string", "pattern": _INTEGER_LIST}
        elif self.kind == "any":
            schema = {}
        else:
            schema = {"type": self.kind}
        for key, value in (
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("pattern", self.pattern),
            ("maxLength", self.max_length),
            ("minLength", self.min_length),
            ("maxItems", self.max_items),
        ):
            if value is not None:
                schema[key] = value
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.example is not None:
            schema["examples"] = [self.example]
        if in_body and self.nullable and not self.required and "type" in schema:
            schema["type"] = [schema["type"], "null"]
            if "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        return schema

    def query_document(self) -> dict[str, Any]:
        schema = self.schema()
        if self.repeated:
            schema = {"type": "array", "items": schema, "maxItems": self.max_items}
        document = {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "schema": schema,
            "description": self.description,
        }
        if self.repeated:
            document.update(style="form", explode=True)
        return document

    # -- validation ----------------------------------------------------------------------------
    def _range(self) -> str:
        return f"from {shown(self.minimum or 0)} to {shown(self.maximum or 0)}"

    def parse_query(self, raw: str) -> Any:
        """The value of a query parameter, converted and checked."""
        where = f"Query parameter '{self.name}'"
        if raw == "" and self.kind != "string":
            raise Invalid(f"{where} is empty; give a value or leave it out.", parameter=self.name)
        if self.kind == "integer":
            if not _INTEGER.fullmatch(raw):
                raise Invalid(
                    f"{where} must be a whole number {self._range()}.", parameter=self.name
                )
            return self._bounded(int(raw), where)
        if self.kind == "boolean":
            if raw not in ("true", "false"):
                raise Invalid(f"{where} must be 'true' or 'false'.", parameter=self.name)
            return raw == "true"
        if self.kind == "date-time":
            return parse_time(raw, self.name, label=where)
        if self.kind == "integers":
            if not re.fullmatch(_INTEGER_LIST[1:-1], raw):
                raise Invalid(
                    f"{where} must list whole numbers separated by commas, e.g. 2,4,8.",
                    parameter=self.name,
                )
            return [self._bounded(int(v), where) for v in raw.split(",")]
        return self._checked_text(raw, where)

    def check_body(self, value: Any) -> Any:
        """A JSON body field's value, checked (``None`` passes for optional nullable fields)."""
        where = f"Field '{self.name}'"
        if value is None and self.nullable and not self.required:
            return None
        kind = self.kind
        if kind == "integer":
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # JSON Schema: 3.0 is an integer
            if isinstance(value, bool) or not isinstance(value, int):
                raise Invalid(
                    f"{where} must be a whole number {self._range()}.", parameter=self.name
                )
            return self._bounded(value, where)
        if kind == "number":
            assert self.minimum is not None and self.maximum is not None
            return check_number(value, self.name, self.minimum, self.maximum, label=where)
        expected = {"string": str, "boolean": bool, "array": list, "object": dict}.get(kind)
        if expected is not None and not isinstance(value, expected):
            article = "an" if kind[0] in "aeiou" else "a"
            noun = "text" if kind == "string" else f"{article} {kind}"
            raise Invalid(f"{where} must be {noun}.", parameter=self.name)
        if kind == "string":
            return self._checked_text(value, where)
        if kind == "array" and self.max_items is not None and len(value) > self.max_items:
            raise Invalid(
                f"{where} has {len(value):,} items; at most {self.max_items:,} are allowed.",
                parameter=self.name,
                maximum=self.max_items,
            )
        return value

    def _bounded(self, value: int, where: str) -> int:
        low = self.minimum if self.minimum is not None else float("-inf")
        high = self.maximum if self.maximum is not None else float("inf")
        if not low <= value <= high:
            raise Invalid(
                f"{where} must be a whole number {self._range()}.",
                parameter=self.name,
                minimum=self.minimum,
                maximum=self.maximum,
            )
        return value

    def _checked_text(self, value: str, where: str) -> str:
        if self.min_length is not None and len(value) < self.min_length:
            raise Invalid(f"{where} is empty.", parameter=self.name)
        if self.max_length is not None and len(value) > self.max_length:
            raise Invalid(
                f"{where} is longer than {self.max_length:,} characters.", parameter=self.name
            )
        if self.enum is not None and value not in self.enum:
            raise Invalid(
                f"{where} must be one of: {', '.join(self.enum)}.",
                parameter=self.name,
                allowed=list(self.enum),
            )
        return value


def integer(name: str, low: int, high: int, description: str, **kw: Any) -> Param:
    return Param(name, "integer", description, minimum=low, maximum=high, **kw)


def text(name: str, description: str, max_length: int = 255, **kw: Any) -> Param:
    return Param(name, "string", description, max_length=max_length, **kw)


def choice(name: str, values: tuple[str, ...], description: str, **kw: Any) -> Param:
    return Param(name, "string", description, enum=values, **kw)


# -- query parameters ---------------------------------------------------------------------------
SEARCH = text("search", "Case-insensitive substring of the name.", 128)
LIMIT = integer("limit", 1, MAX_PAGE, "Page size (default 100).")
OFFSET = integer("offset", 0, MAX_OFFSET, "Items to skip.")
PAGE = (LIMIT, OFFSET)
LISTING = (SEARCH, *PAGE)
ROW_LIMIT = integer("limit", 0, MAX_ROWS, "At most this many rows (default: all).")
ROW_OFFSET = integer("offset", 0, MAX_ROWS, "Rows to skip first (default 0).")
DOWNLOAD_FORMAT = choice(
    "format",
    ("parquet", "arrow", "csv"),
    "parquet (default, or what Accept names), arrow (IPC stream) or csv.",
)
UPLOAD_FORMAT = choice(
    "format",
    (*FORMATS, *FORMAT_ALIASES),
    "The file format, if not detected from the file name.",
)
COLUMNS = text("columns", "Comma-separated column names.", 100_000)
DESCRIPTION = text("description", "Description of the dataset.", MAX_TEXT)
NOTE = text("note", "Note on this version.", MAX_TEXT)
SEED = integer("random_state", 0, MAX_SEED, "Seed of the sample and of k-means (default 0).")
BINS = integer("bins", 1, MAX_BINS, "Histogram bins per numeric column (default 20).")
TOP = integer("top", 0, MAX_TOP, "Most frequent values listed per column (default 10).")
K_LIST = Param(
    "k",
    "integers",
    "Comma-separated cluster counts to try, e.g. 2,4,8.",
    minimum=2,
    maximum=MAX_CLUSTERS,
)
K_MIN = integer("k_min", 2, MAX_CLUSTERS, "Smallest cluster count (default 2).")
K_MAX = integer("k_max", 2, MAX_CLUSTERS, "Largest cluster count (default 10).")
SAMPLE = integer("sample", 3, MAX_CLUSTER_SAMPLE, "Rows sampled for clustering (default 5000).")
SAMPLE_N = integer("n", 1, MAX_SAMPLE, "Rows in the sample (default 5000).")
SAMPLE_SEED = integer(
    "seed", 0, MAX_SEED, "Seed of the random sample (the same seed gives the same rows)."
)
#: Longest JSON text taken in a query parameter (the ``recipe`` of a saved DataFrame).
MAX_QUERY_JSON = 64 * 1024
SAMPLE_FILTERS = text(
    "filters",
    f"A JSON list of at most {MAX_FILTERS} conditions the sampled rows meet, as in recipes' "
    "filter_rows (a dashboard's filters).",
    MAX_QUERY_JSON,
    example='[{"column": "region", "op": "in", "value": ["EU"]}]',
)
UPLOAD = (
    choice(
        "mode",
        ("ingest", "save"),
        "'ingest' (read a file, the default) or 'save' (a Parquet DataFrame).",
    ),
    UPLOAD_FORMAT,
    text("filename", "The uploaded file's name (helps format detection)."),
    DESCRIPTION,
    NOTE,
    text("parent", "Mode 'save': the version this one derives from (lineage).", 200),
    text("recipe", "Mode 'save': the recipe steps (JSON) that produced it.", MAX_QUERY_JSON),
)
FORCE = Param(
    "force",
    "boolean",
    "Store a new version even when the latest one holds the same content (default: that "
    "version is answered with 200 and 'reused').",
)

#: The file's read options of a streamed upload (decoded by ``core.upload_query``).
UPLOAD_READ = (
    text("delimiter", "CSV/TSV: the field delimiter, one character (default: detected).", 8),
    text("encoding", "CSV/TSV: the text encoding, e.g. latin-1 (default: detected).", 64),
    text(
        "header",
        "CSV/TSV/Excel: 'true' (default: the first row holds the names), 'false' (columns "
        "are named column_1..) or the row number of the names.",
        11,
        pattern=r"^(true|false|[0-9]{1,10})$",
    ),
    integer("skip_rows", 0, MAX_ROW_NUMBER, "CSV/TSV/Excel: rows to skip at the top."),
    text(
        "null_values",
        "CSV/TSV/Excel: a text read as missing; repeat the parameter for several (replaces "
        "the default list).",
        64,
        repeated=True,
        max_items=1000,
    ),
    text("sheet", "Excel: the sheet's name (default: the first sheet)."),
    integer("sheet_number", 0, MAX_ROW_NUMBER, "Excel: the sheet's position, from 0."),
    text("records_path", "JSON: dotted path to the list of records inside the document.", 1000),
)

# -- body fields --------------------------------------------------------------------------------
DATASET_REF = text("dataset", "A dataset version reference.", 200, pattern=DATASET_REF_PATTERN)
TRAINING_ACTION = choice(
    "action", TRAINING_ACTIONS, "What the training does (default model.train); audited."
)
SAVE_AS = text("save_as", "Name of the dataset to store the result in.", 128, pattern=NAME_PATTERN)
RECIPE = Param(
    "recipe",
    "any",
    "The recipe: a list of steps, the same as JSON text, or the name of a saved recipe.",
    required=True,
    example=[{"op": "drop_duplicates"}],
)
ROLE = choice("role", tuple(r.value for r in Role), "A role.")
PLAN = choice("plan", tuple(PLANS), "A plan.")
DISPLAY_NAME = text("display_name", "Display name.", 200)
USERNAME = text("username", "A username.", 200, required=True, min_length=1)
RECIPE_NAME = text("name", "The recipe's name.", 128, pattern=NAME_PATTERN, required=True)
STEPS = Param(
    "steps",
    "array",
    "The recipe's steps.",
    max_items=MAX_STEPS,
    required=True,
    example=[{"op": "drop_duplicates"}],
)
RECIPE_DESCRIPTION = DESCRIPTION.but(description="Description of the recipe.")
DASHBOARD = (
    Param(
        "spec", "object", "The dashboard spec (name, title, bindings, charts, ...).", required=True
    ),
    integer(
        "expected_revision",
        0,
        MAX_INT32,
        "Refuse the save unless the stored revision is this one (0: it must not exist yet).",
    ),
)
PREVIEW_ROWS = integer("rows", 1, MAX_PREVIEW_ROWS, "Rows to run it on (default 1000).")
PREVIEW_HEAD = integer("head", 0, MAX_HEAD, "Rows of each step's result shown (default 5).")
VERSION = integer("version", 1, MAX_INT32, "A version number.", required=True)
EXPIRES_IN = Param(
    "expires_in",
    "number",
    "Seconds until the token expires (default 30 days).",
    minimum=MIN_TTL.total_seconds(),
    maximum=MAX_TTL.total_seconds(),
)
