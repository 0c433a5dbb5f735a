"""Tariff model: time bands, price tables per vehicle class and day type, and stay-level rules."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.billing.day_calendar import DayType
from core.billing.errors import VehicleClassError
from core.billing.lines import QuoteContext

DAY_SECONDS = 86_400


class CapPeriod(StrEnum):
    """How the daily cap's day is counted."""

    NATURAL_DAY = "natural_day"  # 自然日: local midnight to midnight
    ROLLING_24H = "rolling_24h"  # 滚动24小时: 24-hour windows from the entry


class FirstUnitScope(StrEnum):
    """Where a band's first-unit price applies."""

    STAY = "stay"  # once per stay per band (the first time the stay is charged in that band)
    OCCURRENCE = "occurrence"  # once per band occurrence (e.g. every morning's first hour)


class FreePeriodSharing(StrEnum):
    """How the free period is shared between a plate's stays on one natural day."""

    FIRST_STAY = "first_stay"  # only the first stay of the day that used free time gets it
    POOLED = "pooled"  # the day's stays share one pool of free minutes
    EVERY_STAY = "every_stay"  # each stay gets the whole free period


@dataclass(frozen=True, slots=True)
class Band:
    """A daily time band with its own unit prices; it may cross midnight."""

    name: str
    label: str
    start_minute: int  # minutes after local midnight, 0..1439
    end_minute: int  # 1..1440; not after start means the band ends on the next day
    unit_minutes: int
    unit_fen: int
    first_unit_minutes: int | None
    first_unit_fen: int | None
    cap_fen: int | None  # per occurrence, e.g. a flat night price
    # Derived once here because pricing reads them in its inner loop.
    start_seconds: int = field(init=False)  # offset of the start from local midnight
    length_seconds: int = field(init=False)  # length of one occurrence

    def __post_init__(self) -> None:
        minutes = self.end_minute - self.start_minute
        object.__setattr__(self, "start_seconds", self.start_minute * 60)
        object.__setattr__(
            self, "length_seconds", (minutes if minutes > 0 else minutes + 1440) * 60
        )


@dataclass(frozen=True, slots=True)
class PriceTable:
    """The bands and daily cap that price one day type for one vehicle class."""

    bands: tuple[Band, ...]  # sorted by start, not overlapping; gaps are free time
    daily_cap_fen: int | None


@dataclass(frozen=True, slots=True)
class VehicleRules:
    """Everything that prices one vehicle class: stay rules and a table per day type."""

    vehicle_class: str
    label: str
    free_minutes: int
    stay_cap_fen: int | None
    minimum_charge_fen: int
    tables: Mapping[DayType, PriceTable]
    uniform: bool  # every day type is priced alike, so pricing needs no calendar
    overhang_seconds: int  # how far past midnight a band begun the day before can reach


@dataclass(frozen=True, slots=True)
class PlateDayRules:
    """Settings that price a plate's day across several stays in one scope."""

    free_period: FreePeriodSharing
    continue_within_minutes: int  # re-parking within this gap continues the stay; 0 = off
    cap_across_stays: bool  # the daily cap covers all the plate's stays of a natural day


@dataclass(frozen=True, slots=True)
class ReviewLimits:
    """Plausibility bounds; a quote beyond them is flagged for a human, not charged blindly."""

    max_stay_minutes: int | None
    max_fee_fen: int | None


class Tariff:
    """A validated, immutable tariff; build it with parse_tariff or load_tariff_file."""

    __slots__ = (
        "_canonical",
        "base_vehicle_class",
        "cap_period",
        "contexts",
        "effective_from",
        "first_unit_scope",
        "free_when_exceeded",
        "grace_minutes",
        "id",
        "lost_ticket_fee_fen",
        "name",
        "plate_day",
        "review",
        "vehicle_rules",
        "version",
    )

    def __init__(
        self,
        *,
        canonical: Mapping[str, Any],
        id: str,
        name: str,
        version: str,
        effective_from: datetime | None,
        free_when_exceeded: bool,
        first_unit_scope: FirstUnitScope,
        cap_period: CapPeriod,
        lost_ticket_fee_fen: int | None,
        grace_minutes: int,
        base_vehicle_class: str,
        vehicle_rules: Mapping[str, VehicleRules],
        plate_day: PlateDayRules,
        review: ReviewLimits,
    ) -> None:
        self._canonical = copy.deepcopy(dict(canonical))
        self.id = id
        self.name = name
        self.version = version
        self.effective_from = effective_from
        self.free_when_exceeded = free_when_exceeded
        self.first_unit_scope = first_unit_scope
        self.cap_period = cap_period
        self.lost_ticket_fee_fen = lost_ticket_fee_fen
        self.grace_minutes = grace_minutes
        self.base_vehicle_class = base_vehicle_class
        self.vehicle_rules = dict(vehicle_rules)
        self.plate_day = plate_day
        self.review = review
        self.contexts = {
            name: QuoteContext(
                tariff_id=id,
                tariff_version=version,
                vehicle_class=name,
                vehicle_label=rules.label,
                free_minutes=rules.free_minutes,
                free_when_exceeded=free_when_exceeded,
                grace_minutes=grace_minutes,
            )
            for name, rules in self.vehicle_rules.items()
        }

    def rules_for(self, vehicle_class: str) -> VehicleRules:
        """Return the rules pricing ``vehicle_class`` or raise VehicleClassError."""
        rules = self.vehicle_rules.get(vehicle_class)
        if rules is None:
            raise VehicleClassError(vehicle_class, tuple(sorted(self.vehicle_rules)))
        return rules

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical JSON/TOML-ready mapping; parse_tariff rebuilds an equal tariff."""
        return copy.deepcopy(self._canonical)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tariff):
            return NotImplemented
        return self._canonical == other._canonical

    def __hash__(self) -> int:
        return hash((self.id, self.version))

    def __repr__(self) -> str:
        return f"Tariff(id={self.id!r}, version={self.version!r})"
