"""Support chat rules: ratings typed, masks, the wait told, the 48-hour offer, metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.support import (
    HandledConversation,
    agent_days,
    estimated_wait,
    mask_openid,
    mask_phone,
    outside_window_message,
    parse_rating,
)

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("5", 5),
        (" 1 ", 1),
        ("５", 5),
        ("4分", 4),
        ("3星", 3),
        ("0", None),
        ("6", None),
        ("55", None),
        ("五", None),
        ("浙B12345", None),
        ("", None),
    ],
)
def test_a_rating_is_one_digit_from_1_to_5(text: str, rating: int | None) -> None:
    assert parse_rating(text) == rating


def test_masks_keep_the_ends() -> None:
    assert mask_openid("oAbCdEfGhIjKlMnOpQrStU") == "oAbC****rStU"
    assert mask_openid("short") == "short"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone(None) is None


def test_the_wait_told_grows_with_the_queue() -> None:
    assert [estimated_wait(n, 5) for n in (0, 1, 3)] == [1, 5, 15]


def test_outside_the_window_offers_only_what_the_driver_authorised() -> None:
    assert outside_window_message(True, True).endswith("可改用订阅消息或短信通知用户")
    assert outside_window_message(False, True).endswith("可改用短信通知用户")
    assert outside_window_message(True, False).endswith("可改用订阅消息通知用户")
    assert "未授权订阅消息或短信" in outside_window_message(False, False)


def test_agent_days_average_per_agent() -> None:
    minute = timedelta(minutes=1)

    def held(
        agent: str, wait: int, first: int | None, handled: int | None, rating: int | None
    ) -> HandledConversation:
        claimed = T0 + wait * minute
        return HandledConversation(
            agent,
            T0,
            claimed,
            claimed + first * minute if first is not None else None,
            claimed + handled * minute if handled is not None else None,
            rating,
        )

    days = agent_days(
        [held("wang", 2, 1, 10, 5), held("wang", 4, 3, None, None), held("li", 0, None, 6, 2)]
    )
    assert [(d.agent, d.conversations) for d in days] == [("li", 1), ("wang", 2)]
    wang = days[1]
    assert (wang.waiting_seconds, wang.first_response_seconds) == (180.0, 120.0)
    assert (wang.handling_seconds, wang.ratings, wang.rating_average) == (600.0, 1, 5.0)
    assert (days[0].first_response_seconds, days[0].rating_average) == (None, 2.0)
