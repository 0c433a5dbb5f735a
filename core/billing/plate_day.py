"""Plate-day rules: the free period shared across a day's stays, and re-parking continuations."""

from __future__ import annotations

from collections.abc import Sequence

from core.billing.lines import PricedStay
from core.billing.local_time import DAY, to_local
from core.billing.tariff import FreePeriodSharing, Tariff, VehicleRules


def free_available(
    tariff: Tariff, rules: VehicleRules, stay_day: int, prior: Sequence[PricedStay]
) -> int:
    """Seconds of free period this stay may use, after the plate's earlier stays that day."""
    full = rules.free_minutes * 60
    sharing = tariff.plate_day.free_period
    if not full or not prior or sharing is FreePeriodSharing.EVERY_STAY:
        return full
    used = sum(
        stay.free_seconds_used
        for stay in prior
        if to_local(stay.entry, "prior.entry")[1] // DAY == stay_day
    )
    if sharing is FreePeriodSharing.FIRST_STAY:
        return 0 if used else full
    return max(0, full - used)


def continued_chain(
    tariff: Tariff, entry_s: int, prior: Sequence[PricedStay], location: str | None
) -> tuple[PricedStay, ...]:
    """The earlier stays this one continues, oldest first (same location, each within the gap).

    Each stored stay holds only what it added, so a chain of re-parkings is walked back to
    the stay that began it.
    """
    gap = tariff.plate_day.continue_within_minutes * 60
    if not gap or location is None:
        return ()
    here = [
        (to_local(stay.entry, "prior.entry")[1], to_local(stay.exit, "prior.exit")[1], stay)
        for stay in prior
        if stay.location == location
    ]
    chain: list[PricedStay] = []
    cursor = entry_s
    while True:
        best: tuple[int, int, PricedStay] | None = None
        for start_s, exit_s, stay in here:
            if not exit_s <= cursor <= exit_s + gap or any(stay is seen for seen in chain):
                continue
            if best is None or exit_s > best[1]:
                best = (start_s, exit_s, stay)
        if best is None:
            break
        chain.append(best[2])
        cursor = best[0]
    chain.reverse()
    return tuple(chain)
