"""``ws.recipes``: saved cleaning recipes and running them on dataset versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ...core.dataset_versions import DatasetVersion
    from ...core.recipebook import SavedRecipe
    from ...core.recipes import Recipe, RecipePreview


class RecipesContract(Protocol):
    """Recipes of the tenant: ordered JSON steps, never code."""

    def apply(
        self,
        recipe: Recipe | list[dict[str, Any]] | str,
        dataset: str,
        *,
        save_as: str | None = None,
        note: str = "",
        progress: Callable[..., None] | None = None,
    ) -> DatasetVersion:
        """Run a recipe (object, steps or saved name) on a version; store the result as a new
        version with lineage. ``progress(done, total, step)`` follows the steps; its last call
        is ``progress(steps, steps, "done")``."""
        ...

    def preview(
        self,
        recipe: Recipe | list[dict[str, Any]] | str,
        dataset: str,
        *,
        rows: int = 1000,
        head: int = 5,
    ) -> RecipePreview:
        """Run a recipe on the first ``rows`` rows and report each step (with the first
        ``head`` rows of its result); nothing is stored."""
        ...

    def save(
        self,
        name: str,
        recipe: Recipe | list[dict[str, Any]] | str,
        *,
        description: str | None = None,
    ) -> SavedRecipe:
        """Save (or replace) a recipe under ``name`` after validating every step."""
        ...

    def get(self, name: str) -> SavedRecipe:
        """A saved recipe."""
        ...

    def delete(self, name: str) -> None:
        """Delete a saved recipe."""
        ...

    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[SavedRecipe]:
        """The tenant's saved recipes, by name, a page at a time."""
        ...
