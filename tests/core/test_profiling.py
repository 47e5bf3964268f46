"""Profiling: exact statistics against pandas, edge cases, fixes for issues, HTML, clusters."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.profiling import Profile, explore_clusters, profile
from astralytiq_jupyter.core.recipe_base import schema_of
from astralytiq_jupyter.core.recipes import Recipe


@pytest.fixture(scope="module")
def numbers() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 4000
    df = pd.DataFrame(
        {
            "a": rng.lognormal(2, 1, n),
            "b": rng.integers(0, 30, n).astype("float64"),
            "c": rng.normal(size=n),
            "i": rng.integers(-5, 5, n),
        }
    )
    df["d"] = df["a"] * 2 + rng.normal(scale=0.01, size=n)
    df.loc[rng.choice(n, 300, replace=False), "a"] = np.nan
    df.loc[rng.choice(n, 200, replace=False), "b"] = np.nan
    return df


def test_numeric_statistics_are_exact(numbers):
    p = profile(numbers, bins=15, top=5)
    for name in numbers.columns:
        s, cp = numbers[name], p.column(name)
        assert cp.count == s.notna().sum() and cp.missing == s.isna().sum()
        assert cp.missing_pct == pytest.approx(100 * s.isna().mean())
        assert cp.distinct == s.nunique()
        stats = cp.numeric
        expected = {
            "mean": s.mean(),
            "std": s.std(),
            "min": s.min(),
            "max": s.max(),
            "skew": s.skew(),
            "q1": s.quantile(0.25),
            "median": s.median(),
            "q3": s.quantile(0.75),
            "sum": s.sum(),
        }
        for key, value in expected.items():
            assert stats[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (name, key)
        counts = s.value_counts()
        assert [t["count"] for t in cp.top_values] == counts.head(5).tolist()
        assert sum(cp.histogram["counts"]) == cp.count and len(cp.histogram["counts"]) <= 15
        q1, q3 = s.quantile([0.25, 0.75])
        outside = ((s < q1 - 1.5 * (q3 - q1)) | (s > q3 + 1.5 * (q3 - q1))).sum()
        assert cp.outliers["count"] == outside
    assert p.column("i").histogram["edges"][:2] == [-5.5, -4.5]  # one bar per integer


def test_correlations_match_pandas_pairwise(numbers):
    p = profile(numbers)
    names = p.correlations["columns"]
    assert names == list(numbers.columns)
    for method in ("pearson", "spearman"):
        expected = numbers[names].corr(method=method).to_numpy()
        np.testing.assert_allclose(
            np.array(p.correlations[method], dtype=float), expected, rtol=1e-9, atol=1e-12
        )
    redundant = [i for i in p.issues if i.code == "high_correlation"]
    assert redundant[0].columns == ["a", "d"]


def test_duplicates_missing_equal_missing_and_unique_shortcut():
    df = pd.DataFrame({"x": [1, 1, np.nan, np.nan, 2], "y": ["a", "a", None, None, "a"]})
    assert profile(df).duplicate_rows == df.duplicated().sum() == 2
    with_id = df.assign(id=range(5))
    assert profile(with_id).duplicate_rows == 0
    wide = pd.DataFrame({f"c{i}": np.arange(600) % (7 + i) for i in range(30)})
    wide = pd.concat([wide, wide.iloc[:50]], ignore_index=True)
    assert profile(wide).duplicate_rows == wide.duplicated().sum() == 50


def test_text_datetime_and_dataset_flags():
    n = 200
    df = pd.DataFrame(
        {
            "city": pd.Series(["Paris", "paris", " Oslo", "Zürich"] * (n // 4), dtype="str"),
            "code": pd.Series([f"id-{i}" for i in range(n)], dtype="str"),
            "free": pd.Series([f"note {i % 120}" for i in range(n)], dtype="str"),
            "price": pd.Series(
                ["1,200.5", "3", "7", "12", "4", "5", "6", "8", "9", "n/a"] * (n // 10), dtype="str"
            ),
            "count": pd.Series([str(i) for i in range(n - 1)] + ["x"], dtype="str"),
            "when": pd.Series([f"2024-01-{1 + i % 28:02d}" for i in range(n)], dtype="str"),
            "yes": pd.Series(["Yes", "no", "NO", None] * (n // 4), dtype="str"),
            "mixed": pd.Series([1, "a", 2.5, None] * (n // 4), dtype=object),
            "objnum": pd.Series([1, 2.5, None, 4] * (n // 4), dtype=object),
            "same": 7,
            "ts": pd.Series(pd.date_range("2024-03-30", periods=n, freq="h", tz="Europe/Paris")),
            "cat": pd.Series(["x", "y"] * (n // 2), dtype="category"),
        }
    )
    p = profile(df, top=3)
    city = p.column("city")
    assert city.kind == "text" and city.text["padded"] == n // 4 and city.text["max_length"] == 6
    assert [t["value"] for t in city.top_values] == ["Paris", "paris", " Oslo"]
    assert p.column("ts").datetime == {
        "min": "2024-03-30T00:00:00+01:00",
        "max": df["ts"].max().isoformat(),
        "span_days": pytest.approx((df["ts"].max() - df["ts"].min()).total_seconds() / 86400),
        "timezone": "Europe/Paris",
    }
    assert p.column("ts").histogram["edges"][0] == "2024-03-30T00:00:00+01:00"
    assert p.column("mixed").kind == "mixed" and p.column("mixed").types == {
        "number": 100,
        "text": 50,
    }
    assert p.column("objnum").kind == "numeric" and p.column("objnum").numeric["max"] == 4
    assert p.constant_columns == ["same"]
    assert p.high_cardinality_columns == ["code", "free", "count"]
    assert set(p.mixed_type_columns) == {"mixed", "count", "price"}
    codes = {(i.code, tuple(i.columns)) for i in p.issues}
    assert {
        ("whitespace", ("city",)),
        ("inconsistent_case", ("city",)),
        ("numeric_text", ("count",)),
        ("numeric_text", ("price",)),
        ("date_text", ("when",)),
        ("boolean_text", ("yes",)),
        ("mixed_types", ("mixed",)),
        ("constant", ("same",)),
        ("high_cardinality", ("free",)),
        ("missing_values", ("yes",)),
    } <= codes
    price = next(i for i in p.issues if i.code == "numeric_text" and i.columns == ["price"])
    assert price.suggestion == {"op": "to_number", "columns": ["price"], "thousands": ","}
    assert "20 values are not numbers" in price.message
    assert [i.severity for i in p.issues] == sorted(
        (i.severity for i in p.issues), key=["error", "warning", "info"].index
    )


def test_every_suggestion_is_a_valid_recipe_step_that_fixes_its_issue():
    df = pd.DataFrame(
        {
            "name": pd.Series([" Ann", "ann", "Bob", None, "bob "] * 40, dtype="str"),
            "amount": pd.Series(["1", "2", "3", "4", "x"] * 40, dtype="str"),
            "v": [1.0, 2.0, np.nan, 4.0, 500.0] * 40,
            "empty": [None] * 200,
            "flag": pd.Series(["yes", "no"] * 100, dtype="str"),
        }
    )
    p = profile(df)
    assert p.issues
    schema = schema_of(df)
    for issue in p.issues:
        recipe = Recipe.from_json([issue.suggestion])
        recipe.validate(schema)
        fixed = recipe.apply(df)
        remaining = {(i.code, tuple(i.columns)) for i in profile(fixed).issues}
        if issue.code not in ("duplicate_rows", "outliers"):  # clipping moves the quartiles
            assert (issue.code, tuple(issue.columns)) not in remaining, issue


def test_edge_cases_empty_frames_all_missing_unicode():
    empty = pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype="str")})
    p = profile(empty)
    assert p.rows == 0 and p.quality_score == 0.0 and p.duplicate_rows == 0
    assert p.column("a").numeric is None and p.column("a").flags == ["all_missing"]
    assert profile(pd.DataFrame()).columns == 0
    df = pd.DataFrame({"nothing": [np.nan] * 3, "objects": [None] * 3, "txt": ["ü", "日本", "ü"]})
    p = profile(df)
    assert [i.code for i in p.issues][:2] == ["all_missing", "all_missing"]
    assert p.column("txt").top_values[0] == {
        "value": "ü",
        "count": 2,
        "pct": pytest.approx(66.6667, rel=1e-4),
    }
    assert p.column("txt").text["max_length"] == 2
    with pytest.raises(Invalid):
        profile(df, bins=0)


def test_to_dict_is_json_safe_and_round_trips(numbers):
    df = numbers.assign(
        when=pd.date_range("2024-01-01", periods=len(numbers), freq="min", tz="UTC"),
        flag=np.arange(len(numbers)) % 3 == 0,
    )
    p = profile(df, max_chart_points=100)
    data = p.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert "NaN" not in text
    assert p.sample["size"] == 100 and len(p.sample["rows"]) == 100 and p.sample["of"] == len(df)
    again = Profile.from_dict(json.loads(text))
    assert again.to_dict() == data
    assert again.column("a").numeric["mean"] == pytest.approx(p.column("a").numeric["mean"])


def test_html_is_self_contained_and_escaped():
    hostile = "<script>alert('x')</script>"
    df = pd.DataFrame(
        {
            hostile: pd.Series(["<b>bold</b>", "<b>bold</b>", "a & b"], dtype="str"),
            "n": [1.0, 2.0, 3.0],
            "m": [3.0, 1.0, 2.0],
        }
    )
    page = profile(df).to_html(title="Report <1>")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "Report &lt;1&gt;" in page
    assert "<svg" in page and "http" not in page  # no external resource


def test_explore_clusters_finds_separated_groups():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0, 0], [10, 10, 0], [0, 10, 10]])
    points = np.vstack([c + rng.normal(scale=0.5, size=(300, 3)) for c in centres])
    df = pd.DataFrame(points, columns=["x", "y", "z"]).assign(label="t", const=1.0)
    df.loc[0, "x"] = np.nan
    result = explore_clusters(df, k_range=range(2, 6), sample=400)
    assert result["columns"] == ["x", "y", "z"]  # text and constant columns left out
    assert result["chosen_k"] == 3 and result["elbow_k"] == 3
    assert result["rows_used"] == 899 and result["sample_size"] == 400
    assert len(result["inertia"]) == len(result["silhouette"]) == len(result["k"]) == 4
    assert len(result["pca"]["points"]) == len(result["pca"]["labels"]) == 400
    assert sum(result["pca"]["explained_variance_ratio"]) <= 1.0
    assert sum(c["size"] for c in result["clusters"]) == 400
    json.dumps(result, allow_nan=False)
    with pytest.raises(Invalid, match="'label' is not numeric"):
        explore_clusters(df, columns=["x", "label"])
    with pytest.raises(Invalid, match="at least two numeric columns"):
        explore_clusters(df, columns=["x"])
    with pytest.raises(Invalid, match="'nope' does not exist"):
        explore_clusters(df, columns=["x", "nope"])
