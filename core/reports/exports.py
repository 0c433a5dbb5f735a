"""A report written out: JSON-ready dict, CSV for Excel, and XLSX with yuan formats."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from core.money import format_yuan
from core.reports.tables import Cell, Column, ColumnKind, Report

YUAN_FORMAT = "#,##0.00"
RATIO_FORMAT = "0.00%"
COUNT_FORMAT = "#,##0"


def as_dict(report: Report) -> dict[str, Any]:
    """The report as JSON: money stays in fen, each column with its Chinese header."""
    return {
        "name": report.name,
        "title": report.title_zh,
        "from": report.first,
        "to": report.last,
        "columns": [
            {"key": c.key, "header": c.header_zh, "kind": c.kind.value} for c in report.columns
        ],
        "rows": [dict(row) for row in report.rows],
        "totals": dict(report.totals) if report.totals is not None else None,
        "summary": dict(report.summary),
    }


def _text(column: Column, value: Cell) -> str:
    if value == "" or column.kind is ColumnKind.TEXT:
        return str(value)
    if column.kind is ColumnKind.FEN:
        return format_yuan(int(value))
    if column.kind is ColumnKind.RATIO:
        return f"{float(value) * 100:.2f}%"
    return str(value)


def _lines(report: Report) -> list[Mapping[str, Cell]]:
    return [*report.rows, *([report.totals] if report.totals is not None else [])]


def as_csv(report: Report) -> bytes:
    """CSV in UTF-8 with a BOM (Excel then reads the Chinese), money in yuan."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([report.title_zh, f"{report.first} 至 {report.last}"])
    writer.writerow(
        [c.header_zh + ("（元）" if c.kind is ColumnKind.FEN else "") for c in report.columns]
    )
    for line in _lines(report):
        writer.writerow([_text(c, line.get(c.key, "")) for c in report.columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(column: Column, value: Cell) -> tuple[Cell | Decimal, str | None]:
    """A value as the sheet stores it, and its number format."""
    if value == "" or column.kind is ColumnKind.TEXT:
        return value, None
    if column.kind is ColumnKind.FEN:
        return Decimal(int(value)) / 100, YUAN_FORMAT
    if column.kind is ColumnKind.RATIO:
        return float(value), RATIO_FORMAT
    return int(value), COUNT_FORMAT


def as_xlsx(report: Report) -> bytes:
    """A workbook with one sheet: title, Chinese headers, rows, 合计; yuan and % formats."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = report.title_zh[:31]
    sheet.append([report.title_zh, f"{report.first} 至 {report.last}"])
    sheet.append(
        [c.header_zh + ("（元）" if c.kind is ColumnKind.FEN else "") for c in report.columns]
    )
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for line in _lines(report):
        sheet.append([_cell(c, line.get(c.key, ""))[0] for c in report.columns])
        for cell, column in zip(sheet[sheet.max_row], report.columns, strict=True):
            cell.number_format = _cell(column, line.get(column.key, ""))[1] or "General"
    if report.totals is not None:
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
    for n, column in enumerate(report.columns, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = max(12, 2 * len(column.header_zh) + 4)
    sheet.freeze_panes = "A3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
