"""How the bot writes: mini-program links in text, times, durations and WeChat's size limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from core.money import format_yuan

# WeChat refuses a passive text reply over 2048 bytes (UTF-8); a Chinese character takes three.
MAX_TEXT_BYTES = 2048
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class Link:
    """A mini-program page to open from a text reply."""

    label: str
    path: str


class Writer:
    """Formats replies for one deployment (its mini-program appid)."""

    def __init__(self, miniprogram_appid: str | None) -> None:
        self._appid = miniprogram_appid

    def link(self, link: Link) -> str:
        """A tappable mini-program link, or the words to find the page without one."""
        if not self._appid:
            return f"（请在小程序中{link.label}）"
        return (
            f'<a data-miniprogram-appid="{escape(self._appid)}" '
            f'data-miniprogram-path="{escape(link.path)}">{escape(link.label)}</a>'
        )

    def reply(self, lines: list[str], link: Link | None = None) -> str:
        """Lines and a link, cut to WeChat's limit (whole lines dropped from the end first)."""
        tail = [self.link(link)] if link is not None else []
        body = list(lines)
        while body and _size([*body, *tail]) > MAX_TEXT_BYTES:
            body.pop()
            if body and body[-1] != "……":
                body.append("……")
                if _size([*body, *tail]) > MAX_TEXT_BYTES:
                    body.pop()
        text = "\n".join([*body, *tail])
        return fit(text)


def _size(lines: list[str]) -> int:
    return len("\n".join(lines).encode())


def fit(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    """The text cut at a character boundary so it fits the byte limit."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "…"


def yuan(fen: int) -> str:
    """Fen as '8.00元'."""
    return f"{format_yuan(fen)}元"


def local_time(moment: datetime) -> str:
    """Beijing time as '11月25日 09:00'."""
    at = moment.astimezone(SHANGHAI)
    return f"{at.month}月{at.day}日 {at:%H:%M}"


def duration(span: timedelta) -> str:
    """A duration as '2小时5分钟'."""
    minutes = max(int(span.total_seconds() // 60), 0)
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours}小时{rest}分钟"
    return f"{hours}小时" if hours else f"{rest}分钟"


def distance(metres: float) -> str:
    """A distance as '350米' or '1.2公里'."""
    return f"{metres / 1000:.1f}公里" if metres >= 1000 else f"{round(metres / 10) * 10:.0f}米"
