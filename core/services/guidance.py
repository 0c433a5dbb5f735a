"""Use case: guidance signs' configuration and the free counts of the lots and zones they show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.availability import AvailabilityStore, summarise
from core.clock import Clock
from core.errors import NotFoundError
from core.guidance import Counts, SignConfig, SignTarget, TargetKind
from core.services.audit import record
from core.services.nearby import free_counts
from core.staff import StaffIdentity
from core.store.signs import GuidanceSignRow
from core.store.unit_of_work import UnitOfWork


class UnknownSignTargetError(NotFoundError):
    """A sign names a lot or zone that does not exist."""

    code = "unknown_sign_target"
    message_zh = "诱导屏所显示的停车场或片区不存在"


@dataclass(frozen=True, slots=True)
class SignSettings:
    """What staff set for a sign."""

    name: str
    transport: str
    address: str
    format: str
    targets: tuple[SignTarget, ...]
    min_interval_seconds: int
    options: dict[str, Any]
    enabled: bool


def config_of(row: GuidanceSignRow) -> SignConfig:
    """The pure configuration of a stored sign."""
    return SignConfig(
        code=row.code,
        transport=row.transport,
        address=row.address,
        format=row.format,
        targets=tuple(
            SignTarget(TargetKind(t["kind"]), str(t["code"]), str(t["label"])) for t in row.targets
        ),
        min_interval_seconds=row.min_interval_seconds,
        options=dict(row.options or {}),
    )


async def enabled_signs(uow: UnitOfWork) -> list[SignConfig]:
    """The signs the pusher serves."""
    return [config_of(row) for row in await uow.signs.listed(enabled_only=True)]


async def save_sign(
    uow: UnitOfWork, clock: Clock, actor: StaffIdentity, code: str, wanted: SignSettings, why: str
) -> GuidanceSignRow:
    """Create or replace a sign's configuration; audited, committed."""
    for target in wanted.targets:
        find = uow.city.lot_by_code if target.kind is TargetKind.LOT else uow.city.zone_by_code
        if await find(target.code) is None:
            raise UnknownSignTargetError(detail=f"{target.kind.value} {target.code}")
    row = await uow.signs.by_code(code)
    if row is None:
        row = GuidanceSignRow(code=code)
        uow.signs.add(row)
    row.name = wanted.name
    row.transport = wanted.transport
    row.address = wanted.address
    row.format = wanted.format
    row.targets = [{"kind": t.kind.value, "code": t.code, "label": t.label} for t in wanted.targets]
    row.min_interval_seconds = wanted.min_interval_seconds
    row.options = wanted.options
    row.enabled = wanted.enabled
    row.updated_at = clock.now()
    await uow.session.flush()
    await record(uow, clock, actor, "sign.save", code, why, {"targets": row.targets})
    await uow.commit()
    return row


async def target_counts(
    uow: UnitOfWork, availability: AvailabilityStore | None, signs: list[SignConfig], now: datetime
) -> tuple[Counts, Counts]:
    """(free, total) of every lot and zone the signs name: lots from open stays, zones live."""
    wanted = [t for sign in signs for t in sign.targets]
    lot_codes = sorted({t.code for t in wanted if t.kind is TargetKind.LOT})
    zone_codes = sorted({t.code for t in wanted if t.kind is TargetKind.ZONE})
    lots: dict[str, tuple[int, int]] = {}
    if lot_codes:
        spots = await uow.places.lots(lot_codes)
        free = await free_counts(uow, availability, spots, now)
        lots = {spot.code: (free.get(spot.key, 0), spot.total) for spot in spots}
    zones: dict[str, tuple[int, int]] = {}
    if availability is not None:
        for zone in zone_codes:
            counts = summarise(await availability.berths(zone)).zones.get(zone)
            if counts is not None:
                zones[zone] = (counts.free, counts.total)
    return lots, zones
