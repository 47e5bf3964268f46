"""No-code wizards (ipywidgets) over the Workspace API: ``App``, ``UploadWizard``,
``ExploreWizard``, ``CleanWizard``, ``TrainWizard``, ``PredictWizard``, ``Dashboard`` and
``DashboardBuilder``.

Importing this package is light: each wizard's module, plotly and the ML stack load when
first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "App": ".app",
    "UploadWizard": ".upload",
    "ExploreWizard": ".explore",
    "CleanWizard": ".clean",
    "TrainWizard": ".train",
    "PredictWizard": ".predict",
    "Dashboard": ".dashboard",
    "DashboardBuilder": ".dashboard_builder",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
