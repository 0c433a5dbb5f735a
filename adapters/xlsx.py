"""Sheets rendered as XLSX with openpyxl: bold Chinese headers, yuan number format, totals."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font

from core.sheets import Cell, Sheet, local_time, yuan

YUAN_FORMAT = "#,##0.00"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


def to_xlsx(sheet: Sheet) -> bytes:
    """One worksheet named after the sheet; fen columns as yuan numbers."""
    book = Workbook()
    page = book.active
    assert page is not None  # a new workbook always has its first worksheet
    page.title = sheet.title[:31]
    page.append(list(sheet.headers))
    for cell in page[1]:
        cell.font = Font(bold=True)
    rows = sheet.all_rows()
    for number, row in enumerate(rows, start=2):
        page.append([_value(c, i in sheet.fen_columns) for i, c in enumerate(row)])
        for column in sheet.fen_columns:
            page.cell(row=number, column=column + 1).number_format = YUAN_FORMAT
        for index, value in enumerate(row):
            if isinstance(value, datetime):
                page.cell(row=number, column=index + 1).number_format = TIME_FORMAT
    if sheet.total_label is not None and rows:
        for cell in page[len(rows) + 1]:
            cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _value(cell: Cell, is_fen: bool) -> Decimal | Cell:
    if is_fen and isinstance(cell, int):
        return yuan(cell)
    if isinstance(cell, datetime):
        return local_time(cell)
    return cell
