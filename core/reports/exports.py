"""A report written out: JSON-ready dict, CSV for Excel, and XLSX with yuan formats."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from core.money import format_yuan
from core.reports.tables import Cell, Column, ColumnKind, Report

YUAN_FORMAT = "#,##0.00"
_SHEET_TITLE_REFUSED = re.compile(r"[\\/?*\[\]:]")  # characters Excel refuses in a sheet name
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
    writer.writerow([_header(c) for c in report.columns])
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
    """A workbook with one sheet: title, Chinese headers, rows, 合计; yuan and % formats.

    Written in openpyxl's streaming mode: a city's month is tens of thousands of cells.
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_SHEET_TITLE_REFUSED.sub("-", report.title_zh)[:31])
    for n, column in enumerate(report.columns, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = max(12, 2 * len(column.header_zh) + 4)
    sheet.freeze_panes = "A3"
    bold = Font(bold=True)
    sheet.append([report.title_zh, f"{report.first} 至 {report.last}"])
    sheet.append([_styled(sheet, _header(c), None, bold) for c in report.columns])
    for row in report.rows:
        sheet.append([_styled(sheet, *_cell(c, row.get(c.key, ""))) for c in report.columns])
    if report.totals is not None:
        totals = report.totals
        sheet.append(
            [_styled(sheet, *_cell(c, totals.get(c.key, "")), bold) for c in report.columns]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _header(column: Column) -> str:
    return column.header_zh + ("（元）" if column.kind is ColumnKind.FEN else "")


def _styled(
    sheet: Any, value: Cell | Decimal, number_format: str | None, font: Font | None = None
) -> Any:
    """A streamed cell; a plain value when it needs no style (the cheap path)."""
    if number_format is None and font is None:
        return value
    cell = WriteOnlyCell(sheet, value=float(value) if isinstance(value, Decimal) else value)
    if number_format is not None:
        cell.number_format = number_format
    if font is not None:
        cell.font = font
    return cell
