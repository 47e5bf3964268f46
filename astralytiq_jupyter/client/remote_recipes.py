"""``ws.recipes`` over the REST API: recipes run on the server; a preview's bounded frames
come back as JSON and are rebuilt here in their dtypes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..core.dataset_versions import DatasetVersion
from ..core.recipebook import SavedRecipe
from .wire import from_dict

if TYPE_CHECKING:
    from ..core.recipes import Recipe, RecipePreview
    from .remote import RemoteClient


class RemoteRecipes:
    """``ws.recipes`` over HTTP."""

    def __init__(self, client: RemoteClient) -> None:
        self._c = client

    def apply(
        self,
        recipe: Recipe | list[dict[str, Any]] | str,
        dataset: str,
        *,
        save_as: str | None = None,
        note: str = "",
        progress: Callable[..., None] | None = None,
    ) -> DatasetVersion:
        """Run a recipe (object, steps or saved name) on a version on the server; the result
        is a new version with lineage. The server runs it in one request, so ``progress`` is
        called once, as the local backend's last call: ``progress(steps, steps, "done")``."""
        body = {"recipe": _steps(recipe), "save_as": save_as, "note": note}
        version = from_dict(
            DatasetVersion, self._c.json("POST", "datasets", dataset, "apply", json=body)
        )
        if progress is not None:
            total = len(version.recipe or ())
            progress(total, total, "done")
        return version

    def preview(
        self,
        recipe: Recipe | list[dict[str, Any]] | str,
        dataset: str,
        *,
        rows: int = 1000,
        head: int = 5,
    ) -> RecipePreview:
        """Run a recipe on the first ``rows`` rows on the server and report each step (with
        the first ``head`` rows of its result)."""
        body = {"recipe": _steps(recipe), "rows": rows, "head": head}
        return _preview(self._c.json("POST", "datasets", dataset, "preview", json=body))

    def save(
        self,
        name: str,
        recipe: Recipe | list[dict[str, Any]] | str,
        *,
        description: str | None = None,
    ) -> SavedRecipe:
        steps = _steps(recipe)
        if isinstance(steps, str):
            steps = json.loads(steps)
        body = {"steps": steps, "description": description}
        return from_dict(SavedRecipe, self._c.json("PUT", "recipes", name, json=body))

    def get(self, name: str) -> SavedRecipe:
        return from_dict(SavedRecipe, self._c.json("GET", "recipes", name))

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[SavedRecipe]:
        items = self._c.items("recipes", search=search, limit=limit, offset=offset)
        return [from_dict(SavedRecipe, d) for d in items]

    def delete(self, name: str) -> None:
        self._c.request("DELETE", "recipes", name)


def _steps(recipe: Any) -> Any:
    """What the API takes for a recipe: its steps, JSON text or a saved recipe's name."""
    return recipe.to_json() if hasattr(recipe, "to_json") else recipe


def _frame(data: dict[str, Any]) -> pd.DataFrame:
    """A small frame back from its JSON form (``{"columns", "dtypes", "data"}``), each column
    in its original dtype where the JSON values convert back to it (a category keeps the
    categories it shows; the index is not part of the form)."""
    rows = data["data"]
    columns = [[row[i] for row in rows] for i in range(len(data["columns"]))]
    frame = pd.DataFrame(
        {
            i: _column(values, dtype)
            for i, (values, dtype) in enumerate(zip(columns, data["dtypes"], strict=True))
        }
    )
    frame.columns = pd.Index(data["columns"])
    return frame


def _column(values: list[Any], dtype: str) -> pd.Series:
    series = pd.Series(values, dtype=object)
    try:
        if dtype.startswith("datetime64"):
            series = pd.to_datetime(series, format="ISO8601")
        elif dtype.startswith("timedelta64"):
            series = pd.to_timedelta(series)
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series


def _preview(data: dict[str, Any]) -> RecipePreview:
    """A :class:`RecipePreview` rebuilt from its ``to_dict()`` form."""
    from ..core.recipes import RecipePreview, StepPreview

    step_fields = {f.name for f in fields(StepPreview)} - {"head"}
    steps = [
        StepPreview(
            **{k: v for k, v in step.items() if k in step_fields},
            head=_frame(step["head"]) if step["head"] is not None else None,
        )
        for step in data["steps"]
    ]
    return RecipePreview(
        rows_total=data["rows_total"],
        rows_sampled=data["rows_sampled"],
        sample=data["sample"],
        steps=steps,
        result=_frame(data["result"]),
        error=data.get("error"),
    )
