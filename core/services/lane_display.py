"""Use case: staff set a lane's LED and voice profile."""

from __future__ import annotations

from core.clock import Clock
from core.lane_display import LaneDisplayProfile, profile_of
from core.services.attendant import LaneNotFoundError
from core.services.audit import record
from core.staff import StaffIdentity
from core.store.unit_of_work import UnitOfWork


async def show_lane_display(uow: UnitOfWork, lot: str, lane: str) -> LaneDisplayProfile:
    """The profile in force at a lane (the defaults when none was set)."""
    found = await uow.lots.lane(lot, lane)
    if found is None:
        raise LaneNotFoundError(detail=f"{lot}/{lane}")
    return profile_of(found[0].display)


async def save_lane_display(
    uow: UnitOfWork,
    clock: Clock,
    actor: StaffIdentity,
    lot: str,
    lane: str,
    profile: LaneDisplayProfile,
    why: str,
) -> None:
    """Store a lane's profile; audited, committed."""
    found = await uow.lots.lane(lot, lane)
    if found is None:
        raise LaneNotFoundError(detail=f"{lot}/{lane}")
    found[0].display = profile.to_dict()
    await record(uow, clock, actor, "lane.display", f"{lot}/{lane}", why, profile.to_dict())
    await uow.commit()
