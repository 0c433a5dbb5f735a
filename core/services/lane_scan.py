"""Cars without plates (无牌车): the driver scans the lane's QR code and the stay is theirs."""

from __future__ import annotations

import uuid

from core.billing import DayCalendar
from core.clock import Clock
from core.errors import ConflictError, NotFoundError
from core.lanes import (
    Access,
    Decision,
    Direction,
    EntryFacts,
    LaneAction,
    commands_for,
    decide_entry,
)
from core.services.lane_entry import Verdict, lot_policy, open_lot_stay
from core.services.lane_exit import settle_at_exit
from core.services.lanes import PAY_URL, LaneOutcome, lane_name, record_decision
from core.store.lots import LanePassageRow
from core.store.unit_of_work import UnitOfWork


class NoPlateStayMissingError(ConflictError):
    """The driver scanned an exit without having scanned in."""

    code = "no_plate_stay_missing"
    message_zh = "未找到您的入场记录，请联系工作人员"


async def scan(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    lot_code: str,
    lane_code: str,
    driver_id: int,
) -> LaneOutcome:
    """At an entry lane open the driver's stay; at an exit lane price it and decide."""
    found = await uow.lots.lane(lot_code, lane_code)
    if found is None:
        raise NotFoundError("车道不存在", detail=f"{lot_code}/{lane_code}")
    lane, lot = found
    await uow.lots.lock_lot(lot.id)
    now = clock.now()
    mine = await uow.lots.open_for_driver(lot.id, driver_id)
    if lane.direction == Direction.ENTRY.value:
        if mine:  # scanning twice at the entry must not open a second stay
            opened = Decision(LaneAction.OPEN, "already_inside", "已入场 欢迎光临")
            verdict = Verdict(opened, mine[0].id, mine[0].ref)
        else:
            total, temporary = await uow.lots.count_open(lot.id)
            facts = EntryFacts("无牌车", Access.TEMPORARY, False, total, temporary)
            decision = decide_entry(await lot_policy(uow, lot), facts)
            if not decision.opens:
                raise ConflictError(decision.display_zh, detail=f"{lot_code}: {decision.reason}")
            stay = await open_lot_stay(
                uow, lot, lane, None, Access.TEMPORARY, None, now, driver_id=driver_id
            )
            verdict = Verdict(decision, stay.id, stay.ref)
    else:
        if len(mine) != 1:
            raise NoPlateStayMissingError(detail=f"driver {driver_id} in {lot_code}")
        details = await uow.lots.lot_stay(mine[0].id)
        assert details is not None
        verdict = await settle_at_exit(uow, calendar, lot, lane, mine[0], details, now)
    passage = LanePassageRow(
        ref=uuid.uuid4().hex[:20],
        dedupe_key=f"scan:{uuid.uuid4().hex}",
        lane_id=lane.id,
        direction=lane.direction,
        read_at=now,
        created_at=now,
        fee_fen=verdict.fee_fen,
        details={**verdict.details, "driver_id": driver_id, "stay_ref": verdict.stay_ref},
    )
    await record_decision(uow, lane, passage, verdict.decision, verdict.stay_id)
    await uow.commit()
    decision = verdict.decision
    pay_url = None
    if decision.action is LaneAction.PAY and verdict.stay_ref:
        pay_url = PAY_URL.format(stay_ref=verdict.stay_ref)
    return LaneOutcome(
        "applied",
        passage.ref,
        decision,
        verdict.stay_ref,
        verdict.fee_fen,
        pay_url,
        commands_for(lane_name(lot, lane), decision, pay_url),
    )
