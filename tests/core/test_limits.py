"""Bounds on what a caller may ask for (``core.limits``) and where the core services apply
them before any work: a number far out of range is refused at once (``range(2, 10**30)``
is never built), JSON is measured without recursion, times that overflow UTC are refused."""

from __future__ import annotations

import json
import resource
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from astralytiq_jupyter.core.errors import Invalid
from astralytiq_jupyter.core.limits import (
    JsonLimits,
    check_int,
    check_json,
    check_number,
    check_text,
    check_time,
    json_depth,
    parse_json,
    parse_time,
    text_depth,
)
from astralytiq_jupyter.core.names import parse_ref
from astralytiq_jupyter.core.profiling import profile
from astralytiq_jupyter.core.profiling_clusters import cluster_counts
from astralytiq_jupyter.core.recipes import MAX_STEPS, Recipe
from astralytiq_jupyter.core.repository import check_page
from astralytiq_jupyter.core.tokens import _ttl
from astralytiq_jupyter.core.training import TrainingSpec

HUGE = 10**30


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def test_check_int_refuses_out_of_range_bools_and_text() -> None:
    assert check_int(5, "n", 1, 10) == 5
    assert check_int(np.int64(7), "n", 1, 10) == 7
    for bad in (0, 11, HUGE, -HUGE, True, "5", 5.0, None, [5]):
        with pytest.raises(Invalid, match="n must be a whole number from 1 to 10"):
            check_int(bad, "n", 1, 10)
    with pytest.raises(Invalid) as raised:
        check_int(HUGE, "offset", 0, 10**9)
    assert raised.value.message == "offset must be a whole number from 0 to 1,000,000,000."
    assert raised.value.detail == {"parameter": "offset", "minimum": 0, "maximum": 10**9}


def test_check_number_refuses_infinity_nan_and_text() -> None:
    assert check_number(60, "expires_in", 60, 120) == 60.0
    for bad in (float("inf"), float("nan"), 1e400, "abc", True, 59.9, 121):
        with pytest.raises(Invalid, match="expires_in must be a number from 60 to 120"):
            check_number(bad, "expires_in", 60, 120)


def test_check_text() -> None:
    assert check_text(None, "note") is None
    assert check_text("fine", "note") == "fine"
    with pytest.raises(Invalid, match="note must be text"):
        check_text(5, "note")
    with pytest.raises(Invalid, match="note must be text"):
        check_text(None, "note", optional=False)
    with pytest.raises(Invalid, match="longer than 3 characters"):
        check_text("four", "note", 3)


def test_json_depth_is_measured_without_recursion() -> None:
    deep: list = []
    for _ in range(100_000):  # far beyond Python's recursion limit
        deep = [deep]
    assert json_depth(deep, 32) == 33  # stops counting past the limit
    assert json_depth({"a": [1, {"b": 2}]}, 32) == 3
    assert json_depth("text", 32) == 0


def test_text_depth_ignores_brackets_inside_strings() -> None:
    assert text_depth(nested(5000)) == 5000
    assert text_depth(b'{"a": "[[[[{{{{\\"[[", "b": [1]}') == 2
    assert text_depth("42") == 0


def test_check_json_limits_depth_then_size() -> None:
    limits = JsonLimits(max_bytes=1000, max_depth=4)
    check_json({"a": [[1]]}, "Settings", limits)
    with pytest.raises(Invalid, match="Settings is nested more than 4 levels deep"):
        check_json(json.loads(nested(5)), "Settings", limits)
    with pytest.raises(Invalid, match=r"Settings is 0.0 MB as JSON; the limit is 0.0 MB") as e:
        check_json({"a": "x" * 2000}, "Settings", limits)
    assert e.value.detail == {"max_bytes": 1000}


def test_parse_json_refuses_deep_or_large_text_before_parsing() -> None:
    assert parse_json("[NaN, 1]", "Body", 4)[1] == 1
    with pytest.raises(Invalid, match="Body is nested more than 32 levels deep"):
        parse_json(nested(100_000), "Body", 32)
    with pytest.raises(Invalid, match="Body is 0.0 MB; the limit is 0.0 MB"):
        parse_json("[" + "1," * 100 + "1]", "Body", 32, max_bytes=100)
    with pytest.raises(Invalid, match="Body is not valid JSON"):
        parse_json("{nope", "Body", 32)


def test_times_that_overflow_utc_are_refused() -> None:
    with pytest.raises(Invalid, match="outside the supported range"):
        parse_time("9999-12-31T23:59:59-14:00", "since")
    with pytest.raises(Invalid, match="outside the supported range"):
        check_time(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), "since")
    with pytest.raises(Invalid, match="ISO 8601"):
        parse_time("yesterday", "since")
    assert parse_time("2024-05-01T12:00:00Z", "since") == datetime(
        2024, 5, 1, 12, tzinfo=timezone.utc
    )
    assert parse_time("2024-05-01 14:00:00+02:00", "since").hour == 12
    assert parse_time("2024-05-01", "since").tzinfo == timezone.utc


def test_huge_cluster_ranges_are_refused_before_anything_is_built() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    for k_range in (range(2, HUGE), range(HUGE, 2, -1), range(HUGE, HUGE + 3)):
        with pytest.raises(Invalid, match="at most 50 cluster counts, each from 2 to 50"):
            cluster_counts(k_range)
    endless = iter(int, 1)  # zeros forever
    with pytest.raises(Invalid, match="at most 50 cluster counts"):
        cluster_counts(endless)
    with pytest.raises(Invalid, match="Each k in k_range must be a whole number from 2 to 50"):
        cluster_counts([2, HUGE])
    assert time.perf_counter() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB
    assert cluster_counts(range(2, 11)) == list(range(2, 11))
    assert cluster_counts([8, 2, 4, 4]) == [2, 4, 8]


def test_profile_options_are_bounded() -> None:
    df = pd.DataFrame({"x": range(1000)})
    for options in (
        {"bins": 20_000_000},
        {"bins": 0},
        {"top": HUGE},
        {"max_chart_points": -1},
        {"max_correlation_columns": 10**6},
        {"bins": 2.5},
    ):
        with pytest.raises(Invalid, match="must be a whole number from"):
            profile(df, **options)
    assert len(profile(df, bins=500).column("x").histogram["counts"]) <= 500


def test_pages_versions_and_token_lifetimes_are_bounded() -> None:
    with pytest.raises(Invalid, match="offset must be a whole number from 0 to 1,000,000,000"):
        check_page(10, HUGE)
    with pytest.raises(Invalid, match="limit must be a whole number from 1 to 1,000"):
        check_page(0, 0)
    with pytest.raises(Invalid, match="no version is numbered that high"):
        parse_ref(f"sales@{HUGE}")
    assert parse_ref("sales@2147483647").version == 2**31 - 1
    for bad in ("abc", 1e400, float("nan"), True, 59, 366 * 86400, [60]):
        with pytest.raises(Invalid, match="expires_in must be a number of seconds from 60"):
            _ttl(bad)
    assert _ttl(3600) == timedelta(hours=1)


def test_recipes_are_bounded_in_steps_and_depth() -> None:
    with pytest.raises(Invalid, match=f"a recipe has at most {MAX_STEPS} steps; this one has"):
        Recipe.from_json([{"op": "drop_duplicates"}] * 20_000)
    with pytest.raises(Invalid, match="the recipe is nested more than 32 levels deep"):
        Recipe.from_json(nested(5000))
    with pytest.raises(Invalid, match="the recipe is nested more than 32 levels deep"):
        Recipe.from_json(json.loads(nested(100)))
    df = pd.DataFrame({"a": [1, 1]})
    with pytest.raises(Invalid, match="rows must be a whole number from 1 to 100,000"):
        Recipe.from_json([{"op": "drop_duplicates"}]).preview(df, rows=HUGE)


@pytest.mark.parametrize(
    "option",
    [
        {"random_state": HUGE},
        {"random_state": -1},
        {"n_iter": HUGE},
        {"cv_folds": HUGE},
        {"cv_folds": True},
        {"n_jobs": HUGE},
        {"horizon": HUGE},
        {"holdout": float("nan")},
        {"holdout": "0.2"},
        {"interval_level": float("inf")},
        {"k_range": [2, HUGE]},
        {"k_range": [2]},
        {"n_clusters": HUGE},
    ],
)
def test_training_options_are_bounded(option: dict) -> None:
    with pytest.raises(Invalid, match="must be"):
        TrainingSpec.from_dict(option)
