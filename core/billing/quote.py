"""The result of pricing a stay: total, readable lines and a Chinese explanation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from core.billing.day_calendar import DayType
from core.billing.explanation import explain
from core.billing.lines import PricedStay, QuoteContext, QuoteLine


class Quote:
    """A priced stay; the same input always gives an equal quote."""

    __slots__ = (
        "_explanation",
        "charged_by_day",
        "charged_fen",
        "context",
        "continued_from",
        "day_types",
        "entry",
        "exit",
        "free_seconds_granted",
        "free_seconds_used",
        "lines",
        "review_reasons",
        "stay_entry",
        "total_fen",
    )

    def __init__(
        self,
        *,
        context: QuoteContext,
        entry: datetime | None,
        exit: datetime,
        stay_entry: datetime | None,
        lines: tuple[QuoteLine, ...],
        total_fen: int,
        charged_fen: int,
        charged_by_day: Mapping[date, int],
        free_seconds_used: int,
        review_reasons: tuple[str, ...],
        continued_from: tuple[PricedStay, ...] = (),
        free_seconds_granted: int = 0,
        day_types: Mapping[date, DayType] | None = None,
    ) -> None:
        self.context = context
        self.entry = entry
        self.exit = exit
        self.stay_entry = stay_entry
        self.lines = lines
        self.total_fen = total_fen
        self.charged_fen = charged_fen
        self.charged_by_day = charged_by_day
        self.free_seconds_used = free_seconds_used
        self.review_reasons = review_reasons
        self.continued_from = continued_from
        self.free_seconds_granted = free_seconds_granted
        self.day_types: Mapping[date, DayType] = day_types or {}
        self._explanation: str | None = None

    @property
    def stay_seconds(self) -> int:
        """Length of the (possibly continued) stay in whole seconds; 0 without a known entry."""
        if self.stay_entry is None:
            return 0
        return int((self.exit - self.stay_entry).total_seconds())

    @property
    def needs_review(self) -> bool:
        """True when the quote breaks a plausibility bound and a human must confirm it."""
        return bool(self.review_reasons)

    @property
    def review_reason(self) -> str | None:
        """The reasons for review joined into one sentence, or None."""
        return "; ".join(self.review_reasons) or None

    @property
    def explanation_zh(self) -> str:
        """A short Chinese explanation a driver can read."""
        if self._explanation is None:
            self._explanation = explain(self)
        return self._explanation

    def as_priced_stay(self, location: str | None = None) -> PricedStay:
        """This stay as the store should remember it: its own entry and what it charged.

        A continuation records only what it added; a later stay walks the chain back.
        """
        return PricedStay(
            entry=self.entry or self.exit,
            exit=self.exit,
            total_fen=self.charged_fen,
            charged_by_day=dict(self.charged_by_day),
            free_seconds_used=self.free_seconds_used,
            location=location,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping with a fixed key order (stable across runs)."""
        ctx = self.context
        return {
            "tariff_id": ctx.tariff_id,
            "tariff_version": ctx.tariff_version,
            "vehicle_class": ctx.vehicle_class,
            "entry": None if self.entry is None else self.entry.isoformat(),
            "exit": self.exit.isoformat(),
            "stay_entry": None if self.stay_entry is None else self.stay_entry.isoformat(),
            "total_fen": self.total_fen,
            "charged_fen": self.charged_fen,
            "free_seconds_granted": self.free_seconds_granted,
            "free_seconds_used": self.free_seconds_used,
            "charged_by_day": {
                day.isoformat(): amount for day, amount in sorted(self.charged_by_day.items())
            },
            "day_types": {
                day.isoformat(): kind.value for day, kind in sorted(self.day_types.items())
            },
            "continued_from": [stay.to_dict() for stay in self.continued_from],
            "needs_review": self.needs_review,
            "review_reasons": list(self.review_reasons),
            "lines": [line.to_dict() for line in self.lines],
            "explanation_zh": self.explanation_zh,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quote):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Quote(total_fen={self.total_fen}, lines={len(self.lines)})"
