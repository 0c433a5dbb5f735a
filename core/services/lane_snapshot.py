"""Use case: the read-only snapshot of one lot that its lane agent runs the gates with offline."""

from __future__ import annotations

from core.clock import Clock
from core.errors import NotFoundError
from core.lane_agent import LotSnapshot, SnapshotRight
from core.services.lane_entry import lot_policy
from core.services.pricing import TariffMissingError
from core.staff import StaffIdentity, covers
from core.store.unit_of_work import UnitOfWork


class LotNotFoundError(NotFoundError):
    """No gated lot has this code (or the account may not see it)."""

    code = "lot_not_found"
    message_zh = "停车场不存在"


async def lot_snapshot(
    uow: UnitOfWork, clock: Clock, lot_code: str, staff: StaffIdentity | None = None
) -> LotSnapshot:
    """Passes, residents' spaces, the block list and the tariff version in force, for one lot."""
    lot = await uow.city.lot_by_code(lot_code)
    if lot is None:
        raise LotNotFoundError(detail=f"lot {lot_code!r}")
    if staff is not None:
        operator, district = await uow.lots.lot_place_codes(lot)
        if not covers(staff.scope, operator, district, lot.code):
            raise LotNotFoundError(detail=f"lot {lot_code!r} outside {staff.username}'s scope")
    now = clock.now()
    version = await uow.tariffs.version_at(lot.tariff_code, now)
    if version is None:
        raise TariffMissingError(detail=f"no version of {lot.tariff_code} at {now}")
    policy = await lot_policy(uow, lot)
    rights = tuple(
        SnapshotRight(
            right.ref, right.kind, tuple(plates), right.valid_from, right.valid_until, right.windows
        )
        for right, plates in await uow.lots.rights_of_lot(lot.id, now)
    )
    devices = {
        device.code: (lane.code, lane.direction)
        for device, lane in await uow.lots.lane_devices(lot.id)
        if device.kind == "anpr_camera"
    }
    return LotSnapshot(
        lot=lot.code,
        hospital=policy.hospital,
        block_refuses=policy.block_action.value == "refuse",
        devices=devices,
        rights=rights,
        blocked=frozenset(await uow.lots.blocked_plates(lot.id)),
        tariff_code=lot.tariff_code,
        tariff_version=version.version,
        tariff_body=dict(version.body),
        taken_at=now,
    )
