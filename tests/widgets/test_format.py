from datetime import date, datetime

import pandas as pd

from astralytiq_jupyter.widgets import format as fmt


def test_counts_and_numbers_are_for_people():
    assert fmt.count(5_000_000) == "5,000,000"
    assert fmt.number(1234.5678) == "1,234.57"
    assert fmt.number(0.000123456) == "1.235e-04"
    assert fmt.number(0.5) == "0.5"
    assert fmt.number(0.923456, 3) == "0.923"
    assert fmt.number(3.14159) == "3.14"
    assert fmt.number(42.0) == "42"
    assert fmt.number(float("nan")) == "–"
    assert fmt.number(None) == "–"


def test_percent_size_and_captions():
    assert fmt.percent(12.345) == "12.3%"
    assert fmt.percent(0.01) == "<0.1%"
    assert fmt.size(999) == "999 B"
    assert fmt.size(12_300_000) == "12.3 MB"
    assert fmt.rows_caption(50_000, 5_000_000) == "sample of 50,000 of 5,000,000 rows"
    assert fmt.rows_caption(1000, 1000) == "all 1,000 rows"


def test_cell_values():
    assert fmt.value(None) == ""
    assert fmt.value(float("nan")) == ""
    assert fmt.value(pd.NA) == ""
    assert fmt.value(pd.NaT) == ""
    assert fmt.value(1234567) == "1,234,567"
    assert fmt.value(True) == "true"
    assert fmt.value(datetime(2024, 3, 1)) == "2024-03-01"
    assert fmt.value(pd.Timestamp("2024-03-01 10:30")) == "2024-03-01 10:30:00"
    assert fmt.value(date(2024, 3, 1)) == "2024-03-01"
    assert fmt.escape("<b>&") == "&lt;b&gt;&amp;"
