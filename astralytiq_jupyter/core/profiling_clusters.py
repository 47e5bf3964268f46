"""Cluster exploration for the EDA tab: k-means elbow and silhouettes, and a 2-D PCA view."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import Invalid
from .limits import MAX_SEED, check_int
from .recipe_base import kind_of
from .recipes import json_value

MAX_CLUSTERS = 50  # largest k cluster exploration tries
MAX_CLUSTER_SAMPLE = 100_000  # most rows cluster exploration fits on


def cluster_counts(k_range: Iterable[int]) -> list[int]:
    """The distinct cluster counts of ``k_range``, each from 2 to :data:`MAX_CLUSTERS`,
    checked before anything is built from them: a ``range`` by its ends, anything else by
    reading at most one value more than may be given (so ``range(2, 10**30)`` and endless
    iterators are refused at once)."""
    message = (
        f"k_range must hold at most {MAX_CLUSTERS} cluster counts, each from 2 to {MAX_CLUSTERS}."
    )
    if isinstance(k_range, range) and (
        not k_range
        or min(k_range[0], k_range[-1]) < 2
        or max(k_range[0], k_range[-1]) > MAX_CLUSTERS
    ):
        raise Invalid(message)
    try:
        values = list(itertools.islice(iter(k_range), MAX_CLUSTERS + 1))
    except TypeError:
        raise Invalid("k_range must be whole numbers of clusters, e.g. range(2, 11).") from None
    if not values or len(values) > MAX_CLUSTERS:
        raise Invalid(message)
    return sorted(
        {check_int(k, "k_range", 2, MAX_CLUSTERS, label="Each k in k_range") for k in values}
    )


def check_cluster_options(sample: Any, random_state: Any) -> None:
    """The sample size and seed of a cluster exploration, checked before any data is read."""
    check_int(sample, "sample", 3, MAX_CLUSTER_SAMPLE)
    check_int(random_state, "random_state", 0, MAX_SEED)


def explore_clusters(
    df: pd.DataFrame,
    columns: Sequence[str] | None = None,
    k_range: Sequence[int] = range(2, 11),
    sample: int = 5000,
    random_state: int = 0,
) -> dict[str, Any]:
    """K-means over standardised numeric columns: elbow curve, silhouettes, chosen k, 2-D PCA.

    Models are fitted on a random sample of at most ``sample`` complete rows (stated in the
    result), which is also the set of PCA points returned.
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    if columns is None:
        columns = [
            str(c)
            for c in df.columns
            if kind_of(str(df[c].dtype)) == "numeric" and df[c].nunique(dropna=True) > 1
        ]
    wanted_ks = cluster_counts(k_range)
    check_cluster_options(sample, random_state)
    columns = list(columns)
    for c in columns:
        if c not in df.columns:
            raise Invalid(f"column '{c}' does not exist", column=c)
        if kind_of(str(df[c].dtype)) != "numeric":
            raise Invalid(f"column '{c}' is not numeric; clustering needs numbers", column=c)
    if len(columns) < 2:
        raise Invalid("clustering needs at least two numeric columns with varying values")
    data = df[columns].astype("float64").dropna()
    rows_used = len(data)
    if rows_used < 3:
        raise Invalid("fewer than 3 rows have values in every chosen column")
    picked = data.sample(n=min(sample, rows_used), random_state=random_state).sort_index()
    x = StandardScaler().fit_transform(picked.to_numpy())
    distinct = len(np.unique(x, axis=0))
    ks = [k for k in wanted_ks if k <= min(distinct, len(x) - 1)]
    if not ks:
        raise Invalid("no k in k_range fits the data (k must be at least 2 and below the rows)")
    inertia, silhouette, labels_by_k, centers_by_k = [], [], {}, {}
    score_size = min(len(x), 2000)
    for k in ks:
        model = KMeans(n_clusters=k, n_init=3, random_state=random_state).fit(x)
        inertia.append(float(model.inertia_))
        silhouette.append(
            float(
                silhouette_score(
                    x, model.labels_, sample_size=score_size, random_state=random_state
                )
            )
        )
        labels_by_k[k], centers_by_k[k] = model.labels_, model.cluster_centers_
    chosen = ks[int(np.argmax(silhouette))]
    pca = PCA(n_components=2, random_state=random_state).fit(x)
    points = pca.transform(x)
    labels = labels_by_k[chosen]
    clusters = []
    for c in range(chosen):
        members = picked[labels == c]
        clusters.append(
            {
                "cluster": c,
                "size": int(len(members)),
                "centroid": {name: json_value(members[name].mean()) for name in columns},
            }
        )
    return {
        "columns": columns,
        "rows_total": len(df),
        "rows_used": rows_used,
        "rows_dropped_missing": len(df) - rows_used,
        "sample_size": len(x),
        "standardized": True,
        "k": ks,
        "inertia": inertia,
        "silhouette": silhouette,
        "chosen_k": chosen,
        "chosen_by": "highest silhouette",
        "elbow_k": _elbow(ks, inertia),
        "clusters": clusters,
        "pca": {
            "explained_variance_ratio": [float(v) for v in pca.explained_variance_ratio_],
            "components": [[float(v) for v in row] for row in pca.components_],
            "points": [[float(a), float(b)] for a, b in points],
            "labels": [int(v) for v in labels],
        },
    }


def _elbow(ks: list[int], inertia: list[float]) -> int:
    """The k farthest below the straight line from the first to the last inertia (kneedle)."""
    if len(ks) < 3:
        return ks[0]
    x = (np.array(ks) - ks[0]) / (ks[-1] - ks[0])
    span = inertia[0] - inertia[-1]
    if span <= 0:
        return ks[0]
    y = (np.array(inertia) - inertia[-1]) / span
    return ks[int(np.argmax((1 - x) - y))]
