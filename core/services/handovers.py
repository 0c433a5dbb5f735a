"""Use cases of handing escalated arrears to the traffic police in batches (audited)."""

from __future__ import annotations

import secrets

from core.arrears import ArrearsStep
from core.clock import Clock
from core.handovers import (
    BatchHandedOverError,
    BatchNotFoundError,
    BatchStatus,
    HandoverBatch,
    HandoverLine,
    NothingToHandOverError,
    TrafficPoliceGateway,
)
from core.payments import SHANGHAI
from core.services import audit
from core.services.retrying import Uows
from core.staff import StaffIdentity
from core.store.handovers import HandoverBatchRow
from core.store.unit_of_work import UnitOfWork


async def make_batch(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, limit: int = 500
) -> HandoverBatch:
    """Gather the escalated arrears in scope not yet handed over into a new batch; commits."""
    items = await uow.arrears.escalated_unbatched(staff.scope, limit=limit)
    if not items:
        raise NothingToHandOverError()
    actions = await uow.arrears.actions([item.stay_id for item in items])
    colours = await uow.handovers.plate_colours(sorted({item.plate for item in items}))
    lines = []
    for item in items:
        steps = actions[item.stay_id]
        served = [a.at for a in steps if a.step is ArrearsStep.NOTICE_SERVED]
        images = [ref for _, ref in await uow.vehicles.stay_images(item.stay_id)]
        evidence = (*images, *(a.evidence for a in steps if a.evidence))
        place = " ".join(p for p in (item.zone, item.street, item.berth) if p)
        lines.append(
            HandoverLine(
                stay_ref=item.ref,
                plate=item.plate,
                colour=colours.get(item.plate, ""),
                place=place,
                entered_at=item.entered_at,
                exited_at=item.exited_at,
                evidence=tuple(evidence),
                amount_fen=item.due_fen,
                notice_served_at=min(served) if served else None,
            )
        )
    now = clock.now()
    ref = f"HO{now.astimezone(SHANGHAI):%Y%m%d%H%M}{secrets.token_hex(3).upper()}"
    row = HandoverBatchRow(
        ref=ref, status=BatchStatus.DRAFT.value, created_by=staff.actor, created_at=now
    )
    await uow.handovers.add(row, lines, [item.stay_id for item in items])
    batch = HandoverBatch(ref, BatchStatus.DRAFT, staff.actor, now, tuple(lines))
    details = {"stays": len(lines), "total_fen": batch.total_fen}
    await audit.record(uow, clock, staff, "handover.create", ref, "生成移交批次", details)
    await uow.commit()
    return batch


async def hand_over(
    uows: Uows, clock: Clock, gateway: TrafficPoliceGateway, staff: StaffIdentity, ref: str
) -> HandoverBatch:
    """Send a drafted batch through the port and mark it handed over with the receipt."""
    async with uows() as uow:
        batch = await uow.handovers.batch(ref)
    if batch is None:
        raise BatchNotFoundError(detail=ref)
    if batch.status is BatchStatus.HANDED_OVER:
        raise BatchHandedOverError(detail=ref)
    receipt = await gateway.submit(batch)  # the port answers the same receipt for a repeat
    async with uows() as uow:
        await uow.payments.lock_for_write()  # SQLite: a concurrent hand-over commits first
        row = await uow.handovers.row(ref, for_update=True)
        if row is None:
            raise BatchNotFoundError(detail=ref)
        if row.status == BatchStatus.HANDED_OVER.value:
            raise BatchHandedOverError(detail=ref)
        now = clock.now()
        row.status, row.handed_over_by, row.handed_over_at = (
            BatchStatus.HANDED_OVER.value,
            staff.actor,
            now,
        )
        row.receipt = receipt
        details = {"receipt": receipt, "stays": len(batch.lines), "total_fen": batch.total_fen}
        await audit.record(uow, clock, staff, "handover.send", ref, "移交交警", details)
        await uow.commit()
    return HandoverBatch(
        batch.ref,
        BatchStatus.HANDED_OVER,
        batch.created_by,
        batch.created_at,
        batch.lines,
        now,
        receipt,
    )
