"""A WeChat push is accepted only with a timestamp within minutes of the clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.wechat_messages import MESSAGE_WINDOW_SECONDS, StaleMessageError, check_message_time

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
T = int(NOW.timestamp())


@pytest.mark.parametrize(
    "timestamp",
    [str(T), str(T - MESSAGE_WINDOW_SECONDS), str(T + MESSAGE_WINDOW_SECONDS), f" {T} "],
)
def test_fresh_timestamps_pass(timestamp: str) -> None:
    check_message_time(timestamp, NOW)  # raises nothing


@pytest.mark.parametrize(
    "timestamp",
    [
        str(T - MESSAGE_WINDOW_SECONDS - 1),
        str(T + MESSAGE_WINDOW_SECONDS + 1),
        "1410685589",  # wechatpy's published vector: signed in 2014, replayed now
        "",
        "-1",
        "１７６４０３２４００",  # full-width digits
        "9" * 40,
        "12.5",
    ],
)
def test_stale_or_malformed_timestamps_are_refused(timestamp: str) -> None:
    with pytest.raises(StaleMessageError) as refused:
        check_message_time(timestamp, NOW)
    assert (refused.value.status, refused.value.code) == (401, "stale_message")
