"""Short Chinese explanations of quotes that a driver can read on a phone."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from core.billing.day_calendar import DayType
from core.billing.lines import LineKind, QuoteLine
from core.money import format_yuan

if TYPE_CHECKING:
    from core.billing.quote import Quote

_MAX_DETAIL_LINES = 6  # beyond this, summarise per day so the text stays readable
_CAP_NAMES = {"band_cap": "时段封顶", "daily_cap": "每日封顶", "stay_cap": "单次封顶"}
_DAY_NAMES = {DayType.HOLIDAY: "法定节假日", DayType.ADJUSTED_WORKDAY: "调休工作日"}


def yuan(fen: int) -> str:
    """Format fen as yuan with two decimals, e.g. 150 -> '1.50元'."""
    return f"{format_yuan(fen)}元"


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


def _clock(at: datetime, with_date: bool) -> str:
    # f-strings rather than strftime: this runs for every line and strftime is ~4x slower.
    if with_date:
        return f"{at.month:02d}月{at.day:02d}日{at.hour:02d}:{at.minute:02d}"
    return f"{at.hour:02d}:{at.minute:02d}"


def _span(start: datetime | None, end: datetime | None, with_date: bool) -> str:
    if start is None or end is None:
        return ""
    return f"{_clock(start, with_date)}–{_clock(end, end.date() != start.date())}"


def _band_text(line: QuoteLine, with_date: bool) -> str:
    text = f"{line.label}{_span(line.start, line.end, with_date)}计{line.units}个计费单位"
    text += yuan(line.gross_fen)
    if line.amount_fen != line.gross_fen:
        names = "、".join(_CAP_NAMES.get(cap, cap) for cap in line.caps_applied)
        text += f"，{names}后{yuan(line.amount_fen)}"
    return text


def _free_text(quote: Quote, band_lines: list[QuoteLine]) -> str | None:
    granted = quote.free_seconds_granted // 60
    offered = quote.context.free_minutes
    free_line = next((line for line in quote.lines if line.kind is LineKind.FREE), None)
    if free_line is not None and free_line.end == quote.exit:
        return f"未超过{granted}分钟免费时长，不收费"
    if free_line is not None:
        return f"前{free_line.free_minutes}分钟免费"
    if offered and not granted:
        return "当日已享受过免费时长，自入场起计费"
    if granted and band_lines:
        return f"超过{granted}分钟免费时长，自入场起计费"
    return None


def explain(quote: Quote) -> str:
    """Build the explanation from the quote's lines; same quote, same text."""
    parts: list[str] = []
    start = quote.stay_entry
    multi_day = start is not None and start.date() != quote.exit.date()
    if start is not None:
        stay = int((quote.exit - start).total_seconds())
        span = _span(start, quote.exit, with_date=True)
        parts.append(f"{quote.context.vehicle_label}停车{duration_zh(stay)}（{span}）")
    band_lines = [line for line in quote.lines if line.kind is LineKind.BAND]
    for day, kind in quote.day_types.items():
        if kind in _DAY_NAMES:
            parts.append(f"{day.month}月{day.day}日为{_DAY_NAMES[kind]}")
    grace = any(line.kind is LineKind.GRACE for line in quote.lines)
    free_text = None if grace or start is None else _free_text(quote, band_lines)
    if free_text:
        parts.append(free_text)
    for line in quote.lines:
        if line.kind is LineKind.COVERED:
            parts.append(f"{line.label}覆盖{_span(line.start, line.end, multi_day)}，不收费")
        elif line.kind is LineKind.GRACE:
            parts.append(f"缴费后{quote.context.grace_minutes}分钟宽限期内离场，无需补缴")
    if len(band_lines) <= _MAX_DETAIL_LINES:
        parts.extend(_band_text(line, multi_day) for line in band_lines)
    else:
        parts.extend(
            f"{day.month}月{day.day}日计{yuan(amount)}"
            for day, amount in sorted(quote.charged_by_day.items())
        )
    charged_time = quote.free_seconds_used < quote.stay_seconds
    if start is not None and not grace and charged_time and not band_lines:
        covered = any(line.kind is LineKind.COVERED for line in quote.lines)
        parts.append("其余时段不收费" if covered else "所停时段不收费")
    for line in quote.lines:
        if line.kind is LineKind.MINIMUM:
            parts.append(f"不足最低收费，补{yuan(line.amount_fen)}")
        elif line.kind is LineKind.CONTINUED:
            parts.append(
                f"短时内在同一路段重新停放，视为连续停车，扣除前次已收{yuan(-line.amount_fen)}"
            )
        elif line.kind is LineKind.PAID:
            parts.append(f"已缴{yuan(-line.amount_fen)}")
        elif line.kind is LineKind.LOST_TICKET:
            parts.append(f"遗失停车凭证收费{yuan(line.amount_fen)}")
    parts.append(f"应缴{yuan(quote.total_fen)}")
    if quote.needs_review:
        parts.append("费用异常，需人工核对后收取")
    return "；".join(parts) + "。"
