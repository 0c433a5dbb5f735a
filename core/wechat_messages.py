"""Freshness of WeChat's signed webhook calls: a replayed old signature is refused."""

from __future__ import annotations

from datetime import datetime

from core.errors import AuthenticationError

# WeChat retries a push three times within about 15 s; five minutes covers clock drift too.
MESSAGE_WINDOW_SECONDS = 300


class StaleMessageError(AuthenticationError):
    """The signed timestamp is missing or too far from now: a replay or a wrong clock."""

    code = "stale_message"
    message_zh = "消息已过期，请重新发送"


def check_message_time(
    timestamp: str, now: datetime, window_seconds: int = MESSAGE_WINDOW_SECONDS
) -> None:
    """Raise StaleMessageError unless `timestamp` (Unix seconds) is within the window of now."""
    text = timestamp.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise StaleMessageError(detail=f"bad wechat timestamp {timestamp[:20]!r}")
    skew = abs(int(text) - now.timestamp())
    if skew > window_seconds:
        raise StaleMessageError(detail=f"wechat timestamp {skew:.0f}s from now")
