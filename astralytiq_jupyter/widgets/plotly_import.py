"""Plotly, imported once under a lock, for every widget.

Two threads importing plotly at the same moment (a wizard's background work drawing a figure
while the kernel's thread draws another) can meet Python's import deadlock detection inside
plotly's lazy submodules and its dependencies (``_DeadlockError``). Every widget therefore
reaches plotly, and the ``figures`` module built on it, through :func:`plotly` and
:func:`figures`, which finish the first import in one thread before any other uses it.
"""

from __future__ import annotations

import threading
from types import ModuleType

__all__ = ["figures", "plotly"]

_LOCK = threading.Lock()
_LOADED: tuple[ModuleType, ModuleType, ModuleType] | None = None


def _load() -> tuple[ModuleType, ModuleType, ModuleType]:
    global _LOADED
    if _LOADED is None:  # fast path without the lock once loaded
        with _LOCK:
            if _LOADED is None:
                import plotly.graph_objects as go
                import plotly.io as pio

                # plotly resolves ``go.Figure`` (and behind it plotly.basedatatypes, its
                # validators and narwhals.stable) lazily, on first use: that chain is where
                # two threads still deadlocked, so it is completed here too
                _ = go.Figure

                from . import figures as figures_module

                _LOADED = (go, pio, figures_module)
    return _LOADED


def plotly() -> tuple[ModuleType, ModuleType]:
    """``(plotly.graph_objects, plotly.io)``, fully imported."""
    go, pio, _figures = _load()
    return go, pio


def figures() -> ModuleType:
    """The widgets' :mod:`.figures` module (which imports plotly at its top)."""
    return _load()[2]
