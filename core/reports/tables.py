"""A report as finance reads it: columns with Chinese headers, rows, totals and a chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

Cell = str | int | float


class ColumnKind(StrEnum):
    """How a column's values are written: text, a count, fen shown as yuan, or a ratio."""

    TEXT = "text"
    COUNT = "count"
    FEN = "fen"
    RATIO = "ratio"


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its key in the rows, its Chinese header, its kind."""

    key: str
    header_zh: str
    kind: ColumnKind = ColumnKind.FEN


@dataclass(frozen=True, slots=True)
class Chart:
    """What a chart of the report plots: rows' `x` against some columns, as bars or lines."""

    x: str
    series: tuple[str, ...]
    line: bool = False


@dataclass(frozen=True, slots=True)
class Report:
    """A finished report; money in fen, ratios from 0 to 1."""

    name: str
    title_zh: str
    first: str
    last: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Cell], ...]
    totals: Mapping[str, Cell] | None = None
    summary: Mapping[str, Cell] = field(default_factory=dict)
    chart: Chart | None = None

    def header(self, key: str) -> str:
        """The Chinese header of a column."""
        return next(c.header_zh for c in self.columns if c.key == key)


def add_totals(columns: Sequence[Column], rows: Sequence[Mapping[str, Cell]]) -> dict[str, Cell]:
    """The totals row: counts and fen summed, the first column says 合计, ratios left empty."""
    totals: dict[str, Cell] = {}
    for n, column in enumerate(columns):
        if column.kind in (ColumnKind.FEN, ColumnKind.COUNT):
            totals[column.key] = sum(int(row.get(column.key, 0)) for row in rows)
        else:
            totals[column.key] = "合计" if n == 0 else ""
    return totals


def ratio(part: int, whole: int) -> float:
    """part / whole, 0 for an empty whole, to four places."""
    return round(part / whole, 4) if whole else 0.0
