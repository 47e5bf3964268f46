"""Excel workbooks (.xlsx/.xlsm) into a DataFrame: one sheet, read whole with openpyxl.

Rows and columns with no value at all (formatting leftovers) are dropped; header cells are
read as names the way they are shown (``2024``, not ``2024.0``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import Invalid
from ..quality import check_column_names
from .options import _header_row, _int_option
from .sources import _ByteSource, _clean


def _read_excel(src: _ByteSource, opts: dict[str, Any]) -> pd.DataFrame:
    skip = _int_option(opts, "skip_rows", 0)
    header_index = _header_row(opts)
    null_values = opts.get("null_values")
    with src.open() as f:
        try:
            book = pd.ExcelFile(f, engine="openpyxl")
        except Exception as exc:  # openpyxl raises zip, XML and KeyError variants
            raise Invalid(
                "The file is not a valid Excel workbook (.xlsx). Open it in Excel and save it "
                f"again as .xlsx, or export it as CSV. ({type(exc).__name__}: {_clean(str(exc))})"
            ) from None
        with book:
            sheets = list(book.sheet_names)
            sheet = opts.get("sheet", 0)
            listed = ", ".join(f"'{s}'" for s in sheets)
            if isinstance(sheet, bool) or not isinstance(sheet, (int, str)):
                raise Invalid(f"The sheet option must be a sheet name or number. Sheets: {listed}.")
            if isinstance(sheet, int) and not 0 <= sheet < len(sheets):
                raise Invalid(
                    f"The workbook has no sheet number {sheet} (sheets are numbered from 0). "
                    f"Available sheets: {listed}.",
                    sheets=sheets,
                )
            if isinstance(sheet, str) and sheet not in sheets:
                raise Invalid(
                    f"Sheet '{sheet}' not found. Available sheets: {listed}.", sheets=sheets
                )
            raw = pd.read_excel(
                book,
                sheet_name=sheet,
                header=None,
                skiprows=skip,
                na_values=null_values,
                keep_default_na=null_values is None,
            )
    if header_index is None:
        # Rows and columns with no value at all are formatting leftovers in most workbooks.
        data = raw.dropna(how="all").dropna(axis=1, how="all")
        data.columns = [f"column_{i}" for i in range(1, data.shape[1] + 1)]
    else:
        if len(raw) <= header_index:
            raise Invalid(
                "The sheet has no header row" + (f" after skipping {skip} rows." if skip else ".")
            )
        header = raw.iloc[header_index]
        data = raw.iloc[header_index + 1 :]
        used = [
            i
            for i in range(raw.shape[1])
            if not (pd.isna(header.iloc[i]) and data.iloc[:, i].isna().all())
        ]
        names = [_cell_name(header.iloc[i]) for i in used]
        check_column_names(names)
        data = data.iloc[:, used].dropna(how="all")
        data.columns = names
    return data.reset_index(drop=True).infer_objects()


def _cell_name(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
