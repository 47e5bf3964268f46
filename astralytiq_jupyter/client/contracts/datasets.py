"""``ws.datasets``: immutable, numbered versions of the tenant's tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from ...core.aggregate import Aggregate
    from ...core.dataset_versions import DatasetSummary, DatasetVersion
    from ...core.profiling import Profile


class DatasetsContract(Protocol):
    """Datasets of the tenant. A reference is ``"name"`` (latest) or ``"name@3"``."""

    def ingest(
        self,
        source: Any,
        name: str,
        *,
        format: str | None = None,
        filename: str | None = None,
        description: str | None = None,
        note: str = "",
        progress: Callable[[int, int | None], None] | None = None,
        force: bool = False,
        **read_options: Any,
    ) -> DatasetVersion:
        """Read a path, URL, bytes, file object, DataFrame or ``SqlSource`` into a new version
        of ``name`` (or, when the latest version holds the same content, return it with
        ``reused=True`` unless ``force``). ``read_options`` are the format's (``delimiter``,
        ``sheet``, ``skip_rows``...); ``progress(done, total)`` follows the bytes read."""
        ...

    def save(
        self,
        df: pd.DataFrame,
        name: str,
        *,
        parent: str | None = None,
        recipe: list[dict[str, Any]] | None = None,
        note: str = "",
        description: str | None = None,
        force: bool = False,
    ) -> DatasetVersion:
        """Store a DataFrame as a new version of ``name`` (with lineage when derived), or
        return the latest version with ``reused=True`` when it holds the same data and lineage
        (unless ``force``). See :mod:`astralytiq_jupyter.core.frames` for what is stored."""
        ...

    def get(self, ref: str) -> DatasetVersion:
        """One version (``"sales"`` is the latest, ``"sales@3"`` version 3)."""
        ...

    def versions(self, name: str) -> list[DatasetVersion]:
        """Every version of a dataset, oldest first."""
        ...

    def load(
        self,
        ref: str,
        *,
        columns: list[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Rows of a version: all, some ``columns``, or ``limit`` rows from row ``offset``."""
        ...

    def delete(self, name: str, version: int | None = None) -> int:
        """Delete one version, or the whole dataset; returns how many versions went."""
        ...

    def profile(self, ref: str, **options: Any) -> Profile:
        """EDA and quality report of a version (exact statistics on all rows)."""
        ...

    def sample(
        self,
        ref: str,
        n: int = 5000,
        *,
        columns: list[str] | None = None,
        seed: int = 0,
        filters: list[dict[str, Any]] | None = None,
    ) -> pd.DataFrame:
        """A uniform random sample of ``n`` rows of a version (all rows if fewer) among the
        rows meeting ``filters`` (conditions as in recipes)."""
        ...

    def aggregate(self, ref: str, query: dict[str, Any]) -> Aggregate:
        """Groups, time buckets and metrics of a version, computed next to the data."""
        ...

    def explore_clusters(
        self,
        ref: str,
        *,
        columns: Sequence[str] | None = None,
        k_range: Sequence[int] = range(2, 11),
        sample: int = 5000,
        random_state: int = 0,
    ) -> dict[str, Any]:
        """K-means elbow, silhouettes and a 2-D PCA view of a version's numeric columns."""
        ...

    # ``list`` last: a method named ``list`` shadows the builtin in later annotations.
    def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DatasetSummary]:
        """The tenant's datasets (latest version of each), by name, a page at a time."""
        ...
