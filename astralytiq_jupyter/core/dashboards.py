"""Dashboards: validated JSON specs (title, dataset/model bindings, charts, KPIs, filters,
layout), stored per tenant.

A spec only *describes* a dashboard; rendering happens in the widgets. Validation is strict
(unknown keys are refused) so that a spec stored today renders the same way tomorrow, and so
that a request cannot smuggle fields such as ``tenant_id`` into storage.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_

from .errors import Conflict, Invalid, NotFound
from .limits import DEFAULT_JSON_LIMITS, check_json, json_depth
from .models import DashboardRecord
from .names import check_name, parse_ref
from .permissions import Permission, Principal, require
from .repository import check_page

if TYPE_CHECKING:
    from .store import Store

MAX_SPEC_BYTES = 256 * 1024
MAX_ITEMS = 100
CHART_TYPES = (
    "bar",
    "line",
    "area",
    "scatter",
    "pie",
    "histogram",
    "box",
    "heatmap",
    "treemap",
    "table",
)
#: The aggregations of charts and KPIs: those computed next to the data (``aggregate``);
#: "nunique" is the older name of "count_distinct", still read.
AGGREGATIONS = ("sum", "mean", "median", "min", "max", "count", "count_distinct")
_RENAMED_AGGREGATIONS = {"nunique": "count_distinct"}
FILTER_TYPES = ("select", "multi_select", "range", "date_range")
PERIODS = ("day", "week", "month", "quarter", "year")
GRID_COLUMNS = 12

_TOP = {
    "name",
    "title",
    "description",
    "bindings",
    "filters",
    "kpis",
    "charts",
    "predictions",
    "layout",
    "theme",
}
_BINDINGS = {"datasets", "models"}
_FILTER = {"id", "title", "dataset", "column", "type", "default"}
_KPI = {"id", "title", "dataset", "column", "agg", "format", "model", "date_column", "period"}
_CHART = {"id", "title", "type", "dataset", "x", "y", "color", "agg", "limit", "model", "unit"}
_PREDICTION = {"id", "title", "model"}
_LAYOUT = {"item", "x", "y", "w", "h"}
_THEME = {"primary_color", "secondary_color", "show_logo"}


@dataclass(frozen=True)
class Dashboard:
    name: str
    title: str
    spec: dict[str, Any]
    revision: int
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime

    @classmethod
    def from_record(cls, row: DashboardRecord) -> Dashboard:
        return cls(
            row.name,
            row.title,
            dict(row.spec),
            row.revision,
            row.created_by,
            row.created_at,
            row.updated_by,
            row.updated_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "spec": self.spec,
            "revision": self.revision,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "updated_by": self.updated_by,
            "updated_at": self.updated_at.isoformat(),
        }


def _keys(obj: Any, allowed: set[str], where: str, required: tuple[str, ...] = ()) -> dict:
    if not isinstance(obj, dict):
        raise Invalid(f"{where} must be an object.")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise Invalid(
            f"{where} has unknown field(s): {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}.",
            fields=unknown,
        )
    missing = [k for k in required if obj.get(k) in (None, "")]
    if missing:
        raise Invalid(f"{where} needs: {', '.join(missing)}.", fields=missing)
    return obj


def _text(value: Any, where: str, limit: int = 200, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or len(value) > limit:
        raise Invalid(f"{where} must be text of at most {limit} characters.")


def _items(spec: dict, key: str) -> list:
    items = spec.get(key, [])
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise Invalid(f"'{key}' must be a list of at most {MAX_ITEMS} entries.")
    return items


def validate_spec(spec: Any) -> dict[str, Any]:
    """Check a dashboard spec and return it normalised; raise :class:`Invalid` with a
    message naming the offending part otherwise (the caller's dict is left as it is)."""
    spec = _keys(copy.deepcopy(spec), _TOP, "The dashboard spec", ("name", "title"))
    check_name(spec["name"], "dashboard name")
    _text(spec["title"], "'title'", optional=False)
    _text(spec.get("description"), "'description'", limit=4000)
    if json_depth(spec, DEFAULT_JSON_LIMITS.max_depth) > DEFAULT_JSON_LIMITS.max_depth:
        raise Invalid(
            f"The dashboard spec is nested more than {DEFAULT_JSON_LIMITS.max_depth} levels deep."
        )
    if len(json.dumps(spec, default=str)) > MAX_SPEC_BYTES:
        raise Invalid(f"The dashboard spec is larger than {MAX_SPEC_BYTES // 1024} KB.")

    bindings = _keys(spec.get("bindings", {}), _BINDINGS, "'bindings'")
    datasets = bindings.get("datasets", {})
    models = bindings.get("models", {})
    for kind, table, alias in (("dataset", datasets, False), ("model", models, True)):
        if not isinstance(table, dict):
            raise Invalid(f"'bindings.{kind}s' must map a local name to a {kind} reference.")
        for local, ref in table.items():
            check_name(local, f"{kind} binding name")
            parse_ref(ref, allow_alias=alias, what=kind)

    ids: set[str] = set()

    def item_id(item: dict, where: str) -> None:
        check_name(item.get("id"), f"{where} id")
        if item["id"] in ids:
            raise Invalid(f"Two dashboard items share the id {item['id']!r}.")
        ids.add(item["id"])

    def bound(item: dict, where: str, key: str = "dataset", table: dict = datasets) -> None:
        if item.get(key) is not None and item[key] not in table:
            raise Invalid(
                f"{where} uses {key} {item[key]!r}, which 'bindings.{key}s' does not define."
            )

    for i, flt in enumerate(_items(spec, "filters")):
        where = f"Filter {i + 1}"
        _keys(flt, _FILTER, where, ("id", "dataset", "column", "type"))
        item_id(flt, where)
        bound(flt, where)
        _text(flt["column"], f"{where} column")
        _text(flt.get("title"), f"{where} title")
        if flt["type"] not in FILTER_TYPES:
            raise Invalid(f"{where} type must be one of: {', '.join(FILTER_TYPES)}.")
    for i, kpi in enumerate(_items(spec, "kpis")):
        where = f"KPI {i + 1}"
        _keys(kpi, _KPI, where, ("id", "agg"))
        item_id(kpi, where)
        if kpi.get("dataset") is None:
            raise Invalid(f"{where} needs a dataset.")
        bound(kpi, where)
        bound(kpi, where, "model", models)
        _text(kpi.get("column"), f"{where} column")
        _text(kpi.get("title"), f"{where} title")
        _text(kpi.get("format"), f"{where} format", limit=32)
        kpi["agg"] = _RENAMED_AGGREGATIONS.get(kpi["agg"], kpi["agg"])
        if kpi["agg"] not in AGGREGATIONS:
            raise Invalid(f"{where} agg must be one of: {', '.join(AGGREGATIONS)}.")
        if kpi["agg"] != "count" and not kpi.get("column"):
            raise Invalid(f"{where} needs a column to compute '{kpi['agg']}'.")
        _text(kpi.get("date_column"), f"{where} date_column")
        if (kpi.get("period") is None) != (kpi.get("date_column") is None):
            raise Invalid(f"{where} compares periods only with both 'date_column' and 'period'.")
        if kpi.get("period") is not None and kpi["period"] not in PERIODS:
            raise Invalid(f"{where} period must be one of: {', '.join(PERIODS)}.")
    for i, chart in enumerate(_items(spec, "charts")):
        where = f"Chart {i + 1}"
        _keys(chart, _CHART, where, ("id", "type", "dataset"))
        item_id(chart, where)
        bound(chart, where)
        bound(chart, where, "model", models)
        if chart["type"] not in CHART_TYPES:
            raise Invalid(f"{where} type must be one of: {', '.join(CHART_TYPES)}.")
        for key in ("x", "y", "color", "title"):
            _text(chart.get(key), f"{where} {key}")
        if chart.get("agg") is not None:
            chart["agg"] = _RENAMED_AGGREGATIONS.get(chart["agg"], chart["agg"])
            if chart["agg"] not in AGGREGATIONS:
                raise Invalid(f"{where} agg must be one of: {', '.join(AGGREGATIONS)}.")
        if chart.get("unit") is not None and chart["unit"] not in PERIODS:
            raise Invalid(f"{where} unit must be one of: {', '.join(PERIODS)}.")
        limit = chart.get("limit")
        if limit is not None and (not isinstance(limit, int) or not 1 <= limit <= 100_000):
            raise Invalid(f"{where} limit must be a whole number between 1 and 100000.")
    for i, panel in enumerate(_items(spec, "predictions")):
        where = f"Prediction panel {i + 1}"
        _keys(panel, _PREDICTION, where, ("id", "model"))
        item_id(panel, where)
        bound(panel, where, "model", models)
        _text(panel.get("title"), f"{where} title")
    for i, cell in enumerate(_items(spec, "layout")):
        where = f"Layout cell {i + 1}"
        _keys(cell, _LAYOUT, where, ("item",))
        if cell["item"] not in ids:
            raise Invalid(
                f"{where} places {cell['item']!r}, which is not a filter, KPI, chart or "
                "prediction panel."
            )
        for key, low, high in (
            ("x", 0, GRID_COLUMNS - 1),
            ("y", 0, 10_000),
            ("w", 1, GRID_COLUMNS),
            ("h", 1, 100),
        ):
            value = cell.get(key)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high
            ):
                raise Invalid(f"{where} {key} must be a whole number between {low} and {high}.")
        if cell.get("x", 0) + cell.get("w", 1) > GRID_COLUMNS:
            raise Invalid(f"{where} runs past the {GRID_COLUMNS}-column grid.")
    theme = _keys(spec.get("theme", {}), _THEME, "'theme'")
    for key in ("primary_color", "secondary_color"):
        value = theme.get(key)
        if value is not None and not (
            isinstance(value, str)
            and len(value) == 7
            and value.startswith("#")
            and all(c in "0123456789abcdefABCDEF" for c in value[1:])
        ):
            raise Invalid(f"theme.{key} must be a colour like '#1f6feb'.")
    return json.loads(json.dumps(spec))


class DashboardService:
    """Dashboard specs of a tenant, acting as a :class:`Principal`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(
        self, principal: Principal, spec: dict[str, Any], *, expected_revision: int | None = None
    ) -> Dashboard:
        """Create or replace the dashboard named by ``spec['name']``. With
        ``expected_revision`` a concurrent edit is refused instead of overwritten."""
        name = spec.get("name") if isinstance(spec, dict) else None
        with self.store.audit.action(principal, "dashboard.save", f"dashboard:{name}") as act:
            require(principal, Permission.DASHBOARD_WRITE)
            spec = check_json(
                validate_spec(spec), "The dashboard spec", self.store.config.json_limits
            )
            with self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                row = repo.one_or_none(DashboardRecord, DashboardRecord.name == spec["name"])
                if (
                    expected_revision is not None
                    and (row.revision if row else 0) != expected_revision
                ):
                    raise Conflict(
                        f"Dashboard {spec['name']!r} was changed by someone else (revision "
                        f"{row.revision if row else 0}, you edited {expected_revision}); reload it."
                    )
                if row is None:
                    row = repo.add(
                        DashboardRecord(
                            name=spec["name"],
                            title=spec["title"],
                            spec=spec,
                            revision=1,
                            created_by=principal.user,
                            updated_by=principal.user,
                        )
                    )
                else:
                    row.title, row.spec = spec["title"], spec
                    row.revision += 1
                    row.updated_by = principal.user
                    row.updated_at = datetime.now(timezone.utc)
                session.flush()
                act.detail.update(revision=row.revision)
                return Dashboard.from_record(row)

    def get(self, principal: Principal, name: str) -> Dashboard:
        self.store.audit.authorize(principal, Permission.DASHBOARD_READ, "dashboard.get")
        check_name(name, "dashboard name")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            return Dashboard.from_record(
                repo.get(DashboardRecord, f"Dashboard {name!r}", DashboardRecord.name == name)
            )

    def list(
        self, principal: Principal, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Dashboard]:
        self.store.audit.authorize(principal, Permission.DASHBOARD_READ, "dashboard.list")
        check_page(limit, offset)
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            stmt = repo.select(DashboardRecord)
            if search:
                pattern = f"%{search.lower()}%"
                stmt = stmt.where(
                    or_(
                        func.lower(DashboardRecord.name).like(pattern),
                        func.lower(DashboardRecord.title).like(pattern),
                    )
                )
            stmt = stmt.order_by(DashboardRecord.name).limit(limit).offset(offset)
            return [Dashboard.from_record(r) for r in session.scalars(stmt)]

    def publish(self, principal: Principal, name: str) -> str:
        """The shareable address of a saved dashboard: the dashboard app (Voila) with the
        dashboard's name in its query string. Viewers of the tenant may open it; others are
        told it does not exist."""
        from urllib.parse import urlencode

        with self.store.audit.action(principal, "dashboard.publish", f"dashboard:{name}"):
            require(principal, Permission.DASHBOARD_WRITE)
            check_name(name, "dashboard name")
            self.get(principal, name)  # exists for this tenant, or NotFound
            return f"{self.store.config.dashboard_app_url}?{urlencode({'name': name})}"

    def delete(self, principal: Principal, name: str) -> None:
        with self.store.audit.action(principal, "dashboard.delete", f"dashboard:{name}"):
            require(principal, Permission.DASHBOARD_DELETE)
            check_name(name, "dashboard name")
            with self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                row = repo.one_or_none(DashboardRecord, DashboardRecord.name == name)
                if row is None:
                    raise NotFound(f"Dashboard {name!r} not found.")
                session.delete(row)
