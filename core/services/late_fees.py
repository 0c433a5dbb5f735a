"""Use cases of late fees: the city sets the rule (audited); a driver sees what it adds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.clock import Clock
from core.late_fees import LateFeeRule, describe, late_fee
from core.services import audit, vehicles
from core.staff import StaffIdentity
from core.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class OwedStay:
    """A stay the plate still owes, with the late fee the rule adds by now."""

    stay_ref: str
    exited_at: datetime
    due_fen: int
    late_fee_fen: int
    paused: bool  # an appeal of the stay is open, so the late fee does not run


@dataclass(frozen=True, slots=True)
class PlateOwed:
    """What a driver's verified plate owes, and the late-fee rule explained."""

    plate: str
    rule: LateFeeRule
    rule_text: str
    stays: list[OwedStay]

    @property
    def due_fen(self) -> int:
        """The unpaid fees."""
        return sum(s.due_fen for s in self.stays)

    @property
    def late_fee_fen(self) -> int:
        """The late fees on them."""
        return sum(s.late_fee_fen for s in self.stays)


async def set_rule(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, rule: LateFeeRule, reason: str
) -> LateFeeRule:
    """Store a new version of the city's rule, audited with its legal basis; commits."""
    before = await uow.late_fees.rule()
    uow.late_fees.add(rule, staff.actor, clock.now())
    details = {
        "enabled": rule.enabled,
        "legal_basis": rule.legal_basis.strip(),
        "start_after_days": rule.start_after_days,
        "per_day_bp": rule.per_day_bp,
        "cap_bp": rule.cap_bp,
        "was_enabled": before.enabled,
    }
    await audit.record(uow, clock, staff, "late_fee.rule", "late_fee_rule", reason, details)
    await uow.commit()
    return rule


async def plate_owed(uow: UnitOfWork, clock: Clock, driver_id: int, plate: str) -> PlateOwed:
    """A verified plate's owed stays with their late fees (none while the rule is off)."""
    await vehicles.require_verified(uow, driver_id, plate)
    rule = await uow.late_fees.rule()
    owed = await uow.stays.unpaid_for_plate(plate)
    pauses = await uow.late_fees.pauses([row.ref for row, _ in owed])
    now = clock.now()
    stays = []
    for row, due in owed:
        if row.exited_at is None:
            continue
        spans = pauses[row.ref]
        fee = late_fee(rule, due, row.exited_at, now, spans)
        open_appeal = any(p.end is None for p in spans)
        stays.append(OwedStay(row.ref, row.exited_at, due, fee, open_appeal))
    return PlateOwed(plate, rule, describe(rule), stays)
