"""The lane read's frozen values of lanes, lots and policies mirror their tables' columns."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from core.store.city import LotRow
from core.store.lane_values import LotValue, PolicyValue, _same_columns, column_count, value_of
from core.store.lots import LotPolicyRow


def test_a_value_is_built_from_its_row_columns_and_cannot_be_changed() -> None:
    columns = (7, "LOT-A", "甲", "public", 1, 2, "T-LOT", 120, Decimal("30.1"), Decimal("120.2"))
    assert column_count(LotRow) == len(columns)
    lot = value_of(LotRow, columns)
    assert isinstance(lot, LotValue) and (lot.id, lot.capacity, lot.tariff_code) == (
        7,
        120,
        "T-LOT",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        lot.capacity = 10  # type: ignore[misc]  # a change would never be written


def test_an_outer_joined_row_that_is_not_there_is_none() -> None:
    assert value_of(LotPolicyRow, (None,) * column_count(LotPolicyRow)) is None


def test_a_value_class_that_does_not_match_its_table_is_refused() -> None:
    with pytest.raises(TypeError, match="does not match lots"):
        _same_columns(LotRow, PolicyValue)
