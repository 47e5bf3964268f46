"""Automatic preprocessing decisions: column kinds, drops with reasons, date parts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from astralytiq_jupyter.core import preprocessing as pp
from astralytiq_jupyter.core.errors import Invalid


def test_plan_classifies_columns_and_explains_drops():
    n = 200
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "order_id": np.arange(n),
            "account_key": rng.permutation(n) * 7,  # distinct, not consecutive, id-like name
            "amount": rng.normal(size=n),
            "quantity": rng.integers(1, 5, n),  # few distinct integers: a number, not a class
            "region": rng.choice(["north", "south"], n),
            "signup": pd.Series(pd.date_range("2020-01-01", periods=n)).dt.strftime("%Y-%m-%d"),
            "vip": rng.random(n) < 0.2,
            "empty": np.nan,
            "same": "x",
            "email": [f"user{i}@example.com" for i in range(n)],
            "code": pd.Series(rng.integers(0, 1500, n)).astype(str) + "-z",
            "wait": pd.to_timedelta(rng.integers(1, 9, n), "D"),
        }
    )
    frame.loc[0, "code"] = frame.loc[1, "code"]  # not all distinct, yet free text
    plan = pp.plan_preprocessing(frame, list(frame.columns))
    assert plan.numeric == ["amount", "quantity"]
    assert plan.categorical == ["region"]
    assert plan.datetime == ["signup"]
    assert plan.boolean == ["vip"]
    reasons = {d["column"]: d["reason"] for d in plan.dropped}
    assert set(reasons) == {"order_id", "account_key", "empty", "same", "email", "code", "wait"}
    assert "identifier" in reasons["order_id"] and "identifier" in reasons["account_key"]
    assert reasons["empty"] == "all values are missing"
    assert reasons["same"] == "constant (every value is 'x')"
    assert "free text" in reasons["code"] and "timedelta" in reasons["wait"]
    assert len(plan.notes()) == 7


def test_explicitly_requested_free_text_is_an_error():
    frame = pd.DataFrame({"email": [f"u{i}@x.org" for i in range(50)], "n": np.arange(50.0)})
    with pytest.raises(Invalid, match="'email'.*distinct"):
        pp.plan_preprocessing(frame, ["email", "n"], explicit=True)
    assert pp.plan_preprocessing(frame, ["email", "n"]).numeric == ["n"]


def test_numbers_in_text_are_not_mistaken_for_dates():
    frame = pd.DataFrame({"size": ["1", "2", "3", "2"] * 10, "d": ["2024-01-02"] * 39 + [None]})
    plan = pp.plan_preprocessing(frame, ["size", "d"])
    assert plan.categorical == ["size"]
    assert plan.dropped == [{"column": "d", "reason": "constant (every value is '2024-01-02')"}]


def test_date_parts_add_time_only_when_present():
    days = pd.DataFrame({"d": pd.date_range("2024-03-01", periods=3, freq="D")})
    parts = pp.DateParts().fit(days)
    assert list(parts.get_feature_names_out()) == ["d_year", "d_month", "d_day", "d_day_of_week"]
    np.testing.assert_array_equal(parts.transform(days)[0], [2024, 3, 1, 4])
    stamps = pd.DataFrame({"t": ["2024-03-01 10:30", None, "2024-03-02 00:00"]})
    parts = pp.DateParts().fit(stamps)
    out = parts.transform(stamps)
    assert out.shape == (3, 6) and out[0, 4:].tolist() == [10, 30] and np.isnan(out[1]).all()


def test_kinds_for_signatures_without_kinds():
    assert pp.kind_of_dtype("int64") == "numeric"
    assert pp.kind_of_dtype("Float64") == "numeric"
    assert pp.kind_of_dtype("bool") == "boolean"
    assert pp.kind_of_dtype("datetime64[ns, UTC]") == "datetime"
    assert pp.kind_of_dtype("str") == "categorical"


def test_describe_inputs_records_ranges_categories_and_dates():
    """Each signature column gets what the training data held: numbers' range and median,
    the categories most frequent first (bounded, with the true count), booleans' most frequent
    value, dates' range; the contract keys stay as they were."""
    many = [f"c{i:03d}" for i in range(pp.MAX_SIGNATURE_CATEGORIES + 50)]
    frame = pd.DataFrame(
        {
            "units": [3, 7, 5, None, 9],
            "price": ["1.5", "2.5", "x", "3.5", "4.5"],  # text numbers; "x" is not counted
            "region": ["b", "a", "b", None, "c"],
            "flag": [True, False, True, True, None],
            "day": pd.to_datetime(["2024-01-03", "2024-01-01", None, "2024-02-01", "2024-01-05"]),
            "when": pd.to_datetime(["2024-01-01 10:30"] * 5),
        }
    )
    signature = [
        {"name": "units", "dtype": "float64", "kind": "numeric"},
        {"name": "price", "dtype": "str", "kind": "numeric"},
        {"name": "region", "dtype": "str", "kind": "categorical"},
        {"name": "flag", "dtype": "bool", "kind": "boolean"},
        {"name": "day", "dtype": "datetime64[ns]", "kind": "datetime"},
        {"name": "when", "dtype": "datetime64[ns]", "kind": "datetime"},
        {"name": "absent", "dtype": "float64", "kind": "numeric"},
    ]
    described = pp.describe_inputs(frame, signature)
    by_name = {c["name"]: c for c in described}
    assert [c["name"] for c in described] == [c["name"] for c in signature]
    assert all({"name", "dtype", "kind"} <= set(c) for c in described)
    assert by_name["units"]["stats"] == {
        "count": 4, "min": 3.0, "max": 9.0, "median": 6.0, "integer": True
    }  # fmt: skip
    assert by_name["price"]["stats"]["min"] == 1.5 and by_name["price"]["stats"]["count"] == 4
    assert by_name["price"]["stats"]["integer"] is False
    assert by_name["region"]["stats"] == {
        "count": 4, "categories": ["b", "a", "c"], "n_categories": 3, "most_frequent": "b"
    }  # fmt: skip
    assert by_name["flag"]["stats"]["most_frequent"] is True
    assert by_name["flag"]["stats"]["share_true"] == pytest.approx(0.75)
    assert by_name["day"]["stats"] == {
        "count": 4,
        "min": "2024-01-01",
        "max": "2024-02-01",
        "median": "2024-01-03",
        "with_time": False,
    }
    assert by_name["when"]["stats"]["min"] == "2024-01-01T10:30:00"
    assert by_name["when"]["stats"]["with_time"] is True
    assert "stats" not in by_name["absent"]
    # bounded: the most frequent categories, with the true count beside them
    wide = pd.DataFrame({"c": many + ["c007"] * 3})
    stats = pp.describe_inputs(wide, [{"name": "c", "dtype": "str", "kind": "categorical"}])[0]
    assert len(stats["stats"]["categories"]) == pp.MAX_SIGNATURE_CATEGORIES
    assert stats["stats"]["n_categories"] == len(many)
    assert stats["stats"]["categories"][0] == "c007" == stats["stats"]["most_frequent"]
    # describing again replaces, never nests
    assert pp.describe_inputs(frame, described) == described
