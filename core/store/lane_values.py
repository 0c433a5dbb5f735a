"""A lane, its lot and the lot's policy as a lane read sees them: plain frozen values.

The lane read's locking statement returns these rows on every read and nothing on its path
changes them, so they are not made ORM rows in the session (building and registering those
was most of the read's ORM bookkeeping; docs/performance.md). Being frozen, a value cannot be
changed and then silently not written: whoever changes a lot or a lane loads its row.
Functions that read either a row or a value take the protocols below, which both satisfy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Table

from core.store.base import Base
from core.store.city import LaneRow, LotRow
from core.store.lots import LotPolicyRow


class LaneFacts(Protocol):
    """What is read of a lane: a LaneRow or a LaneValue."""

    @property
    def id(self) -> int: ...
    @property
    def lot_id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def display(self) -> dict[str, Any] | None: ...


class LotFacts(Protocol):
    """What is read of a lot: a LotRow or a LotValue."""

    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def operator_id(self) -> int: ...
    @property
    def tariff_code(self) -> str: ...
    @property
    def capacity(self) -> int: ...


class PolicyFacts(Protocol):
    """What is read of a lot's policy: a LotPolicyRow or a PolicyValue."""

    @property
    def sold_spaces(self) -> int: ...
    @property
    def temporary_capacity(self) -> int | None: ...
    @property
    def block_action(self) -> str: ...
    @property
    def arrears_threshold_fen(self) -> int | None: ...
    @property
    def arrears_action(self) -> str: ...
    @property
    def stale_after_hours(self) -> int: ...
    @property
    def min_confidence(self) -> int: ...
    @property
    def collect_arrears_at_exit(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class LaneValue:
    """A lanes row, every column in the table's order."""

    id: int
    lot_id: int
    code: str
    name: str
    direction: str
    display: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class LotValue:
    """A lots row, every column in the table's order."""

    id: int
    code: str
    name: str
    kind: str
    district_id: int
    operator_id: int
    tariff_code: str
    capacity: int
    lat: Decimal
    lng: Decimal


@dataclass(frozen=True, slots=True)
class PolicyValue:
    """A lot_policies row, every column in the table's order."""

    lot_id: int
    sold_spaces: int
    temporary_capacity: int | None
    block_action: str
    arrears_threshold_fen: int | None
    arrears_action: str
    stale_after_hours: int
    min_confidence: int
    collect_arrears_at_exit: bool


VALUE_OF: dict[type[Base], type[Any]] = {
    LaneRow: LaneValue,
    LotRow: LotValue,
    LotPolicyRow: PolicyValue,
}


def column_count(row_class: type[Base]) -> int:
    """How many columns a row of the class takes in a `layout_columns` statement."""
    table = row_class.__table__
    assert isinstance(table, Table)
    return len(table.columns)


def value_of(row_class: type[Base], columns: Sequence[Any]) -> Any:
    """The frozen value of a row selected with all its table's columns; None if outer-joined
    away (its primary key NULL)."""
    if columns[0] is None:  # every key column comes first in these tables
        return None
    return VALUE_OF[row_class](*columns)


def _same_columns(row_class: type[Base], value_class: type[Any]) -> None:
    table = row_class.__table__
    assert isinstance(table, Table)
    columns = [c.key for c in table.columns]
    names = [f.name for f in fields(value_class)]
    if columns != names or not next(iter(table.columns)).primary_key:
        raise TypeError(f"{value_class.__name__} does not match {table.name}: {columns}")


for _row, _value in VALUE_OF.items():  # a column added to a table must be added here too
    _same_columns(_row, _value)
