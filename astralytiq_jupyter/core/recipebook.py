"""Saved cleaning recipes, and applying recipes to dataset versions with lineage.

The recipe engine itself (ops, validation, code generation) lives in :mod:`.recipes`; this
module is where recipes meet the tenant's store: named recipes per tenant, and "apply recipe
R to version V" producing a new version whose lineage records V and R.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func

from .errors import Invalid
from .limits import check_int, check_json, check_text
from .models import SavedRecipeRecord, utcnow
from .names import check_name
from .permissions import Permission, Principal, require
from .recipes import MAX_PREVIEW_ROWS, Recipe
from .repository import check_page

if TYPE_CHECKING:
    from .dataset_versions import DatasetVersion
    from .store import Store


@dataclass(frozen=True)
class SavedRecipe:
    name: str
    description: str
    steps: list[dict[str, Any]]
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime

    @property
    def recipe(self) -> Recipe:
        return Recipe.from_json(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "steps": self.steps,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "updated_by": self.updated_by,
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_record(cls, row: SavedRecipeRecord) -> SavedRecipe:
        return cls(
            row.name,
            row.description,
            list(row.steps),
            row.created_by,
            row.created_at,
            row.updated_by,
            row.updated_at,
        )


class RecipeBook:
    """Saved recipes of a tenant and recipe application on its datasets."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- saved recipes -----------------------------------------------------------------
    def save(
        self,
        principal: Principal,
        name: str,
        recipe: Recipe | list[dict[str, Any]] | str,
        *,
        description: str | None = None,
    ) -> SavedRecipe:
        """Create or replace the recipe ``name`` (steps are validated first)."""
        with self.store.audit.action(principal, "recipe.save", f"recipe:{name}") as act:
            require(principal, Permission.RECIPE_WRITE)
            check_name(name, "recipe name")
            check_text(description, "The description")
            steps = check_json(
                _as_recipe(recipe).to_json(), "The recipe", self.store.config.json_limits
            )
            with self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                row = repo.one_or_none(SavedRecipeRecord, SavedRecipeRecord.name == name)
                if row is None:
                    row = repo.add(
                        SavedRecipeRecord(
                            name=name,
                            description=description or "",
                            steps=steps,
                            created_by=principal.user,
                            updated_by=principal.user,
                        )
                    )
                    act.detail.update(created=True)
                else:
                    row.steps = steps
                    row.updated_by = principal.user
                    row.updated_at = utcnow()
                    if description is not None:
                        row.description = description
                session.flush()
                act.detail.update(steps=len(steps))
                return SavedRecipe.from_record(row)

    def get(self, principal: Principal, name: str) -> SavedRecipe:
        self.store.audit.authorize(principal, Permission.RECIPE_READ, "recipe.get")
        check_name(name, "recipe name")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            return SavedRecipe.from_record(
                repo.get(SavedRecipeRecord, f"Recipe {name!r}", SavedRecipeRecord.name == name)
            )

    def list(
        self, principal: Principal, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[SavedRecipe]:
        self.store.audit.authorize(principal, Permission.RECIPE_READ, "recipe.list")
        check_page(limit, offset)
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            stmt = repo.select(SavedRecipeRecord)
            if search:
                stmt = stmt.where(func.lower(SavedRecipeRecord.name).like(f"%{search.lower()}%"))
            rows = session.scalars(
                stmt.order_by(SavedRecipeRecord.name).limit(limit).offset(offset)
            )
            return [SavedRecipe.from_record(r) for r in rows]

    def delete(self, principal: Principal, name: str) -> None:
        with self.store.audit.action(principal, "recipe.delete", f"recipe:{name}"):
            require(principal, Permission.RECIPE_DELETE)
            check_name(name, "recipe name")
            with self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                session.delete(
                    repo.get(SavedRecipeRecord, f"Recipe {name!r}", SavedRecipeRecord.name == name)
                )

    # -- application -------------------------------------------------------------------
    def resolve(self, principal: Principal, recipe: Recipe | list[dict[str, Any]] | str) -> Recipe:
        """A :class:`Recipe` from an object, a list of steps, JSON text or a saved name."""
        if isinstance(recipe, str) and not recipe.lstrip().startswith("["):
            return self.get(principal, recipe).recipe
        return _as_recipe(recipe)

    def apply(
        self,
        principal: Principal,
        recipe: Recipe | list[dict[str, Any]] | str,
        dataset: str,
        *,
        save_as: str | None = None,
        note: str = "",
        progress: Any = None,
    ) -> DatasetVersion:
        """Run ``recipe`` on a dataset version and store the result as a new version (of
        ``save_as``, default the same dataset) whose lineage records the input and recipe.

        The recipe is checked against the version's schema before any data is read, so
        replaying a saved recipe on a newer upload that lacks a column fails at once with a
        message naming the step and the column.
        """
        self.store.audit.authorize(principal, Permission.DATASET_WRITE, "recipe.apply")
        resolved = self.resolve(principal, recipe)
        datasets = self.store.datasets
        source = datasets.get(principal, dataset)
        target = save_as or source.name
        check_name(target, "dataset name")
        resolved.validate(source.schema, datasets=self._schema_loader(principal))
        frame = datasets.load(principal, source.ref)
        result = resolved.apply(frame, datasets=self._loader(principal), progress=progress)
        label = recipe if isinstance(recipe, str) and not recipe.lstrip().startswith("[") else None
        return datasets.save(
            principal,
            result,
            target,
            parent=source.ref,
            recipe=resolved.to_json(),
            note=note
            or (f"Recipe {label!r}" if label else f"{len(resolved.to_json())}-step recipe"),
        )

    def preview(
        self,
        principal: Principal,
        recipe: Recipe | list[dict[str, Any]] | str,
        dataset: str,
        *,
        rows: int = 1000,
        head: int = 5,
    ) -> Any:
        """Run ``recipe`` on the first ``rows`` rows and report what each step changed, with
        the first ``head`` rows of each step's result."""
        self.store.audit.authorize(principal, Permission.DATASET_READ, "recipe.preview")
        check_int(rows, "rows", 1, MAX_PREVIEW_ROWS)
        resolved = self.resolve(principal, recipe)
        frame = self.store.datasets.load(principal, dataset, limit=rows)
        return resolved.preview(frame, rows=rows, head=head, datasets=self._loader(principal))

    def _loader(self, principal: Principal) -> Any:
        """Join targets resolve inside the principal's tenant only."""
        return lambda ref: self.store.datasets.load(principal, ref)

    def _schema_loader(self, principal: Principal) -> Any:
        return lambda ref: self.store.datasets.get(principal, ref).schema


def _as_recipe(recipe: Recipe | list[dict[str, Any]] | str) -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, (list, str)):
        return Recipe.from_json(recipe)
    raise Invalid(
        "A recipe is a list of steps like [{'op': 'drop_duplicates'}], or a saved recipe name."
    )
