"""Limits every request and device payload meets before it reaches a service or the database."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from core.errors import DomainError, ValidationFailedError

MAX_DEPTH = 32
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Wide enough for a device whose clock reset to the epoch (the berth rules judge those) and
# for far validity dates; narrow enough that no date arithmetic can overflow.
EARLIEST_YEAR = 1970
LATEST_YEAR = 2100
# The event log's columns: a dedupe key and a device code longer than these cannot be stored.
MAX_DEDUPE_KEY = 128
MAX_DEVICE_CODE = 64
# Unix seconds of the window's ends, for vendors that send epoch times.
EARLIEST_EPOCH = int(datetime(EARLIEST_YEAR, 1, 1, tzinfo=UTC).timestamp())
LATEST_EPOCH = int(datetime(LATEST_YEAR, 12, 31, tzinfo=UTC).timestamp())


class JsonTooDeepError(ValidationFailedError):
    """JSON nested deeper than any payload of ours."""

    code = "json_too_deep"
    message_zh = f"请求内容嵌套过深（最多 {MAX_DEPTH} 层）"


class NulCharacterError(ValidationFailedError):
    """A string carries U+0000, which no text column can store."""

    code = "nul_character"
    message_zh = "请求内容含有空字符（\\u0000）"


class NumberOutOfRangeError(ValidationFailedError):
    """An integer beyond 64 bits, or a float that is not finite."""

    code = "number_out_of_range"
    message_zh = "数值超出允许范围"


class TimeOutOfRangeError(ValidationFailedError):
    """A date or time outside the years the system can reason about."""

    code = "time_out_of_range"
    message_zh = f"时间超出允许范围（{EARLIEST_YEAR}–{LATEST_YEAR} 年）"


def loads(text: str | bytes) -> Any:
    """Decode JSON text and check it against the limits; bad input raises a 400 error."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise JsonTooDeepError(detail="nesting exceeds the decoder's recursion limit") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailedError("请求内容不是有效的 JSON", detail=str(exc)) from None
    check_json(data)
    return data


def _refuse_constant(name: str) -> Any:
    raise NumberOutOfRangeError(f"数值超出允许范围：{name}", detail=f"JSON constant {name}")


def check_json(data: Any) -> None:
    """Refuse decoded JSON nested too deep, or holding NUL, huge integers or non-finite floats."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise JsonTooDeepError(detail=f"deeper than {MAX_DEPTH} at {path or 'body'}")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    check_scalar(key, _join(path, "key"))
                stack.append((item, _join(path, str(key)), depth + 1))
        else:
            check_scalar(value, path)


def check_model(model: BaseModel) -> None:
    """Refuse a validated model whose values hold NUL, huge numbers or implausible times."""
    try:
        _check_all(model)
    except DomainError as first:
        # Only now the paths, for the message: building them for every value of every body
        # cost more than the checks (a gateway batch has thousands of values).
        for value, path in _values(model, ""):
            check_scalar(value, path)
        raise first from None


def _check_all(value: Any) -> None:
    """`check_scalar` on every value, without paths (a validated model is as deep as its
    schema, which check_json bounded)."""
    if isinstance(value, BaseModel):
        for item in value.__dict__.values():  # the fields, as pydantic stores them
            _check_all(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_scalar(key, "")
            _check_all(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check_all(item)
    else:
        check_scalar(value, "")


def _values(value: Any, path: str) -> Iterator[tuple[Any, str]]:
    # Validated models are as deep as their schema, which check_json already bounded.
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _values(getattr(value, name), _join(path, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key, _join(path, "key")
            yield from _values(item, _join(path, str(key)))
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _values(item, _join(path, str(index)))
    else:
        yield value, path


def check_scalar(value: Any, path: str) -> None:
    """Refuse one value that no column or date arithmetic of ours can take."""
    where = (path or "body")[:80]
    if isinstance(value, str):
        if "\x00" in value:
            raise NulCharacterError(f"请求内容含有空字符（\\u0000）：{where}", detail=where)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise NumberOutOfRangeError(f"数值超出允许范围：{where}", detail=where)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise NumberOutOfRangeError(f"数值超出允许范围：{where}", detail=where)
    elif isinstance(value, date) and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        # datetime is a date too; an offset cannot carry a time past the bounds' years.
        raise TimeOutOfRangeError(
            f"时间超出允许范围（{EARLIEST_YEAR}–{LATEST_YEAR} 年）：{where}", detail=where
        )


def epoch_time(seconds: int, path: str) -> datetime:
    """The moment of Unix seconds within the plausible window; else a 400 error."""
    if not EARLIEST_EPOCH <= seconds <= LATEST_EPOCH:
        raise TimeOutOfRangeError(
            f"时间超出允许范围（{EARLIEST_YEAR}–{LATEST_YEAR} 年）：{path}", detail=str(seconds)
        )
    return datetime.fromtimestamp(seconds, UTC)


def check_event_ids(dedupe_key: str, device_code: str) -> str:
    """The dedupe key, if it and the device code fit the event log; else a 400 error."""
    if len(dedupe_key) > MAX_DEDUPE_KEY or len(device_code) > MAX_DEVICE_CODE:
        raise ValidationFailedError(
            "设备编号或事件编号过长",
            detail=f"dedupe key {len(dedupe_key)} chars, device code {len(device_code)}",
        )
    return dedupe_key


def parse_row_id(text: str) -> int | None:
    """The id written in a path segment, or None when it cannot name an integer row."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 1 <= number <= INT32_MAX else None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
