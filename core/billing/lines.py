"""Quote building blocks: lines, earlier stays and the tariff facts a quote carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from core.billing.day_calendar import DayType


class LineKind(StrEnum):
    """What a quote line stands for."""

    FREE = "free"  # the free period (免费时长)
    BAND = "band"  # time charged in a tariff band
    COVERED = "covered"  # time covered by a pass (月租/特种)
    MINIMUM = "minimum"  # top-up to the minimum charge
    LOST_TICKET = "lost_ticket"  # lost-ticket fee
    CONTINUED = "continued"  # deduction of what the continued earlier stay already charged
    PAID = "paid"  # deduction of an earlier payment for this stay
    GRACE = "grace"  # exit within the grace period after payment


class QuoteLine(NamedTuple):
    """One readable line of a quote; amounts after caps sum to the quote's total."""

    # A NamedTuple rather than a frozen dataclass: as immutable, and a 30-day quote builds
    # about a hundred of these, where the dataclass's per-field setattr cost 1.4 µs each.

    kind: LineKind
    rule: str
    label: str
    start: datetime | None
    end: datetime | None
    day: date | None
    day_type: DayType | None
    units: int
    unit_minutes: int
    gross_fen: int
    amount_fen: int
    caps_applied: tuple[str, ...] = ()
    free_minutes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping with a fixed key order."""
        return {
            "kind": self.kind.value,
            "rule": self.rule,
            "label": self.label,
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "day": None if self.day is None else self.day.isoformat(),
            "day_type": None if self.day_type is None else self.day_type.value,
            "units": self.units,
            "unit_minutes": self.unit_minutes,
            "gross_fen": self.gross_fen,
            "amount_fen": self.amount_fen,
            "caps_applied": list(self.caps_applied),
            "free_minutes": self.free_minutes,
        }


@dataclass(frozen=True, slots=True)
class PricedStay:
    """An earlier stay of the same plate in the same scope, as the store recorded it."""

    entry: datetime
    exit: datetime
    total_fen: int
    charged_by_day: Mapping[date, int] = field(default_factory=dict)
    free_seconds_used: int = 0
    location: str | None = None  # e.g. the street; used for the continuation rule

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping; from_dict reads it back."""
        return {
            "entry": self.entry.isoformat(),
            "exit": self.exit.isoformat(),
            "total_fen": self.total_fen,
            "charged_by_day": {
                day.isoformat(): fen for day, fen in sorted(self.charged_by_day.items())
            },
            "free_seconds_used": self.free_seconds_used,
            "location": self.location,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PricedStay:
        """Rebuild a stay stored with to_dict."""
        return cls(
            entry=datetime.fromisoformat(data["entry"]),
            exit=datetime.fromisoformat(data["exit"]),
            total_fen=int(data["total_fen"]),
            charged_by_day={
                date.fromisoformat(day): int(fen) for day, fen in data["charged_by_day"].items()
            },
            free_seconds_used=int(data.get("free_seconds_used", 0)),
            location=data.get("location"),
        )


@dataclass(frozen=True, slots=True)
class QuoteContext:
    """Tariff facts the explanation needs; kept so the text can be built lazily."""

    tariff_id: str
    tariff_version: str
    vehicle_class: str
    vehicle_label: str
    free_minutes: int
    free_when_exceeded: bool
    grace_minutes: int
