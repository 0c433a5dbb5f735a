"""A read and its resend arriving at once: one passage, one stay, the same answer twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import func, select

from core.clock import FrozenClock
from core.lane_events import LaneRead
from core.services import lanes
from core.services.calendar import OverridableCalendar
from core.store.activity import StayRow
from core.store.lots import LanePassageRow
from core.store.unit_of_work import UnitOfWork
from device_bridge.formats import lane_json


def _read(clock: FrozenClock, plate: str) -> LaneRead:
    body = {
        "event_id": f"race-{plate}",
        "device": "LOT-TIANYI-E1-anpr_camera",
        "device_time": clock.now().isoformat(),
        "plate": plate,
        "confidence": 97,
    }
    return lane_json.to_read(lane_json.LaneReadPayload.model_validate(body))


async def test_a_read_and_its_resend_at_once_store_one_passage_and_answer_alike(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    calendar = OverridableCalendar()

    async def apply(read: LaneRead) -> lanes.LaneOutcome:
        async with uow_factory() as uow:
            return await lanes.on_lane_read(uow, clock, calendar, read)

    for n in range(5):  # several rounds: the race is won by either side
        plate = f"浙B7{n:04d}"
        read = _read(clock, plate)
        first, second = await asyncio.gather(apply(read), apply(read))
        assert sorted([first.outcome, second.outcome]) == ["applied", "duplicate"]
        assert first.passage_ref == second.passage_ref and first.stay_ref == second.stay_ref
        assert first.decision == second.decision
        async with uow_factory() as uow:
            passages = await uow.session.scalar(
                select(func.count())
                .select_from(LanePassageRow)
                .where(LanePassageRow.dedupe_key == read.dedupe_key)
            )
            stays = await uow.session.scalar(
                select(func.count()).select_from(StayRow).where(StayRow.plate == plate)
            )
        assert (passages, stays) == (1, 1)
