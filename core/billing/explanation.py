"""Short Chinese explanations of quotes that a driver can read on a phone."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from core.billing.lines import LineKind, QuoteLine

if TYPE_CHECKING:
    from core.billing.quote import Quote

_MAX_DETAIL_LINES = 6  # beyond this, summarise per day so the text stays readable


def yuan(fen: int) -> str:
    """Format fen as yuan with two decimals, e.g. 150 -> '1.50元'."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}元"


def duration_zh(seconds: int) -> str:
    """Format a duration like '2天3小时5分钟'; partial minutes count as a minute."""
    minutes = -(-seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}天"] if days else []
    if hours:
        parts.append(f"{hours}小时")
    if minutes or not parts:
        parts.append(f"{minutes}分钟")
    return "".join(parts)


def _clock(at: datetime | None, with_date: bool) -> str:
    if at is None:
        return ""
    return at.strftime("%m月%d日%H:%M" if with_date else "%H:%M")


def _band_text(line: QuoteLine, with_date: bool) -> str:
    span = f"{_clock(line.start, with_date)}–{_clock(line.end, with_date)}"
    text = f"{line.label}{span}计{line.units}个计费单位{yuan(line.gross_fen)}"
    if line.amount_fen != line.gross_fen:
        caps = {"band_cap": "时段封顶", "daily_cap": "每日封顶", "stay_cap": "单次封顶"}
        names = "、".join(caps.get(cap, cap) for cap in line.caps_applied)
        text += f"，{names}后{yuan(line.amount_fen)}"
    return text


def explain(quote: Quote) -> str:
    """Build the explanation from the quote's lines; same quote, same text."""
    ctx = quote.context
    parts: list[str] = []
    start = quote.stay_entry
    if start is not None:
        multi_day = start.date() != quote.exit.date()
        stay = int((quote.exit - start).total_seconds())
        parts.append(
            f"{ctx.vehicle_label}停车{duration_zh(stay)}"
            f"（{_clock(start, True)}至{_clock(quote.exit, multi_day)}）"
        )
    else:
        multi_day = False
    band_lines = [line for line in quote.lines if line.kind is LineKind.BAND]
    for line in quote.lines:
        if line.kind is LineKind.FREE:
            parts.append(f"免费时长{line.free_minutes}分钟内不收费")
        elif line.kind is LineKind.COVERED:
            span = f"{_clock(line.start, multi_day)}–{_clock(line.end, multi_day)}"
            parts.append(f"{line.label}覆盖{span}，不收费")
        elif line.kind is LineKind.GRACE:
            parts.append(f"缴费后{ctx.grace_minutes}分钟宽限期内离场，无需补缴")
    if (
        start is not None
        and ctx.free_minutes
        and not any(line.kind is LineKind.FREE for line in quote.lines)
        and band_lines
    ):
        parts.append(f"超过{ctx.free_minutes}分钟免费时长，自入场起计费")
    if len(band_lines) <= _MAX_DETAIL_LINES:
        parts.extend(_band_text(line, multi_day) for line in band_lines if line.units)
    else:
        for day, amount in sorted(quote.charged_by_day.items()):
            parts.append(f"{day.month}月{day.day}日计{yuan(amount)}")
    for line in quote.lines:
        if line.kind is LineKind.MINIMUM:
            parts.append(f"不足最低收费，补{yuan(line.amount_fen)}")
        elif line.kind is LineKind.CONTINUED:
            parts.append(f"短时内重新停放视为连续停车，扣除前次已收{yuan(-line.amount_fen)}")
        elif line.kind is LineKind.PAID:
            parts.append(f"已缴{yuan(-line.amount_fen)}")
        elif line.kind is LineKind.LOST_TICKET:
            parts.append(f"遗失停车凭证收费{yuan(line.amount_fen)}")
    if band_lines and not any(line.amount_fen for line in band_lines):
        parts.append("所在时段不收费")
    parts.append(f"应缴{yuan(quote.total_fen)}")
    if quote.needs_review:
        parts.append("费用异常，需人工核对后收取")
    return "；".join(parts) + "。"
