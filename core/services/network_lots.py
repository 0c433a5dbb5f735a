"""Use cases of the networked-lot register: join a lot, rotate and retire its keys, flag silence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core import network_keys
from core.bills import day_bounds
from core.clock import Clock
from core.errors import ConflictError, ValidationFailedError
from core.network import SILENT_AFTER, count_age_seconds, is_silent
from core.network_errors import NetworkLotExistsError, NetworkLotUnknownError
from core.network_keys import AppKey
from core.services import audit
from core.staff import StaffIdentity
from core.store.city import LotRow, OperatorRow
from core.store.network import NetworkKeyRow, NetworkLotRow
from core.store.unit_of_work import UnitOfWork

LOT_KINDS = ("public", "hospital", "mall", "residential")


@dataclass(frozen=True, slots=True)
class LotRegistration:
    """What joining a lot takes: who runs it, where it is, what it costs, who to call."""

    code: str
    name: str
    kind: str
    district: str
    operator_code: str
    operator_name: str
    sub_mchid: str
    address: str
    lat: float
    lng: float
    berths: int
    opening_hours: str
    vendor: str
    contact: str
    tariff_code: str | None = None
    tariff_summary: str | None = None
    webhook_url: str | None = None


@dataclass(frozen=True, slots=True)
class DayTotals:
    """A lot's own totals of its latest reported day beside what its pushes gave the platform."""

    day: date
    entries: int
    exits: int
    fee_fen: int
    paid_fen: int
    counted_entries: int
    counted_exits: int


@dataclass(frozen=True, slots=True)
class RegisteredLot:
    """A lot of the register as the ops console shows it."""

    code: str
    name: str
    app_id: str
    operator_code: str
    sub_mchid: str
    vendor: str
    contact: str
    address: str
    lat: float
    lng: float
    berths: int
    opening_hours: str
    tariff_code: str | None
    tariff_summary: str | None
    webhook_url: str | None
    last_seen_at: datetime | None
    silent: bool
    free_spaces: int | None
    count_age_s: int | None
    open_faults: int
    key_ids: list[str]
    last_day: DayTotals | None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key shown once, when it is made; the platform keeps it sealed."""

    code: str
    app_id: str
    key: AppKey
    retiring: list[str]


def placeholder_tariff(code: str) -> str:
    """The tariff code of a lot that only gave a summary (no tariff has it, so none prices)."""
    return f"network-{code}"


async def register_lot(
    uow: UnitOfWork, clock: Clock, secret: str, actor: StaffIdentity | str, lot: LotRegistration
) -> IssuedKey:
    """Join a lot: its lot row, its sub-merchant, its network record and a first key."""
    if lot.kind not in LOT_KINDS:
        raise ValidationFailedError(f"车场类型须为 {'/'.join(LOT_KINDS)}", detail=lot.kind)
    if (lot.tariff_code is None) == (lot.tariff_summary is None):
        raise ValidationFailedError("须给出收费摘要或已登记的收费标准（二选一）")
    now = clock.now()
    if lot.tariff_code is not None and await uow.tariffs.version_at(lot.tariff_code, now) is None:
        raise ValidationFailedError("收费标准不存在，请先登记", detail=lot.tariff_code)
    if await uow.city.lot_by_code(lot.code) is not None:
        raise NetworkLotExistsError(detail=lot.code)
    district_id = await uow.network.district_id(lot.district)
    if district_id is None:
        raise ValidationFailedError("行政区不存在", detail=lot.district)
    operator = await _operator(uow, lot)
    row = LotRow(
        code=lot.code,
        name=lot.name,
        kind=lot.kind,
        district_id=district_id,
        operator_id=operator.id,
        tariff_code=lot.tariff_code or placeholder_tariff(lot.code),
        capacity=lot.berths,
        lat=Decimal(str(lot.lat)),
        lng=Decimal(str(lot.lng)),
    )
    uow.network.add(row)
    await uow.network.flush()
    record = NetworkLotRow(
        lot_id=row.id,
        app_id=network_keys.new_app_id(),
        vendor=lot.vendor,
        contact=lot.contact,
        address=lot.address,
        opening_hours=lot.opening_hours,
        tariff_summary=lot.tariff_summary,
        webhook_url=lot.webhook_url,
        registered_at=now,
    )
    uow.network.add(record)
    await uow.network.flush()
    key = _add_key(uow, secret, record, now)
    await audit.record(uow, clock, actor, "network_lot.register", f"lot:{lot.code}", "联网接入")
    await uow.commit()
    return IssuedKey(lot.code, record.app_id, key, [])


async def _operator(uow: UnitOfWork, lot: LotRegistration) -> OperatorRow:
    """The lot's operator; a new one with its own sub-merchant when first seen."""
    found = await uow.network.operator_by_code(lot.operator_code)
    if found is not None:
        if found.sub_mchid != lot.sub_mchid:
            raise ConflictError("该运营方已登记其他子商户号", detail=lot.operator_code)
        return found
    taken = await uow.city.operator_code_of_sub_mchid(lot.sub_mchid)
    if taken is not None:
        raise ConflictError("该子商户号已属于其他运营方", detail=taken)
    operator = OperatorRow(code=lot.operator_code, name=lot.operator_name, sub_mchid=lot.sub_mchid)
    uow.network.add(operator)
    await uow.network.flush()
    return operator


def _add_key(uow: UnitOfWork, secret: str, record: NetworkLotRow, now: datetime) -> AppKey:
    key = network_keys.new_key()
    sealed = network_keys.seal(secret, key, record.app_id)
    uow.network.add(
        NetworkKeyRow(network_lot_id=record.id, key_id=key.key_id, sealed=sealed, created_at=now)
    )
    return key


async def rotate_key(
    uow: UnitOfWork, clock: Clock, secret: str, actor: StaffIdentity | str, code: str
) -> IssuedKey:
    """A new key; the keys live now keep working for the overlap, then stop."""
    record, _ = await _lot(uow, code)
    now = clock.now()
    retiring = []
    for row in await uow.network.keys(record.id):
        if network_keys.is_live(row.expires_at, now):
            end = now + network_keys.ROTATION_OVERLAP
            row.expires_at = min(row.expires_at or end, end)
            retiring.append(row.key_id)
    key = _add_key(uow, secret, record, now)
    details = {"new": key.key_id, "retiring": retiring}
    await audit.record(
        uow, clock, actor, "network_lot.rotate_key", f"lot:{code}", "轮换密钥", details
    )
    await uow.commit()
    return IssuedKey(code, record.app_id, key, retiring)


async def retire_key(
    uow: UnitOfWork, clock: Clock, actor: StaffIdentity | str, code: str, key_id: str
) -> None:
    """End a key now (the lot confirmed it switched, or the key leaked)."""
    record, _ = await _lot(uow, code)
    now = clock.now()
    keys = await uow.network.keys(record.id)
    live = [k for k in keys if network_keys.is_live(k.expires_at, now)]
    target = next((k for k in keys if k.key_id == key_id), None)
    if target is None:
        raise NetworkLotUnknownError("未找到该密钥", detail=f"{code}/{key_id}")
    if live == [target]:
        raise ConflictError("不能停用唯一有效的密钥，请先轮换", detail=key_id)
    target.expires_at = now
    await audit.record(uow, clock, actor, "network_lot.retire_key", f"lot:{code}", "停用密钥")
    await uow.commit()


def open_keys(secret: str, app_id: str, rows: list[NetworkKeyRow], now: datetime) -> list[str]:
    """The secrets of those keys that verify now, in the order given."""
    return [
        network_keys.unseal(secret, row.sealed, app_id, row.key_id)
        for row in rows
        if network_keys.is_live(row.expires_at, now)
    ]


async def _lot(uow: UnitOfWork, code: str) -> tuple[NetworkLotRow, LotRow]:
    found = await uow.network.by_code(code)
    if found is None:
        raise NetworkLotUnknownError(detail=code)
    return found


async def list_lots(uow: UnitOfWork, clock: Clock) -> list[RegisteredLot]:
    """The register, with each lot's silence, count age and faults."""
    now = clock.now()
    faults = await uow.network.open_faults()
    listed = []
    for record, lot in await uow.network.register():
        operator = await uow.city.operator(lot.operator_id)
        keys = await uow.network.keys(record.id)
        listed.append(
            RegisteredLot(
                code=lot.code,
                name=lot.name,
                app_id=record.app_id,
                operator_code=operator.code,
                sub_mchid=operator.sub_mchid,
                vendor=record.vendor,
                contact=record.contact,
                address=record.address,
                lat=float(lot.lat),
                lng=float(lot.lng),
                berths=lot.capacity,
                opening_hours=record.opening_hours,
                tariff_code=None if record.tariff_summary else lot.tariff_code,
                tariff_summary=record.tariff_summary,
                webhook_url=record.webhook_url,
                last_seen_at=record.last_seen_at,
                silent=record.silent_since is not None
                or is_silent(record.last_seen_at, record.registered_at, now),
                free_spaces=record.free_spaces,
                count_age_s=count_age_seconds(record.counted_at, now),
                open_faults=faults.get(record.id, 0),
                key_ids=[k.key_id for k in keys if network_keys.is_live(k.expires_at, now)],
                last_day=await _last_day(uow, record.id),
            )
        )
    return listed


async def _last_day(uow: UnitOfWork, network_lot_id: int) -> DayTotals | None:
    summary = await uow.network.latest_summary(network_lot_id)
    if summary is None:
        return None
    entries, exits = await uow.network.stays_counted(network_lot_id, *day_bounds(summary.day))
    return DayTotals(
        summary.day,
        summary.entries,
        summary.exits,
        summary.fee_fen,
        summary.paid_fen,
        entries,
        exits,
    )


async def flag_silent_lots(uow: UnitOfWork, clock: Clock) -> list[str]:
    """Flag lots that pushed nothing for SILENT_AFTER; the codes newly flagged (commits)."""
    now = clock.now()
    ids = await uow.network.mark_silent(now - SILENT_AFTER, now)
    await uow.network.forget_nonces(now)
    await uow.commit()
    return [lot.code for record, lot in await uow.network.register() if record.id in ids]
