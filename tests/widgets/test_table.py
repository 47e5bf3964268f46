import numpy as np
import pandas as pd

from astralytiq_jupyter.widgets.table import (
    MAX_PAGE_SIZE,
    ColumnInfo,
    PagedTable,
    column_infos,
    render_table,
)


def test_headers_carry_type_missing_share_and_distribution():
    df = pd.DataFrame({"n": [1.0, 2.0, np.nan, 4.0], "t": ["a", "b", "a", None]})
    infos = column_infos(df)
    assert infos["n"].missing_pct == 25.0 and infos["n"].histogram
    html = render_table(df, infos)
    assert "25.0% missing" in html and "<svg" in html
    assert html.count("<tr>") == 5  # header + 4 rows


def test_values_are_escaped_and_highlighted():
    df = pd.DataFrame({"x": ["<script>alert(1)</script>"], "y": [1]})
    changed = pd.DataFrame({"x": [True], "y": [False]})
    html = render_table(df, {"y": ColumnInfo("int64", state="added")}, changed_cells=changed)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'class="aq-changed"' in html and "aq-added" in html


def test_paging_reads_one_page_at_a_time():
    calls = []

    def fetch(offset, limit):
        calls.append((offset, limit))
        return pd.DataFrame({"i": range(offset, min(offset + limit, 1234))})

    table = PagedTable(page_size=100)
    table.show_rows(fetch, 1234)
    assert calls == [(0, 100)]
    assert "Rows 1–100 of 1,234" in table.position.value
    assert table.prev.disabled and not table.next.disabled
    table.last.click()
    assert calls[-1] == (1200, 100) and table.next.disabled
    assert "Rows 1,201–1,234 of 1,234" in table.position.value
    table.size.value = 200
    assert all(limit <= MAX_PAGE_SIZE for _, limit in calls)


def test_fetch_errors_show_in_plain_words():
    from astralytiq_jupyter.core.errors import NotFound

    def fetch(offset, limit):
        raise NotFound("Dataset 'gone' was not found.")

    table = PagedTable()
    table.show_rows(fetch, 10)
    assert "was not found" in table.error.value
