"""Formatting fen for people stays in integers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import format_yuan


@pytest.mark.parametrize(
    ("fen", "text"), [(0, "0.00"), (5, "0.05"), (150, "1.50"), (2000, "20.00"), (-5, "-0.05")]
)
def test_format_yuan(fen: int, text: str) -> None:
    assert format_yuan(fen) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_yuan_round_trips_exactly(fen: int) -> None:
    text = format_yuan(fen)
    whole, _, cents = text.lstrip("-").partition(".")
    assert (-1 if text.startswith("-") else 1) * (int(whole) * 100 + int(cents)) == fen
