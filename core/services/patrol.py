"""Use case: an enforcement officer on patrol records the plate of a car at a berth."""

from __future__ import annotations

from dataclasses import dataclass

from core.clock import Clock
from core.errors import ConflictError
from core.plates import Plate
from core.services.audit import record
from core.services.berth_events import UnknownBerthError
from core.staff import StaffIdentity
from core.store.unit_of_work import UnitOfWork


class NoStayAtBerthError(ConflictError):
    """The berth has no stay the plate could belong to."""

    code = "no_stay_at_berth"
    message_zh = "该泊位当前没有停车记录，请核实泊位编号"


@dataclass(frozen=True, slots=True)
class PatrolResult:
    """The stay that now carries the plate, and the plate it had before, if any."""

    stay_ref: str
    previous_plate: str | None


async def record_patrol_plate(
    uow: UnitOfWork,
    clock: Clock,
    officer: StaffIdentity,
    berth_code: str,
    plate: Plate,
    photo_ref: str,
    reason: str,
) -> PatrolResult:
    """Set the plate of the car at a berth as the officer saw it; audited, one transaction.

    The officer's reading wins over video: a plate that differs from the recorded one replaces
    it, and the audit log keeps the old one.
    """
    berth = await uow.city.berth_by_code(berth_code)
    if berth is None:
        raise UnknownBerthError(detail=f"berth {berth_code!r}")
    await uow.onstreet.lock_berth(berth.id)
    stay = await uow.onstreet.open_stay(berth.id)
    if stay is None:
        raise NoStayAtBerthError(detail=f"no open stay at {berth_code}")
    previous = stay.plate
    stay.plate = plate.number
    await record(
        uow,
        clock,
        officer,
        "patrol.plate",
        f"stay:{stay.ref}",
        reason,
        {"berth": berth_code, "plate": plate.number, "previous": previous, "photo": photo_ref},
    )
    await uow.commit()
    return PatrolResult(stay.ref, previous)
