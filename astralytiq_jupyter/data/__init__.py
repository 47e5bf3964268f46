"""Sample data shipped with the package (for the demo notebook and the tutorials)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def sample_path(name: str = "sales") -> Path:
    """Path of a bundled sample CSV: ``sales`` is two years of daily sales by region,
    product and channel, with a few missing values and duplicate rows to clean."""
    path = Path(str(files(__name__) / f"sample_{name}.csv"))
    if not path.exists():
        raise FileNotFoundError(f"No bundled sample named {name!r}.")
    return path
