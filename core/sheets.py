"""Tables a clerk opens in a spreadsheet: headers, rows, fen shown as yuan, and CSV output."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from core.money import format_yuan
from core.payments import SHANGHAI

Cell = str | int | date | datetime | None


@dataclass(frozen=True, slots=True)
class Sheet:
    """One table; the columns in `fen_columns` hold fen and are shown in yuan."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    fen_columns: frozenset[int] = field(default_factory=frozenset)
    total_label: str | None = None  # when set, a last row sums the fen columns

    def total_row(self) -> tuple[Cell, ...] | None:
        """The totals row: the label first, the sum of each fen column, blanks elsewhere."""
        if self.total_label is None:
            return None
        cells: list[Cell] = [None] * len(self.headers)
        cells[0] = self.total_label
        for column in self.fen_columns:
            cells[column] = sum(_fen(row[column]) for row in self.rows)
        return tuple(cells)

    def all_rows(self) -> list[tuple[Cell, ...]]:
        """The rows, then the totals row if there is one."""
        total = self.total_row()
        return [*self.rows, *([total] if total is not None else [])]


def _fen(cell: Cell) -> int:
    return cell if isinstance(cell, int) else 0


def yuan(fen: int) -> Decimal:
    """Fen as an exact yuan amount (never through float)."""
    return Decimal(fen) / 100


def local_time(moment: datetime) -> datetime:
    """An instant as Beijing wall time, as a clerk reads it."""
    return moment.astimezone(SHANGHAI).replace(tzinfo=None)


def text_of(cell: Cell, is_fen: bool) -> str:
    """A cell as CSV text: yuan with two decimals, Beijing times, empty for None."""
    if cell is None:
        return ""
    if is_fen and isinstance(cell, int):
        return format_yuan(cell)
    if isinstance(cell, datetime):
        return local_time(cell).isoformat(sep=" ", timespec="seconds")
    return str(cell)


def to_csv(sheet: Sheet) -> bytes:
    """UTF-8 with a byte-order mark, so Excel reads the Chinese headers."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(sheet.headers)
    for row in sheet.all_rows():
        writer.writerow([text_of(c, i in sheet.fen_columns) for i, c in enumerate(row)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
