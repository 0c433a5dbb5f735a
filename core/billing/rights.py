"""Rights that change what a stay costs: monthly and special passes, shared spaces, stored value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise

from core.billing.errors import NaiveDatetimeError, RightError
from core.billing.local_time import SHANGHAI

Span = tuple[datetime, datetime]


class RightKind(StrEnum):
    """Rights that cover time; stored value pays instead and temporary parking has no right."""

    SPECIAL = "special"  # 特种/免费卡, e.g. during a conference
    MONTHLY = "monthly"  # 月租卡, possibly limited to daily windows


# Where rights overlap, the lower number names the segment (all covered time costs 0).
_PRIORITY = {RightKind.SPECIAL: 0, RightKind.MONTHLY: 1}
_LABELS = {RightKind.SPECIAL: "特种通行", RightKind.MONTHLY: "月租"}


def _aware(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise NaiveDatetimeError(name)
    return at


@dataclass(frozen=True, slots=True)
class CoveredInterval:
    """Time during which a right covers the stay, so the tariff does not charge it."""

    start: datetime
    end: datetime
    right_id: str
    kind: RightKind = RightKind.MONTHLY
    label: str = ""

    def __post_init__(self) -> None:
        _aware(self.start, "cover.start")
        _aware(self.end, "cover.end")
        if self.end <= self.start:
            raise RightError(f"cover {self.right_id}: end must lie after start")
        if not self.label:
            object.__setattr__(self, "label", _LABELS[self.kind])


def merge_cover(intervals: Sequence[CoveredInterval]) -> tuple[CoveredInterval, ...]:
    """Disjoint, sorted cover; overlaps go to the higher-priority right, then the earlier start."""
    if len(intervals) <= 1:
        return tuple(intervals)
    points = sorted({at for interval in intervals for at in (interval.start, interval.end)})
    merged: list[CoveredInterval] = []
    for start, end in pairwise(points):
        active = [i for i in intervals if i.start <= start and i.end >= end]
        if not active:
            continue
        best = min(active, key=lambda i: (_PRIORITY[i.kind], i.start, i.right_id))
        last = merged[-1] if merged else None
        if last is not None and last.end == start and last.right_id == best.right_id:
            merged[-1] = CoveredInterval(last.start, end, best.right_id, best.kind, best.label)
        else:
            merged.append(CoveredInterval(start, end, best.right_id, best.kind, best.label))
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """A daily time window of a pass, e.g. nights 20:00–08:00; it may cross midnight."""

    start: time
    end: time  # not after start means the window ends on the next day

    @classmethod
    def parse(cls, text: str) -> DailyWindow:
        """Build a window from 'HH:MM-HH:MM'."""
        try:
            start_text, end_text = text.split("-")
            return cls(time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip()))
        except ValueError:
            raise RightError(f"window {text!r} is not HH:MM-HH:MM") from None

    def spans(self, day: date) -> Span:
        """The window's span starting on ``day`` (local time)."""
        start = datetime.combine(day, self.start, SHANGHAI)
        end = datetime.combine(day, self.end, SHANGHAI)
        return start, end if end > start else end + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class MonthlyPass:
    """A monthly pass (月租): valid on local dates, optionally only inside daily windows."""

    right_id: str
    valid_from: date
    valid_until: date  # inclusive
    windows: tuple[DailyWindow, ...] = ()  # empty: all day
    scope: frozenset[str] = field(default_factory=frozenset)  # lots/zones; empty: everywhere
    plates: frozenset[str] = field(default_factory=frozenset)
    spaces: int = 1  # 一位多车: this many of the plates may be covered at once
    label: str = "月租"

    def __post_init__(self) -> None:
        if self.valid_until < self.valid_from:
            raise RightError(f"pass {self.right_id}: valid_until lies before valid_from")
        if self.spaces < 1:
            raise RightError(f"pass {self.right_id}: spaces must be at least 1")


@dataclass(frozen=True, slots=True)
class SpecialPass:
    """A special/free pass (特种): free between two instants within its scope."""

    right_id: str
    valid_from: datetime
    valid_until: datetime
    scope: frozenset[str] = field(default_factory=frozenset)
    plates: frozenset[str] = field(default_factory=frozenset)
    label: str = "特种通行"

    def __post_init__(self) -> None:
        _aware(self.valid_from, "valid_from")
        _aware(self.valid_until, "valid_until")
        if self.valid_until <= self.valid_from:
            raise RightError(f"pass {self.right_id}: valid_until must lie after valid_from")


def _clip(spans: Sequence[Span], start: datetime, end: datetime) -> list[Span]:
    return [(max(a, start), min(b, end)) for a, b in spans if a < end and b > start]


def pass_cover(
    right: MonthlyPass | SpecialPass, entry: datetime, exit: datetime, *, place: str | None = None
) -> tuple[CoveredInterval, ...]:
    """The parts of [entry, exit) the pass covers at ``place`` (dates and windows in local time)."""
    _aware(entry, "entry")
    _aware(exit, "exit")
    if exit <= entry or (right.scope and place not in right.scope):
        return ()  # an empty stay (an exit at its entry) has nothing to cover
    if isinstance(right, SpecialPass):
        spans = _clip([(right.valid_from, right.valid_until)], entry, exit)
        kind = RightKind.SPECIAL
    else:
        spans = _clip(_monthly_spans(right, entry, exit), entry, exit)
        kind = RightKind.MONTHLY
    return tuple(CoveredInterval(a, b, right.right_id, kind, right.label) for a, b in spans)


def _monthly_spans(right: MonthlyPass, entry: datetime, exit: datetime) -> list[Span]:
    """Validity spans of a monthly pass near the stay; a window belongs to the day it starts."""
    first = max(right.valid_from, entry.astimezone(SHANGHAI).date() - timedelta(days=1))
    last = min(right.valid_until, exit.astimezone(SHANGHAI).date())
    spans: list[Span] = []
    day = first
    while day <= last:
        if right.windows:
            spans.extend(window.spans(day) for window in right.windows)
        else:
            start = datetime.combine(day, time(), SHANGHAI)
            spans.append((start, start + timedelta(days=1)))
        day += timedelta(days=1)
    return spans


def clip_cover(
    cover: Sequence[CoveredInterval], allowed: Sequence[Span]
) -> tuple[CoveredInterval, ...]:
    """Keep only the parts of ``cover`` inside ``allowed`` spans (e.g. a shared space's holding)."""
    kept: list[CoveredInterval] = []
    for interval in cover:
        for a, b in _clip(allowed, interval.start, interval.end):
            if a < b:
                kept.append(CoveredInterval(a, b, interval.right_id, interval.kind, interval.label))
    return tuple(sorted(kept, key=lambda i: (i.start, i.right_id)))


def assign_shared_cover(
    spaces: int, insides: Mapping[str, Sequence[Span]], *, cover_moves: bool
) -> dict[str, tuple[Span, ...]]:
    """Which plate holds one of ``spaces`` shared spaces when (一位多车), first come first served.

    A space freed by a leaving car goes to the earliest-entered uncovered car still inside
    when ``cover_moves`` is true; otherwise a car that entered uncovered stays uncovered until
    it leaves. Ties at one instant: exits before entries, then plates in sorted order.
    """
    if spaces < 1:
        raise RightError("spaces must be at least 1")
    events: list[tuple[datetime, int, str]] = []
    for plate, spans in insides.items():
        ordered = sorted((_aware(a, "inside.start"), _aware(b, "inside.end")) for a, b in spans)
        for index, (a, b) in enumerate(ordered):
            nxt = ordered[index + 1] if index + 1 < len(ordered) else None
            if b <= a:
                raise RightError(f"plate {plate}: an inside interval ends before it starts")
            if nxt is not None and nxt[0] < b:
                raise RightError(f"plate {plate}: inside intervals overlap")
            events.append((a, 1, plate))
            events.append((b, 0, plate))
    events.sort()
    holding: dict[str, datetime] = {}
    waiting: dict[str, datetime] = {}  # insertion order is entry order
    held: dict[str, list[Span]] = {plate: [] for plate in insides}
    for at, is_entry, plate in events:
        if is_entry:
            if len(holding) < spaces:
                holding[plate] = at
            else:
                waiting[plate] = at
            continue
        if plate in holding:
            start = holding.pop(plate)
            if start < at:
                held[plate].append((start, at))
            if cover_moves and waiting:
                heir = next(iter(waiting))
                del waiting[heir]
                holding[heir] = at
        else:
            waiting.pop(plate, None)
    return {plate: tuple(spans) for plate, spans in held.items()}


@dataclass(frozen=True, slots=True)
class StoredValueSettlement:
    """How a quote is paid from a stored-value card (储值卡) at exit."""

    card_fen: int  # deducted from the card
    due_fen: int  # still to pay by another channel
    balance_after_fen: int


def settle_stored_value(total_fen: int, balance_fen: int) -> StoredValueSettlement:
    """Deduct what the card holds, up to the total; a short balance leaves the rest to pay."""
    if total_fen < 0 or balance_fen < 0:
        raise RightError("amounts must not be negative")
    card = min(total_fen, balance_fen)
    return StoredValueSettlement(card, total_fen - card, balance_fen - card)
