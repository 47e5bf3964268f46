"""Numbers, sizes, dates and values formatted for people (one place for every wizard)."""

from __future__ import annotations

import html
import math
from datetime import date, datetime
from typing import Any

__all__ = ["count", "escape", "number", "percent", "rows_caption", "size", "value"]


def escape(text: Any) -> str:
    """HTML-escape any value's text (every user-supplied string shown in HTML goes here)."""
    return html.escape(str(text), quote=True)


def count(n: int | None) -> str:
    """A whole count with thousands separators: ``5,000,000``."""
    return "–" if n is None else f"{int(n):,}"


def number(x: Any, digits: int = 4) -> str:
    """A number with sensible precision: integers with separators, others with at most two
    decimals from 1 up and ``digits`` significant digits below 1 (exponents only for the
    tiny and the huge)."""
    if x is None:
        return "–"
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(f):
        return "–"
    if math.isinf(f):
        return "∞" if f > 0 else "-∞"
    if f.is_integer() and abs(f) < 1e15:
        return f"{int(f):,}"
    magnitude = abs(f)
    if 1e-3 <= magnitude < 1e15:
        exponent = int(math.floor(math.log10(magnitude)))
        decimals = min(2, digits - 1) if exponent >= 0 else digits - 1 - exponent
        text = f"{f:,.{decimals}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{f:.{digits - 1}e}"


def percent(x: float | None, digits: int = 1) -> str:
    """A 0-100 percentage: ``12.5%``; tiny non-zero shares show as ``<0.1%``."""
    if x is None:
        return "–"
    if 0 < x < 10**-digits:
        return f"<{10**-digits:g}%"
    return f"{x:.{digits}f}%"


def size(n_bytes: int | None) -> str:
    """Bytes as ``12.3 MB`` (powers of 1,000, as file browsers show them)."""
    if n_bytes is None:
        return "–"
    value_ = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value_ < 1000 or unit == "TB":
            return f"{value_:.0f} {unit}" if unit == "B" else f"{value_:.1f} {unit}"
        value_ /= 1000
    raise AssertionError("unreachable")


def _is_missing(v: Any) -> bool:
    if v is None or type(v).__name__ in ("NAType", "NaTType"):
        return True
    try:
        return bool(v != v)  # NaN is the only value unequal to itself
    except (TypeError, ValueError):
        return False


def value(v: Any) -> str:
    """One cell of a preview: missing as an empty marker, numbers and dates formatted."""
    if _is_missing(v):
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return number(v, 6)
    if isinstance(v, datetime):
        if v.hour == v.minute == v.second == v.microsecond == 0 and v.tzinfo is None:
            return v.strftime("%Y-%m-%d")
        return v.isoformat(sep=" ", timespec="seconds")
    if isinstance(v, date):
        return v.isoformat()
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalars
        try:
            return value(v.item())
        except (TypeError, ValueError):
            pass
    return str(v)


def rows_caption(shown: int, total: int, what: str = "rows") -> str:
    """``sample of 50,000 of 5,000,000 rows`` or ``all 1,000 rows``."""
    if shown >= total:
        return f"all {count(total)} {what}"
    return f"sample of {count(shown)} of {count(total)} {what}"
