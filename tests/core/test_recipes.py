"""Recipe engine: every op, its edge cases, bad input, and generated code equal to the engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from astralytiq_jupyter.core.errors import Invalid, NotFound
from astralytiq_jupyter.core.recipe_base import schema_of
from astralytiq_jupyter.core.recipes import OPS, Recipe, op_catalog


def frame() -> pd.DataFrame:
    """Six rows of every kind of column, unicode text, tz-aware dates, an all-missing column."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "price": [10.0, np.nan, 30.0, 1000.0, 20.0, np.nan],
            "qty": [1, 2, 0, 4, 5, 2],
            "name": pd.Series(
                ["  Alice ", "BOB", None, "Zoë  Ärger", "bob", "Ålborg\t\u00a0City"], dtype="str"
            ),
            "notes": pd.Series(["a", 1, None, "b", 2.5, "c"], dtype=object),
            "city": pd.Series(
                ["Paris", "Berlin", "Paris", None, "Oslo", "Berlin"], dtype="category"
            ),
            "flag": [True, False, True, True, False, False],
            "amount_text": pd.Series(["1,200.50", "3", "n/a", None, "7.25", "1,000"], dtype="str"),
            "when_text": pd.Series(
                ["2024-01-05", "2024-02-10", "bad", None, "2024-03-01", "2024-03-15"], dtype="str"
            ),
            "yes_no": pd.Series(["Yes", "no", " Y ", "maybe", None, "FALSE"], dtype="str"),
            "ts": pd.Series(
                pd.to_datetime(
                    [
                        "2024-03-31 01:30",
                        "2024-03-31 03:30",
                        None,
                        "2024-10-27 02:30",
                        "2025-01-01 00:00",
                        "2023-12-31 23:00",
                    ]
                ).tz_localize("Europe/Paris", ambiguous=[True] * 6, nonexistent="shift_forward")
            ),
            "day": pd.to_datetime(
                ["2024-01-01", "2024-06-15", "2024-02-29", None, "2023-07-04", "2024-12-31"]
            ),
            "empty": [np.nan] * 6,
            "blank": pd.Series([None] * 6, dtype="str"),
        }
    )


CUSTOMERS = pd.DataFrame(
    {
        "id": [1, 2, 3, 9],
        "segment": pd.Series(["gold", "silver", "gold", "bronze"], dtype="str"),
        "price": [1.0, 2.0, 3.0, 4.0],
    }
)
CUSTOMERS_TEXT_KEYS = CUSTOMERS.assign(id=CUSTOMERS["id"].astype("str"))


def datasets(ref: str) -> pd.DataFrame:
    found = {"customers": CUSTOMERS, "customers@2": CUSTOMERS_TEXT_KEYS}
    if ref not in found:
        raise NotFound(f"dataset {ref!r} not found")
    return found[ref]


def run(steps: list[dict], df: pd.DataFrame | None = None) -> pd.DataFrame:
    return Recipe.from_json(steps).apply(frame() if df is None else df, datasets=datasets)


C = {"column": "price", "op": ">", "value": 15}

# At least one case per op in the registry; the codegen test fails when an op has none.
CASES: dict[str, list[dict]] = {
    "drop_missing": [
        {"op": "drop_missing"},
        {"op": "drop_missing", "columns": ["price", "name"]},
        {"op": "drop_missing", "columns": ["price", "name"], "threshold": 1.0},
        {"op": "drop_missing", "axis": "columns"},
        {"op": "drop_missing", "axis": "columns", "threshold": 0.3},
    ],
    "fill_missing": [
        {"op": "fill_missing", "columns": ["price", "empty"], "strategy": "mean"},
        {"op": "fill_missing", "columns": ["price"], "strategy": "median"},
        {"op": "fill_missing", "columns": ["name", "city", "empty"], "strategy": "mode"},
        {"op": "fill_missing", "columns": ["price", "name", "ts"], "strategy": "ffill"},
        {"op": "fill_missing", "columns": ["price", "day"], "strategy": "bfill"},
        {"op": "fill_missing", "columns": ["price"], "strategy": "interpolate"},
        {"op": "fill_missing", "columns": ["price"], "strategy": "constant", "value": 0},
        {"op": "fill_missing", "columns": ["name", "city"], "strategy": "constant", "value": "?"},
        {"op": "fill_missing", "columns": ["ts"], "strategy": "constant", "value": "2024-01-01"},
    ],
    "drop_duplicates": [
        {"op": "drop_duplicates"},
        {"op": "drop_duplicates", "columns": ["city"], "keep": "last"},
        {"op": "drop_duplicates", "columns": ["city", "flag"], "keep": "none"},
    ],
    "outliers": [
        {"op": "outliers", "columns": ["price"]},
        {"op": "outliers", "columns": ["price", "qty"], "action": "clip"},
        {"op": "outliers", "columns": ["price"], "method": "zscore", "threshold": 1.5},
        {"op": "outliers", "columns": ["qty"], "method": "modified_zscore", "action": "clip"},
        {"op": "outliers", "columns": ["empty"]},
    ],
    "text_case": [
        {"op": "text_case", "columns": ["name", "notes", "city"], "case": "lower"},
        {"op": "text_case", "columns": ["name"], "case": "upper"},
        {"op": "text_case", "columns": ["name"], "case": "title"},
        {"op": "text_case", "columns": ["name"], "case": "sentence"},
    ],
    "trim": [
        {"op": "trim", "columns": ["name", "notes"]},
        {"op": "trim", "columns": ["name"], "side": "right"},
        {"op": "trim", "columns": ["blank"], "side": "left"},
    ],
    "collapse_spaces": [{"op": "collapse_spaces", "columns": ["name", "notes"]}],
    "remove_characters": [
        {"op": "remove_characters", "columns": ["amount_text"], "classes": ["punctuation"]},
        {
            "op": "remove_characters",
            "columns": ["name", "city"],
            "classes": ["non_ascii", "whitespace"],
        },
        {"op": "remove_characters", "columns": ["notes"], "classes": ["letters", "digits"]},
    ],
    "find_replace": [
        {"op": "find_replace", "columns": ["name", "notes"], "find": "b", "replace": "β"},
        {
            "op": "find_replace",
            "columns": ["name"],
            "find": "BOB",
            "replace": "Robert",
            "match": "whole",
            "case_sensitive": False,
        },
        {
            "op": "find_replace",
            "columns": ["city"],
            "find": "Paris",
            "replace": "PAR",
            "match": "whole",
        },
        {"op": "find_replace", "columns": ["name"], "find": ".*", "replace": "x"},
    ],
    "to_number": [
        {"op": "to_number", "columns": ["amount_text"], "thousands": ","},
        {"op": "to_number", "columns": ["notes", "flag", "qty", "blank"]},
    ],
    "to_datetime": [
        {"op": "to_datetime", "columns": ["when_text"], "format": "%Y-%m-%d"},
        {"op": "to_datetime", "columns": ["when_text"]},
        {"op": "to_datetime", "columns": ["day", "ts"], "utc": True},
        {"op": "to_datetime", "columns": ["qty"], "unit": "D"},
        {"op": "to_datetime", "columns": ["blank", "empty"], "unit": "s"},
    ],
    "to_category": [
        {"op": "to_category", "columns": ["name", "flag"]},
        {
            "op": "to_category",
            "columns": ["city"],
            "categories": ["Paris", "Oslo"],
            "ordered": True,
        },
    ],
    "to_boolean": [
        {"op": "to_boolean", "columns": ["yes_no", "qty", "flag"]},
        {
            "op": "to_boolean",
            "columns": ["yes_no"],
            "true_values": ["yes", "y"],
            "false_values": ["no"],
        },
    ],
    "to_text": [{"op": "to_text", "columns": ["price", "ts", "city", "flag"]}],
    "rename_columns": [{"op": "rename_columns", "mapping": {"price": "prix", "name": "名前"}}],
    "drop_columns": [{"op": "drop_columns", "columns": ["notes", "empty"]}],
    "select_columns": [{"op": "select_columns", "columns": ["name", "id"]}],
    "reorder_columns": [
        {"op": "reorder_columns", "columns": ["ts", "name"]},
        {"op": "reorder_columns", "columns": ["id"], "position": "last"},
    ],
    "filter_rows": [
        {"op": "filter_rows", "conditions": [C]},
        {"op": "filter_rows", "conditions": [C], "action": "remove"},
        {"op": "filter_rows", "conditions": [{"column": "price", "op": "==", "value": 10}]},
        {"op": "filter_rows", "conditions": [{"column": "name", "op": "!=", "value": "BOB"}]},
        {"op": "filter_rows", "conditions": [{"column": "qty", "op": ">=", "value": 2}]},
        {"op": "filter_rows", "conditions": [{"column": "qty", "op": "<", "value": 2}]},
        {"op": "filter_rows", "conditions": [{"column": "qty", "op": "<=", "value": 2}]},
        {"op": "filter_rows", "conditions": [{"column": "qty", "op": "between", "value": [1, 4]}]},
        {
            "op": "filter_rows",
            "conditions": [{"column": "city", "op": "in", "value": ["Oslo", "Paris"]}],
        },
        {
            "op": "filter_rows",
            "conditions": [{"column": "city", "op": "not in", "value": ["Paris"]}],
        },
        {
            "op": "filter_rows",
            "conditions": [
                {"column": "name", "op": "contains", "value": "o", "case_sensitive": False}
            ],
        },
        {"op": "filter_rows", "conditions": [{"column": "notes", "op": "contains", "value": "a"}]},
        {
            "op": "filter_rows",
            "conditions": [{"column": "name", "op": "starts with", "value": "b"}],
        },
        {
            "op": "filter_rows",
            "conditions": [
                {"column": "name", "op": "starts with", "value": "b", "case_sensitive": False}
            ],
        },
        {"op": "filter_rows", "conditions": [{"column": "price", "op": "is missing"}]},
        {"op": "filter_rows", "conditions": [{"column": "price", "op": "is not missing"}]},
        {
            "op": "filter_rows",
            "conditions": [{"column": "flag", "op": "==", "value": True}, C],
            "combine": "any",
        },
        {
            "op": "filter_rows",
            "conditions": [
                {"column": "ts", "op": ">=", "value": "2024-03-31T03:00"},
                {"column": "day", "op": "between", "value": ["2024-01-01", "2024-12-31"]},
            ],
        },
        {
            "op": "filter_rows",
            "conditions": [
                {"column": "ts", "op": "in", "value": ["2025-01-01", "2024-03-31T01:30:00+01:00"]}
            ],
        },
    ],
    "sort_rows": [
        {"op": "sort_rows", "columns": ["city", "price"], "descending": [False, True]},
        {"op": "sort_rows", "columns": ["name"], "missing": "first"},
    ],
    "sample_rows": [
        {"op": "sample_rows", "n": 3, "seed": 7},
        {"op": "sample_rows", "n": 100},
        {"op": "sample_rows", "fraction": 0.5},
    ],
    "deduplicate": [
        {"op": "deduplicate", "keys": ["city"], "order_by": "price"},
        {"op": "deduplicate", "keys": ["flag"], "order_by": "ts", "keep": "lowest"},
    ],
    "arithmetic": [
        {
            "op": "arithmetic",
            "output": "total",
            "left": {"column": "price"},
            "operator": "*",
            "right": {"column": "qty"},
        },
        {
            "op": "arithmetic",
            "output": "unit",
            "left": {"column": "price"},
            "operator": "/",
            "right": {"column": "qty"},
        },
        {
            "op": "arithmetic",
            "output": "price",
            "left": {"column": "price"},
            "operator": "+",
            "right": {"value": 1.5},
        },
        {
            "op": "arithmetic",
            "output": "q",
            "left": {"value": 100},
            "operator": "//",
            "right": {"column": "qty"},
        },
        {
            "op": "arithmetic",
            "output": "r",
            "left": {"column": "id"},
            "operator": "%",
            "right": {"value": 4},
        },
        {
            "op": "arithmetic",
            "output": "d",
            "left": {"column": "qty"},
            "operator": "-",
            "right": {"column": "id"},
        },
    ],
    "date_part": [
        {"op": "date_part", "column": "ts", "part": part}
        for part in ("year", "quarter", "month", "day", "weekday", "weekday_name", "hour")
    ]
    + [
        {"op": "date_part", "column": "ts", "part": "days_since", "reference": "2025-06-01"},
        {
            "op": "date_part",
            "column": "day",
            "part": "days_since",
            "reference": "2025-01-01",
            "output": "age_days",
        },
    ],
    "conditional": [
        {
            "op": "conditional",
            "output": "band",
            "cases": [
                {"when": [{"column": "price", "op": ">=", "value": 100}], "value": "high"},
                {
                    "when": [C, {"column": "flag", "op": "==", "value": True}],
                    "combine": "any",
                    "value": "mid",
                },
            ],
            "default": "low",
        },
        {
            "op": "conditional",
            "output": "score",
            "cases": [{"when": [{"column": "name", "op": "is missing"}], "value": 1}],
        },
        {
            "op": "conditional",
            "output": "ok",
            "cases": [
                {"when": [{"column": "ts", "op": "<", "value": "2024-06-01"}], "value": True}
            ],
            "default": False,
        },
    ],
    "concatenate": [
        {
            "op": "concatenate",
            "columns": ["name", "city", "price"],
            "output": "label",
            "separator": " / ",
        },
        {
            "op": "concatenate",
            "columns": ["name", "city"],
            "output": "label",
            "skip_missing": False,
        },
    ],
    "bin": [
        {"op": "bin", "column": "price", "bins": 3},
        {"op": "bin", "column": "qty", "method": "quantile", "bins": 2, "output": "half"},
        {
            "op": "bin",
            "column": "price",
            "method": "edges",
            "edges": [0, 20, 100],
            "labels": ["cheap", "normal"],
        },
        {"op": "bin", "column": "empty", "bins": 2},
    ],
    "scale": [
        {"op": "scale", "columns": ["price", "qty"], "method": "minmax"},
        {"op": "scale", "columns": ["price", "empty"], "method": "zscore"},
        {"op": "scale", "columns": ["qty"], "method": "robust"},
    ],
    "group_by": [
        {
            "op": "group_by",
            "by": ["city"],
            "aggregations": [
                {"column": "price", "function": "sum"},
                {"column": "price", "function": "mean", "output": "avg"},
                {"function": "count_rows"},
                {"column": "name", "function": "nunique"},
                {"column": "ts", "function": "max"},
            ],
        },
        {
            "op": "group_by",
            "by": ["flag", "city"],
            "aggregations": [
                {"column": "qty", "function": "median"},
                {"column": "name", "function": "first"},
            ],
        },
    ],
    "pivot": [
        {"op": "pivot", "index": ["flag"], "columns": "city", "values": "price"},
        {
            "op": "pivot",
            "index": ["city"],
            "columns": "qty",
            "values": "id",
            "function": "count",
            "fill_value": 0,
        },
    ],
    "join": [
        {"op": "join", "dataset": "customers", "on": ["id"]},
        {
            "op": "join",
            "dataset": "customers",
            "left_on": ["qty"],
            "right_on": ["id"],
            "how": "inner",
            "suffix": "_c",
        },
    ],
}

ALL_CASES = [(name, step) for name, steps in CASES.items() for step in steps]
CASE_IDS = [f"{name}-{i}" for name, steps in CASES.items() for i in range(len(steps))]


def generated(recipe: Recipe):
    namespace: dict = {}
    exec(compile(recipe.to_code("clean"), "<generated>", "exec"), namespace)
    return namespace["clean"]


def test_every_registered_op_has_a_codegen_case():
    assert set(CASES) == set(OPS), "add a case for each new op to CASES"


@pytest.mark.parametrize(("name", "step"), ALL_CASES, ids=CASE_IDS)
def test_generated_code_equals_engine(name, step):
    recipe = Recipe.from_json([step])
    clean = generated(recipe)
    for df in (frame(), frame().iloc[:0]):  # also on an empty frame with the same columns
        expected = recipe.apply(df, datasets=datasets)
        assert_frame_equal(clean(df.copy(), datasets), expected)
        assert isinstance(expected.index, pd.RangeIndex)
        assert len(expected) <= len(df) or name == "join"


def test_generated_code_for_a_whole_recipe_and_input_left_unchanged():
    steps = [step for _, step in ALL_CASES if step["op"] in ("fill_missing", "trim")][:3] + [
        CASES["to_number"][0],
        CASES["filter_rows"][0],
        CASES["arithmetic"][0],
        CASES["date_part"][7],
        CASES["bin"][0],
    ]
    recipe = Recipe.from_json(steps)
    df = frame()
    original = df.copy()
    expected = recipe.apply(df)
    assert_frame_equal(df, original)
    assert_frame_equal(generated(recipe)(df), expected)
    assert_frame_equal(df, original)


def test_generated_code_is_self_contained_and_safe_with_hostile_names():
    name = "a'b\"\nimport os\u2028#"
    df = pd.DataFrame({name: [" x ", None]})
    recipe = Recipe.from_json(
        [{"op": "trim", "columns": [name]}, {"op": "rename_columns", "mapping": {name: "y\n1"}}]
    )
    code = recipe.to_code("tidy")
    assert code.startswith("import pandas as pd\nimport numpy as np\n")
    assert "astralytiq" not in code.lower().replace("the astralytiq recipe", "")
    assert not re.search(r"^\s*import os", code, re.M)
    namespace: dict = {}
    exec(code, namespace)
    assert_frame_equal(namespace["tidy"](df), recipe.apply(df))
    with pytest.raises(Invalid):
        recipe.to_code("not a name")


# --- behaviour of each op -----------------------------------------------------------------------


def test_drop_missing_rows_columns_and_threshold():
    assert len(run([{"op": "drop_missing", "columns": ["price"]}])) == 4
    out = run([{"op": "drop_missing", "columns": ["price", "name"], "threshold": 1.0}])
    assert len(out) == 6  # no row has both missing
    assert "empty" not in run([{"op": "drop_missing", "axis": "columns", "threshold": 1.0}])
    kept = run([{"op": "drop_missing", "axis": "columns", "threshold": 0.34}]).columns
    assert "price" in kept and "empty" not in kept  # price is 33% missing


def test_fill_missing_strategies_and_all_missing_column():
    out = run([{"op": "fill_missing", "columns": ["price", "empty"], "strategy": "median"}])
    assert out["price"].tolist() == [10.0, 25.0, 30.0, 1000.0, 20.0, 25.0]
    assert out["empty"].isna().all()  # nothing to compute a median from: stays missing
    out = run([{"op": "fill_missing", "columns": ["city", "empty"], "strategy": "mode"}])
    assert out["city"].tolist()[3] == "Berlin"  # Berlin and Paris tie: the first sorted wins
    assert (
        run([{"op": "fill_missing", "columns": ["price"], "strategy": "interpolate"}])[
            "price"
        ].tolist()[1]
        == 20.0
    )
    out = run([{"op": "fill_missing", "columns": ["city"], "strategy": "constant", "value": "?"}])
    assert out["city"].dtype == "category" and out["city"][3] == "?"
    out = run(
        [{"op": "fill_missing", "columns": ["ts"], "strategy": "constant", "value": "2024-01-01"}]
    )
    assert out["ts"][2] == pd.Timestamp("2024-01-01", tz="Europe/Paris")


def test_drop_duplicates_and_deduplicate():
    df = pd.DataFrame({"k": ["a", "a", "b", "a"], "v": [1, 3, 2, 3]})
    assert run([{"op": "drop_duplicates"}], df)["v"].tolist() == [1, 3, 2]
    assert run([{"op": "drop_duplicates", "columns": ["k"], "keep": "last"}], df)["v"].tolist() == [
        2,
        3,
    ]
    assert run([{"op": "drop_duplicates", "columns": ["k"], "keep": "none"}], df)["k"].tolist() == [
        "b"
    ]
    out = run([{"op": "deduplicate", "keys": ["k"], "order_by": "v"}], df)
    assert out.to_dict("list") == {"k": ["a", "b"], "v": [3, 2]}


def test_outliers_remove_and_clip():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 500, np.nan]})
    out, report = Recipe.from_json([{"op": "outliers", "columns": ["x"]}]).apply_with_report(df)
    assert 500 not in out["x"].tolist() and out["x"].isna().sum() == 1
    assert report.steps[0].notes == {"outliers": {"x": 1}}
    clipped = run([{"op": "outliers", "columns": ["x"], "action": "clip"}], df)["x"]
    assert clipped.max() == pytest.approx(7.75 + 1.5 * 4.5)
    z = run([{"op": "outliers", "columns": ["x"], "method": "modified_zscore"}], df)
    assert len(z) == 10
    constant = pd.DataFrame({"x": [5.0] * 4})
    assert len(run([{"op": "outliers", "columns": ["x"], "method": "zscore"}], constant)) == 4


def test_text_ops_on_str_object_and_category_dtypes_with_unicode():
    out = run([{"op": "text_case", "columns": ["name", "notes", "city"], "case": "lower"}])
    assert out["name"].tolist()[3] == "zoë  ärger"
    assert out["name"].dtype == "str" and out["city"].dtype == "category"
    assert out["notes"].tolist()[:3] == ["a", 1, None]  # non-text values of object columns kept
    out = run([{"op": "trim", "columns": ["name"]}, {"op": "collapse_spaces", "columns": ["name"]}])
    assert out["name"].fillna("-").tolist() == [
        "Alice",
        "BOB",
        "-",
        "Zoë Ärger",
        "bob",
        "Ålborg City",
    ]
    out = run([{"op": "remove_characters", "columns": ["name"], "classes": ["non_ascii"]}])
    assert out["name"][3] == "Zo  rger"
    out = run(
        [
            {
                "op": "remove_characters",
                "columns": ["amount_text"],
                "classes": ["punctuation", "letters"],
            }
        ]
    )
    assert out["amount_text"].tolist()[:3] == ["120050", "3", ""]
    out = run([{"op": "find_replace", "columns": ["name"], "find": ".*", "replace": "x"}])
    assert out["name"][0] == "  Alice "  # literal, never a pattern
    out = run(
        [
            {
                "op": "find_replace",
                "columns": ["name"],
                "find": "bob",
                "replace": "Bob",
                "match": "whole",
                "case_sensitive": False,
            }
        ]
    )
    assert out["name"].tolist()[1::3] == ["Bob", "Bob"]
    same = frame().assign(name=frame()["name"].astype(object))
    out_obj = run([{"op": "collapse_spaces", "columns": ["name"]}], same)
    assert (
        out_obj["name"].tolist()
        == run([{"op": "collapse_spaces", "columns": ["name"]}])["name"].tolist()
    )


def test_to_number_reports_failures():
    recipe = Recipe.from_json([{"op": "to_number", "columns": ["amount_text"], "thousands": ","}])
    out, report = recipe.apply_with_report(frame())
    assert out["amount_text"].tolist()[:3] == [1200.5, 3.0, None] or np.isnan(out["amount_text"][2])
    assert out["amount_text"].dtype == "float64"
    assert report.steps[0].notes["failed"] == {"amount_text": 1}
    assert report.steps[0].notes["failed_examples"] == {"amount_text": ["n/a"]}
    decimal = pd.DataFrame({"x": ["1.234,5", "7"]})
    assert run([{"op": "to_number", "columns": ["x"], "thousands": ".", "decimal": ","}], decimal)[
        "x"
    ].tolist() == [1234.5, 7.0]
    assert (
        run([{"op": "to_number", "columns": ["x"]}], pd.DataFrame({"x": ["1", "2"]}))["x"].dtype
        == "int64"
    )


def test_to_datetime_to_category_to_boolean_to_text():
    recipe = Recipe.from_json([{"op": "to_datetime", "columns": ["when_text"]}])
    out, report = recipe.apply_with_report(frame())
    assert out["when_text"][0] == pd.Timestamp("2024-01-05")
    assert report.steps[0].notes["failed"] == {"when_text": 1}
    utc = run([{"op": "to_datetime", "columns": ["ts"], "utc": True}])["ts"]
    assert str(utc.dt.tz) == "UTC" and utc[0] == frame()["ts"][0]
    mixed = pd.DataFrame({"t": ["2024-01-01T10:00+01:00", "2024-01-01T10:00+05:00"]})
    with pytest.raises(Invalid, match="utc"):
        run([{"op": "to_datetime", "columns": ["t"]}], mixed)
    assert run([{"op": "to_datetime", "columns": ["t"], "utc": True}], mixed)["t"][1].hour == 5
    cats = run(
        [
            {
                "op": "to_category",
                "columns": ["city"],
                "categories": ["Paris", "Oslo"],
                "ordered": True,
            }
        ]
    )["city"]
    assert cats.cat.ordered and cats.isna().sum() == 3
    out, report = Recipe.from_json([{"op": "to_boolean", "columns": ["yes_no"]}]).apply_with_report(
        frame()
    )
    assert out["yes_no"].tolist()[:4] == [True, False, True, pd.NA]
    assert report.steps[0].notes["failed"] == {"yes_no": 1}
    text = run([{"op": "to_text", "columns": ["price"]}])["price"]
    assert text.dtype == "str" and text[0] == "10.0" and pd.isna(text[1])


def test_columns_ops():
    out = run(
        [
            {"op": "rename_columns", "mapping": {"price": "prix"}},
            {"op": "drop_columns", "columns": ["notes"]},
            {"op": "reorder_columns", "columns": ["prix"]},
            {"op": "select_columns", "columns": ["prix", "id"]},
        ]
    )
    assert list(out.columns) == ["prix", "id"]
    with pytest.raises(Invalid, match="two columns named 'qty'"):
        Recipe.from_json([{"op": "rename_columns", "mapping": {"price": "qty"}}]).validate(
            schema_of(frame())
        )


def test_filter_semantics_missing_never_matches():
    assert run(
        [{"op": "filter_rows", "conditions": [{"column": "price", "op": "!=", "value": 10}]}]
    )["id"].tolist() == [3, 4, 5]
    assert run(
        [
            {
                "op": "filter_rows",
                "conditions": [{"column": "city", "op": "not in", "value": ["Paris"]}],
            }
        ]
    )["id"].tolist() == [2, 5, 6]
    assert run(
        [{"op": "filter_rows", "conditions": [{"column": "ts", "op": ">=", "value": "2024-06-01"}]}]
    )["id"].tolist() == [4, 5]
    nullable = pd.DataFrame({"b": pd.array([True, None, False], dtype="boolean")})
    assert (
        len(
            run(
                [{"op": "filter_rows", "conditions": [{"column": "b", "op": "==", "value": True}]}],
                nullable,
            )
        )
        == 1
    )


def test_sort_sample_and_derived_columns():
    out = run([{"op": "sort_rows", "columns": ["price"], "descending": True}])
    assert out["price"].tolist()[:2] == [1000.0, 30.0] and out["price"].isna().sum() == 2
    sample = run([{"op": "sample_rows", "n": 3, "seed": 1}])
    assert len(sample) == 3 and sample["id"].is_monotonic_increasing
    out = run(
        [
            {
                "op": "arithmetic",
                "output": "unit",
                "left": {"column": "price"},
                "operator": "/",
                "right": {"column": "qty"},
            }
        ]
    )
    assert np.isnan(out["unit"][2]) and out["unit"][0] == 10.0  # 30 / 0 is missing, not inf
    parts = run(
        [
            {"op": "date_part", "column": "ts", "part": "hour"},
            {"op": "date_part", "column": "ts", "part": "weekday_name"},
        ]
    )
    assert parts["ts_hour"].tolist()[0] == 1 and parts["ts_weekday_name"][0] == "Sunday"
    out = run(CASES["conditional"][:1])
    assert out["band"].tolist() == ["mid", "low", "mid", "high", "mid", "low"]
    out = run(CASES["concatenate"][:1])
    assert out["label"].tolist()[2] == "Paris / 30.0"
    binned = run([{"op": "bin", "column": "qty", "method": "edges", "edges": [0, 2, 5]}])["qty_bin"]
    assert binned.tolist() == ["[0, 2]", "[0, 2]", "[0, 2]", "(2, 5]", "(2, 5]", "[0, 2]"]
    scaled = run([{"op": "scale", "columns": ["qty"], "method": "minmax"}])["qty"]
    assert scaled.min() == 0 and scaled.max() == 1


def test_reshape_group_by_pivot_join():
    out = run(CASES["group_by"][:1])
    assert out["city"].tolist()[:3] == ["Berlin", "Oslo", "Paris"] and out["city"].isna().iloc[3]
    assert out["rows"].tolist() == [2, 1, 2, 1]
    wide = run(CASES["pivot"][:1])
    assert list(wide.columns) == ["flag", "Berlin", "Oslo", "Paris"]
    joined = run(CASES["join"][:1])
    assert (
        joined["segment"].tolist()[:4] == ["gold", "silver", "gold", None]
        or (joined["segment"].isna().iloc[3])
    )
    assert "price_right" in joined.columns and len(joined) == 6


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "message", "detail"),
    [
        (
            [{"op": "fil_missing"}],
            "Step 1: unknown op 'fil_missing' (did you mean 'fill_missing'",
            {"step": 1},
        ),
        (["drop"], "Step 1: a step must be an object", {"step": 1}),
        ([{"op": "trim"}], "Step 1 (trim): parameter 'columns' is required", {"param": "columns"}),
        (
            [{"op": "trim", "columns": "name"}],
            "parameter 'columns' must be a non-empty list",
            {"op": "trim"},
        ),
        ([{"op": "trim", "columns": ["name"], "sides": "both"}], "unknown parameter 'sides'", {}),
        (
            [{"op": "trim", "columns": ["name"]}, {"op": "scale", "columns": ["qty"], "method": 2}],
            "Step 2 (scale): parameter 'method' must be one of",
            {"step": 2},
        ),
        (
            [{"op": "fill_missing", "columns": ["price"], "strategy": "constant"}],
            "'value' is required",
            {},
        ),
        ([{"op": "sample_rows", "n": True}], "must be a whole number", {}),
        (
            [{"op": "filter_rows", "conditions": [{"column": "x", "op": "~="}]}],
            "unknown operator '~='",
            {"column": "x"},
        ),
        (
            [
                {
                    "op": "arithmetic",
                    "output": "x",
                    "left": {"column": "a"},
                    "operator": "/",
                    "right": {"value": 0},
                }
            ],
            "divide by the constant 0",
            {},
        ),
        (
            [
                {
                    "op": "arithmetic",
                    "output": "x",
                    "left": "price",
                    "operator": "+",
                    "right": {"value": 1},
                }
            ],
            "must be {'column': name} or {'value': number}",
            {},
        ),
    ],
)
def test_malformed_steps_name_step_and_problem(steps, message, detail):
    with pytest.raises(Invalid) as caught:
        Recipe.from_json(steps)
    assert message in str(caught.value)
    assert detail.items() <= caught.value.detail.items()


@pytest.mark.parametrize(
    ("step", "message", "column"),
    [
        (
            {"op": "fill_missing", "columns": ["prize"], "strategy": "mean"},
            "column 'prize' does not exist (did you mean 'price'?)",
            "prize",
        ),
        (
            {"op": "fill_missing", "columns": ["name"], "strategy": "mean"},
            "column 'name' holds text values (str); this step needs numeric values",
            "name",
        ),
        (
            {"op": "fill_missing", "columns": ["price"], "strategy": "constant", "value": "x"},
            "column 'price' holds numeric values",
            "price",
        ),
        ({"op": "trim", "columns": ["qty"]}, "column 'qty' holds numeric values", "qty"),
        (
            {"op": "filter_rows", "conditions": [{"column": "qty", "op": ">", "value": "3"}]},
            "column 'qty' holds numbers, so '>' needs numbers",
            "qty",
        ),
        (
            {"op": "filter_rows", "conditions": [{"column": "day", "op": ">", "value": "soon"}]},
            "'soon' is not a date",
            "day",
        ),
        (
            {
                "op": "filter_rows",
                "conditions": [{"column": "day", "op": ">", "value": "2024-01-01T00:00+02:00"}],
            },
            "has a timezone but column 'day' has none",
            "day",
        ),
        (
            {
                "op": "filter_rows",
                "conditions": [{"column": "qty", "op": "contains", "value": "1"}],
            },
            "'contains' works on text",
            "qty",
        ),
        ({"op": "date_part", "column": "name", "part": "year"}, "needs date/time values", "name"),
        ({"op": "to_datetime", "columns": ["qty"]}, "set 'unit'", "qty"),
        (
            {
                "op": "group_by",
                "by": ["city"],
                "aggregations": [{"column": "name", "function": "sum"}],
            },
            "column 'name' holds text",
            "name",
        ),
        (
            {"op": "join", "dataset": "customers@2", "on": ["id"]},
            "cannot join column 'id' (int64) with column 'id' (str) of dataset 'customers@2'",
            "id",
        ),
        (
            {"op": "join", "dataset": "customers", "left_on": ["qty"], "right_on": ["key"]},
            "column 'key' does not exist in dataset 'customers'",
            "key",
        ),
    ],
)
def test_schema_errors_name_step_and_column_before_and_during_run(step, message, column):
    recipe = Recipe.from_json([{"op": "drop_columns", "columns": ["notes"]}, step])
    schemas = {ref: schema_of(datasets(ref)) for ref in ("customers", "customers@2")}
    for attempt in (
        lambda: recipe.validate(schema_of(frame()), datasets=schemas.__getitem__),
        lambda: recipe.apply(frame(), datasets=datasets),
    ):
        with pytest.raises(Invalid) as caught:
            attempt()
        assert str(caught.value).startswith(f"Step 2 ({step['op']}): ")
        assert message in str(caught.value)
        assert caught.value.detail["step"] == 2 and caught.value.detail["column"] == column


@pytest.mark.filterwarnings("ignore:Could not infer format")
def test_conversion_failing_everywhere_is_an_error():
    df = pd.DataFrame({"x": ["a", "b", None]})
    for op, target in (
        ("to_number", "numbers"),
        ("to_datetime", "dates"),
        ("to_boolean", "true/false"),
    ):
        with pytest.raises(Invalid) as caught:
            run([{"op": op, "columns": ["x"]}], df)
        assert f"none of the 2 values in column 'x' could be read as {target}" in str(caught.value)
        assert caught.value.detail == {"column": "x", "step": 1, "op": op}


def test_join_needs_a_loader_and_reports_unknown_datasets():
    recipe = Recipe.from_json([{"op": "join", "dataset": "nope", "on": ["id"]}])
    with pytest.raises(Invalid, match="no dataset loader"):
        recipe.apply(frame())
    with pytest.raises(NotFound) as caught:
        recipe.apply(frame(), datasets=datasets)
    assert caught.value.detail["step"] == 1
    assert recipe.references() == ["nope"]


def test_saved_recipe_replayed_on_newer_version_missing_a_column():
    saved = Recipe.from_json(
        [
            {"op": "trim", "columns": ["name"]},
            {"op": "fill_missing", "columns": ["price"], "strategy": "median"},
        ]
    )
    newer = frame().drop(columns=["price"])
    with pytest.raises(Invalid, match=r"^Step 2 \(fill_missing\): column 'price' does not exist"):
        saved.validate(schema_of(newer))
    with pytest.raises(Invalid, match=r"^Step 2 \(fill_missing\): column 'price' does not exist"):
        saved.apply(newer)


def test_data_dependent_columns_checked_at_run_time():
    recipe = Recipe.from_json(
        [
            {"op": "pivot", "index": ["flag"], "columns": "city", "values": "price"},
            {
                "op": "fill_missing",
                "columns": ["Paris", "Rome"],
                "strategy": "constant",
                "value": 0,
            },
        ]
    )
    schema = recipe.validate(schema_of(frame()))  # columns after a pivot are known only at run time
    assert schema.open
    picked = Recipe.from_json(
        [
            recipe.to_json()[0],
            {"op": "select_columns", "columns": ["flag", "Paris"]},
            {"op": "fill_missing", "columns": ["Paris"], "strategy": "mean"},
        ]
    )
    assert picked.validate(schema_of(frame())) == {"flag": "bool", "Paris": "unknown"}
    assert picked.apply(frame())["Paris"].tolist() == [40.0, 40.0]  # False has no Paris row
    with pytest.raises(Invalid, match="Step 2 .*'Rome' does not exist"):
        recipe.apply(frame())


def test_unexpected_pandas_errors_become_step_errors():
    df = pd.DataFrame({"x": pd.Series(["a", 1, 2.5], dtype=object)})
    with pytest.raises(Invalid, match=r"^Step 1 \(sort_rows\): could not apply"):
        run([{"op": "sort_rows", "columns": ["x"]}], df)


# --- recipe API ---------------------------------------------------------------------------------


def test_json_round_trip_validate_chain_and_describe():
    steps = [step for _, step in ALL_CASES[::7]]
    recipe = Recipe.from_json(json.dumps(steps))
    again = Recipe.from_json(recipe.to_json())
    assert again == recipe and json.loads(json.dumps(recipe.to_json())) == recipe.to_json()
    sentences = recipe.describe()
    assert len(sentences) == len(steps) and all(s.endswith(".") for s in sentences)
    schema = Recipe.from_json([CASES["arithmetic"][0], CASES["group_by"][0]]).validate(
        schema_of(frame())
    )
    assert list(schema) == ["city", "price_sum", "avg", "rows", "name_nunique", "ts_max"]
    with pytest.raises(Invalid, match="not valid JSON"):
        Recipe.from_json("[{")


def test_report_progress_and_preview():
    recipe = Recipe.from_json(
        [
            CASES["filter_rows"][0],
            CASES["arithmetic"][0],
            CASES["to_number"][0],
            CASES["drop_columns"][0],
        ]
    )
    calls = []
    out, report = recipe.apply_with_report(
        frame(), progress=lambda done, total, what: calls.append((done, total))
    )
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    first, second, _, last = report.steps
    assert (first.rows_before, first.rows_after) == (6, 3)
    assert second.columns_added == ["total"] and last.columns_removed == ["notes", "empty"]
    assert report.to_dict()["rows_out"] == 3
    big = pd.concat([frame()] * 500, ignore_index=True)
    preview = recipe.preview(big, rows=100, head=3)
    assert preview.rows_total == 3000 and preview.rows_sampled == 100
    assert preview.steps[0].rows_before == 100 and len(preview.result) == 3
    assert preview.steps[2].columns_changed == ["amount_text"]
    json.dumps(preview.to_dict())
    broken = Recipe.from_json([CASES["trim"][0], {"op": "drop_columns", "columns": ["zzz"]}])
    failed = broken.preview(frame())
    assert len(failed.steps) == 1 and failed.error["detail"]["column"] == "zzz"


def test_check_steps_reports_every_failing_step_and_each_steps_columns():
    recipe = Recipe.from_json(
        [
            {"op": "drop_columns", "columns": ["notes"]},
            {"op": "trim", "columns": ["notes"]},  # gone: fails, and is passed over
            {"op": "rename_columns", "mapping": {"price": "prix"}},
            {"op": "fill_missing", "columns": ["price"], "strategy": "median"},  # renamed
            {"op": "join", "dataset": "customers", "on": ["id"]},
        ]
    )
    schema = schema_of(frame())
    checks = recipe.check_steps(schema, datasets=lambda ref: schema_of(datasets(ref)))
    assert [c.error is None for c in checks] == [True, False, True, False, True]
    assert "notes" in checks[0].schema_in and "notes" not in checks[1].schema_in
    assert checks[1].schema_out == checks[1].schema_in
    assert "'notes' does not exist" in checks[1].error.message
    assert not checks[1].error.message.startswith("Step")
    assert "prix" in checks[3].schema_in and "segment" in checks[4].schema_out
    with pytest.raises(Invalid, match=r"^Step 2 \(trim\)"):
        recipe.validate(schema)
    with pytest.raises(Invalid, match="head"):
        recipe.preview(frame(), head=201)


def test_catalog_lists_every_op_with_parameters():
    catalog = op_catalog()
    assert [entry["op"] for entry in catalog] == list(OPS)
    fill = next(e for e in catalog if e["op"] == "fill_missing")
    assert fill["params"]["strategy"]["choices"][0] == "constant"
    json.dumps(catalog)


def test_package_never_evaluates_text():
    core = Path(__file__).resolve().parents[2] / "astralytiq_jupyter" / "core"
    paths = sorted(core.glob("recipe*.py")) + sorted(core.glob("profiling*.py"))
    assert len(paths) >= 10
    for path in paths:
        source = path.read_text()
        assert not re.search(r"\b(eval|exec)\s*\(", source), path.name
