"""Rules of a lot right as staff write it: kinds, plates, spaces, validity and daily windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from core.billing import SHANGHAI, DailyWindow
from core.billing.errors import RightError
from core.errors import DomainError
from core.plates import parse_plate

MAX_PLATES = 10
MAX_WINDOWS = 4


class RightKind(StrEnum):
    """The kinds of right a lot sells or grants (docs/lanes.md)."""

    MONTHLY = "monthly"  # 月租
    SPECIAL = "special"  # 特种
    STORED_VALUE = "stored_value"  # 储值
    OWNED_SPACE = "owned_space"  # 业主车位 (a sold space)
    RENTED_SPACE = "rented_space"  # 租用车位

    @property
    def whole_days(self) -> bool:
        """Rights the billing engine counts in local dates (`MonthlyPass`), so stored as days."""
        return self in (RightKind.MONTHLY, RightKind.OWNED_SPACE, RightKind.RENTED_SPACE)

    @property
    def prefix(self) -> str:
        """The start of a new right's reference."""
        return _PREFIX[self]


_PREFIX = {
    RightKind.MONTHLY: "MP",
    RightKind.SPECIAL: "SP",
    RightKind.STORED_VALUE: "SV",
    RightKind.OWNED_SPACE: "OS",
    RightKind.RENTED_SPACE: "RS",
}


class RightInvalidError(DomainError):
    """What staff typed for a right cannot be a right (422, the message says why)."""

    code = "right_invalid"
    status = 422
    message_zh = "权益信息有误"


@dataclass(frozen=True, slots=True)
class RightTerms:
    """A right's checked terms: kind, plates, spaces, validity, windows and opening balance."""

    kind: RightKind
    plates: tuple[str, ...]
    spaces: int
    valid_from: datetime
    valid_until: datetime
    windows: str | None
    balance_fen: int


def parse_kind(text: str) -> RightKind:
    """The kind named by text, or a 422 listing the kinds."""
    try:
        return RightKind(text)
    except ValueError:
        valid = ", ".join(kind.value for kind in RightKind)
        raise RightInvalidError(f"未知权益类型：{text}（可选：{valid}）") from None


def check_plates(texts: Sequence[str]) -> tuple[str, ...]:
    """Parsed, distinct plates in the given order: one to MAX_PLATES."""
    plates: list[str] = []
    for text in texts:
        number = parse_plate(text).number
        if number not in plates:
            plates.append(number)
    if not 1 <= len(plates) <= MAX_PLATES:
        raise RightInvalidError(f"车牌数量须为1至{MAX_PLATES}个")
    return tuple(plates)


def check_windows(kind: RightKind, windows: Sequence[str]) -> str | None:
    """Daily windows as stored ("20:00-08:00,12:00-13:00"); only monthly passes have them."""
    cleaned = [w.strip() for w in windows if w.strip()]
    if not cleaned:
        return None
    if kind is not RightKind.MONTHLY:
        raise RightInvalidError("只有月租可以限定时段")
    if len(cleaned) > MAX_WINDOWS:
        raise RightInvalidError(f"时段最多{MAX_WINDOWS}个")
    for text in cleaned:
        try:
            window = DailyWindow.parse(text)
        except RightError:
            raise RightInvalidError(f"时段格式应为 HH:MM-HH:MM，收到：{text}") from None
        if window.start == window.end:
            raise RightInvalidError(f"时段起止不能相同：{text}")
    stored = ",".join(cleaned)
    if len(stored) > 64:
        raise RightInvalidError("时段内容过长")
    return stored


def day_start(at: datetime) -> datetime:
    """Local midnight starting the day of a moment."""
    local = at.astimezone(SHANGHAI)
    return datetime.combine(local.date(), time(0), SHANGHAI)


def whole_days(valid_from: datetime, valid_until: datetime) -> tuple[datetime, datetime]:
    """A validity widened to whole local days: from its first day's midnight to the midnight
    after its last moment (the billing engine counts passes in dates, entry lanes in instants)."""
    start = day_start(valid_from)
    end = day_start(valid_until)
    if end < valid_until:
        end += timedelta(days=1)
    return start, end


def check_validity(
    kind: RightKind, valid_from: datetime, valid_until: datetime
) -> tuple[datetime, datetime]:
    """A validity window that ends after it starts, whole days for date-counted kinds."""
    if valid_from.tzinfo is None or valid_until.tzinfo is None:
        raise RightInvalidError("有效期须带时区")
    if valid_until <= valid_from:
        raise RightInvalidError("有效期截止须晚于开始")
    if kind.whole_days:
        valid_from, valid_until = whole_days(valid_from, valid_until)
    if valid_until - valid_from > timedelta(days=366 * 20):
        raise RightInvalidError("有效期不能超过20年")
    return valid_from, valid_until


def check_terms(
    kind: RightKind,
    plates: Sequence[str],
    spaces: int,
    valid_from: datetime,
    valid_until: datetime,
    windows: Sequence[str] = (),
    balance_fen: int = 0,
) -> RightTerms:
    """Every rule a new right must meet on its own (the store checks overlaps and sold spaces)."""
    checked = check_plates(plates)
    if spaces < 1:
        raise RightInvalidError("车位数至少为1")
    if spaces > len(checked):
        raise RightInvalidError("车位数不能多于车牌数")
    if kind is RightKind.STORED_VALUE and spaces != 1:
        raise RightInvalidError("储值卡不占车位，车位数须为1")
    if balance_fen < 0:
        raise RightInvalidError("余额不能为负")
    if balance_fen and kind is not RightKind.STORED_VALUE:
        raise RightInvalidError("只有储值卡可以有余额")
    start, end = check_validity(kind, valid_from, valid_until)
    return RightTerms(kind, checked, spaces, start, end, check_windows(kind, windows), balance_fen)
