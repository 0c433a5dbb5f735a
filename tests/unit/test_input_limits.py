"""The input limits: JSON depth, NUL, 64-bit integers, finite floats, plausible years, row ids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import AwareDatetime, BaseModel

from core.errors import ValidationFailedError
from server.input_limits import (
    MAX_DEPTH,
    check_event_ids,
    check_model,
    epoch_time,
    loads,
    parse_row_id,
)


def code_of(call: Any, *args: Any) -> str:
    with pytest.raises(ValidationFailedError) as caught:
        call(*args)
    assert caught.value.status == 400
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.message_zh)
    return caught.value.code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("[" * 100_000 + "]" * 100_000, "json_too_deep"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "json_too_deep"),
        ('{"a": "x\\u0000y"}', "nul_character"),
        ('{"x\\u0000": 1}', "nul_character"),
        ('{"a": [1, 9223372036854775808]}', "number_out_of_range"),
        ('{"a": -9223372036854775809}', "number_out_of_range"),
        ('{"a": NaN}', "number_out_of_range"),
        ('{"a": -Infinity}', "number_out_of_range"),
        ('{"a": 1e400}', "number_out_of_range"),
        ("{not json", "invalid_request"),
        (b"\xff\xfe\xfa", "invalid_request"),
    ],
)
def test_bad_json_is_refused_naming_the_problem(text: str | bytes, code: str) -> None:
    assert code_of(loads, text) == code


def test_json_within_the_limits_is_decoded() -> None:
    deepest = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads(deepest) is not None
    assert loads('{"a": 9223372036854775807, "b": -9223372036854775808, "c": 1.5}') == {
        "a": 2**63 - 1,
        "b": -(2**63),
        "c": 1.5,
    }
    assert loads('{"plate": "浙B12345"}'.encode()) == {"plate": "浙B12345"}


class Event(BaseModel):
    at: AwareDatetime
    day: date | None = None
    note: str = ""
    tags: list[str] = []


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (Event(at=datetime(1, 1, 1, tzinfo=UTC)), "time_out_of_range"),
        (Event(at=datetime(9999, 12, 31, tzinfo=UTC)), "time_out_of_range"),
        (Event(at=datetime(2026, 1, 1, tzinfo=UTC), day=date(2101, 1, 1)), "time_out_of_range"),
        (Event(at=datetime(2026, 1, 1, tzinfo=UTC), note="a\x00"), "nul_character"),
        (Event(at=datetime(2026, 1, 1, tzinfo=UTC), tags=["ok", "\x00"]), "nul_character"),
    ],
)
def test_validated_models_are_checked(event: Event, code: str) -> None:
    assert code_of(check_model, event) == code


def test_plausible_models_pass() -> None:
    check_model(Event(at=datetime(1970, 1, 1, tzinfo=UTC), day=date(2100, 12, 31)))


def test_epoch_times_outside_the_window_are_refused() -> None:
    assert epoch_time(1_764_032_400, "sec") == datetime(2025, 11, 25, 1, 0, tzinfo=UTC)
    for seconds in (-1, 10**12, 2**63 - 1):
        assert code_of(epoch_time, seconds, "sec") == "time_out_of_range"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("2147483647", 2147483647),
        ("2147483648", None),
        ("0", None),
        ("²", None),
        ("١٢", None),
        ("1_0", None),
        (" 1", None),
        ("", None),
    ],
)
def test_row_ids_in_paths(text: str, expected: int | None) -> None:
    assert parse_row_id(text) == expected


def test_event_ids_must_fit_the_event_log() -> None:
    assert check_event_ids("own:" + "d" * 60 + ":" + "e" * 63, "d" * 60) == (
        "own:" + "d" * 60 + ":" + "e" * 63
    )
    assert code_of(check_event_ids, "k" * 129, "dev") == "invalid_request"
    assert code_of(check_event_ids, "key", "d" * 65) == "invalid_request"
