"""The few wide queries a lane read needs, so one decision costs few round trips; never commits."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Connection,
    Engine,
    Select,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.store.activity import LedgerPostingRow, StayRow
from core.store.city import DeviceRow, LaneRow, LotRow, OperatorRow, TariffRow
from core.store.driver_reads import Layout, fetch_loaded, fetch_one, layout_columns
from core.store.lane_values import LaneValue, LotValue, PolicyValue, column_count, value_of
from core.store.lots import (
    LanePassageRow,
    LotPolicyRow,
    LotRightPlateRow,
    LotRightRow,
    LotStayRow,
    MerchantValidationRow,
    PlateBlockRow,
)
from core.store.people import VehicleBindingRow, VehicleRow


@dataclass(frozen=True, slots=True)
class StayHints:
    """What the candidate query learnt about a stay, so pricing and closing skip empty queries."""

    waiting: bool = True  # an exit passage of it waits for payment or a human
    rights: bool = True  # its plate has an active right in the lot
    validations: bool = True  # a merchant validation was redeemed for it
    earlier: bool = True  # its plate has an earlier closed stay in the lot (the plate's day)
    tariff: TariffKey | None = None  # the lot tariff's version in force at its entry


@dataclass(frozen=True, slots=True)
class TariffKey:
    """Names one stored tariff version: its row id and what never changes about it."""

    id: int
    code: str
    version: int
    effective_from: datetime


@dataclass(frozen=True, slots=True)
class TariffVersion:
    """A stored tariff version, kept by this process (versions are added, never edited)."""

    code: str
    version: int
    effective_from: datetime
    body: dict[str, Any]


# Tariff versions already read, per engine (so per database) and key. A stored version never
# changes, so a hit needs no query; the key includes code, version and start besides the id.
_TARIFFS: WeakKeyDictionary[Engine | Connection, dict[TariffKey, TariffVersion]] = (
    WeakKeyDictionary()
)
_TARIFFS_MAX = 256


@dataclass(frozen=True, slots=True)
class EntryCounts:
    """What an entry decision needs to know about the lot and the plate, in one query."""

    open_stays: int
    open_temporary: int
    block_reason: str | None  # an active block of the plate here or everywhere
    balance_fen: int  # of the plate's receivable: arrears when positive
    inside: int  # the plate's open stays in the lot
    rights: bool  # an active right of the plate in the lot is valid at the read's time
    verified_binders: bool  # a driver's verified binding of the plate (entry notices)


@dataclass(frozen=True, slots=True)
class LaneLock:
    """What the locking statement of a lane read found: the lane and its lot (locked), the
    lot's policy and operator code, and the passage stored for the read, if any."""

    lane: LaneValue
    lot: LotValue
    policy: PolicyValue | None
    operator_code: str
    seen: LanePassageRow | None


# Lane, lot and policy as plain columns (made frozen values), the operator's code, the passage.
_VALUES = (LaneRow, LotRow, LotPolicyRow)
_LANE_LAYOUT: Layout = (*(column_count(c) for c in _VALUES), 1, LanePassageRow)


def _lane_of_device(*, reserve_stay_key: bool = False) -> Select[Any]:
    columns = layout_columns(*_VALUES, OperatorRow.code, LanePassageRow)
    if reserve_stay_key:  # PostgreSQL: an entry's new stay gets its key with the lock
        columns.append(case((LaneRow.direction == "entry", func.nextval("stays_id_seq"))))
    return (
        select(*columns)
        .select_from(LaneRow)
        .join(DeviceRow, DeviceRow.lane_id == LaneRow.id)
        .join(LotRow, LotRow.id == LaneRow.lot_id)
        .join(OperatorRow, OperatorRow.id == LotRow.operator_id)
        .outerjoin(LotPolicyRow, LotPolicyRow.lot_id == LotRow.id)
        .outerjoin(LanePassageRow, LanePassageRow.dedupe_key == bindparam("key"))
        .where(DeviceRow.code == bindparam("device"))
        .with_for_update(of=LotRow)
    )


def _entry_counts() -> Select[Any]:
    lot_id: BindParameter[int] = bindparam("lot_id")
    plate: BindParameter[str] = bindparam("plate")
    open_stays = (
        select(func.count())
        .select_from(LotStayRow)
        .join(StayRow, StayRow.id == LotStayRow.stay_id)
        .where(StayRow.lot_id == lot_id, StayRow.status == "open")
    )
    temporary = open_stays.where(LotStayRow.access == "temporary")
    block = (
        select(PlateBlockRow.reason)
        .where(
            PlateBlockRow.plate == plate,
            PlateBlockRow.active.is_(True),
            or_(PlateBlockRow.lot_id == lot_id, PlateBlockRow.lot_id.is_(None)),
        )
        .limit(1)
    )
    balance = select(
        func.coalesce(func.sum(LedgerPostingRow.debit_fen - LedgerPostingRow.credit_fen), 0)
    ).where(LedgerPostingRow.account == bindparam("receivable"))
    inside = (
        select(func.count())
        .select_from(StayRow)
        .where(StayRow.lot_id == lot_id, StayRow.plate == plate, StayRow.status == "open")
    )
    rights = exists().where(
        LotRightPlateRow.plate == plate,
        LotRightRow.id == LotRightPlateRow.right_id,
        LotRightRow.lot_id == lot_id,
        LotRightRow.status == "active",
        LotRightRow.valid_from <= bindparam("at"),
        LotRightRow.valid_until > bindparam("at"),
    )
    binders = exists().where(
        VehicleRow.plate == plate,
        VehicleBindingRow.vehicle_id == VehicleRow.id,
        VehicleBindingRow.verified_at.is_not(None),
    )
    return select(
        open_stays.scalar_subquery(),
        temporary.scalar_subquery(),
        block.scalar_subquery(),
        balance.scalar_subquery(),
        inside.scalar_subquery(),
        rights,
        binders,
    )


@lru_cache(maxsize=32)
def _exit_candidates(patterns: int) -> Select[Any]:
    """The candidate query for a number of LIKE patterns (bound as p0, p1, ...)."""
    lot_id: BindParameter[int] = bindparam("lot_id")
    waiting = exists().where(
        LanePassageRow.stay_id == StayRow.id,
        # Not IN (...): an expanding parameter is rendered per execution (driver_sql).
        or_(LanePassageRow.status == "awaiting_payment", LanePassageRow.status == "held"),
    )
    awaiting = exists().where(
        LanePassageRow.stay_id == StayRow.id, LanePassageRow.status == "awaiting_payment"
    )
    rights = exists().where(
        LotRightPlateRow.plate == StayRow.plate,
        LotRightRow.id == LotRightPlateRow.right_id,
        LotRightRow.lot_id == lot_id,
        LotRightRow.status == "active",
    )
    validations = exists().where(MerchantValidationRow.stay_id == StayRow.id)
    before = aliased(StayRow)
    # No time bound, so it stays portable: a superset of the stays that share the plate's day.
    earlier = exists().where(
        before.plate == StayRow.plate,
        before.status == "closed",
        before.lot_id == lot_id,
        before.exited_at <= StayRow.entered_at,
    )
    in_force = (  # as TariffRepository.version_at, for each candidate's entry
        select(TariffRow.id)
        .where(
            TariffRow.code == bindparam("tariff_code"),
            TariffRow.effective_from <= StayRow.entered_at,
        )
        .order_by(TariffRow.effective_from.desc(), TariffRow.version.desc())
        .limit(1)
        .scalar_subquery()
    )
    tariff = aliased(TariffRow)
    like = (StayRow.plate.like(bindparam(f"p{n}"), escape="\\") for n in range(patterns))
    # The stays that can be candidates at all, found by index: the lot's open ones and those
    # its lanes wait on. Its closed history (thousands) is never scanned for a plate.
    reachable: CompoundSelect[Any] = union_all(
        select(StayRow.id).where(StayRow.lot_id == lot_id, StayRow.status == "open"),
        select(LanePassageRow.stay_id)
        .join(LaneRow, LaneRow.id == LanePassageRow.lane_id)
        .where(LaneRow.lot_id == lot_id, LanePassageRow.status == "awaiting_payment"),
    )
    return (
        select(
            *layout_columns(
                StayRow,
                LotStayRow,
                waiting,
                rights,
                validations,
                earlier,
                tariff.id,
                tariff.version,
                tariff.effective_from,
            )
        )
        .select_from(StayRow)
        .join(LotStayRow, LotStayRow.stay_id == StayRow.id)
        .outerjoin(tariff, tariff.id == in_force)
        .where(
            StayRow.id.in_(reachable),
            StayRow.lot_id == lot_id,
            or_(*like),
            or_(StayRow.status == "open", (StayRow.status == "closed") & awaiting),
        )
        .order_by(StayRow.entered_at)
    )


# Built once: building and keying a statement costs as much CPU as running it.
_LANE_OF_DEVICE = _lane_of_device()
_LANE_OF_DEVICE_RESERVING = _lane_of_device(reserve_stay_key=True)
_ENTRY_COUNTS = _entry_counts()
_PLATE_RIGHTS = (
    select(LotRightRow)
    .join(LotRightPlateRow, LotRightPlateRow.right_id == LotRightRow.id)
    .where(
        LotRightRow.lot_id == bindparam("lot_id"),
        LotRightPlateRow.plate == bindparam("plate"),
        LotRightRow.status == "active",
        LotRightRow.valid_from <= bindparam("until"),
        LotRightRow.valid_until > bindparam("since"),
    )
    .order_by(LotRightRow.id)
)


class LaneReadRepository:
    """Lane, lot, policy, operator and stored passage in one locking query; entry counts; exit
    candidates (on PostgreSQL through core.store.driver_sql)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._stay_key: int | None = None

    async def lock_lane_of_device(self, device_code: str, dedupe_key: str) -> LaneLock | None:
        """The device's lane and lot (locked until the transaction ends), the lot's policy and
        operator, and the passage stored for this dedupe key, if any (as seen when the
        statement began); None for a device at no lane."""
        params = {"device": device_code, "key": dedupe_key}
        if self._session.get_bind().dialect.name == "postgresql":
            name, statement = "lane_reads.lane_of_device.reserving", _LANE_OF_DEVICE_RESERVING
            layout: Layout = (*_LANE_LAYOUT, 1)
        else:
            name, statement, layout = "lane_reads.lane_of_device", _LANE_OF_DEVICE, _LANE_LAYOUT
        rows = await fetch_loaded(self._session, name, statement, params, layout)
        if not rows:
            return None
        found = rows[0]
        at = 0
        values = []
        for row_class in _VALUES:
            width = column_count(row_class)
            values.append(value_of(row_class, found[at : at + width]))
            at += width
        code, seen = found[at], found[at + 1]
        self._stay_key = found[at + 2] if len(found) > at + 2 else None
        return LaneLock(values[0], values[1], values[2], code, seen)

    def take_stay_key(self) -> int | None:
        """The key the lock reserved for a stay the entry opens (PostgreSQL), once; else None.

        With its key known, the new stay joins the unit's batch of writes instead of costing a
        round trip of its own under the lot's lock. A key not taken is a gap in the sequence.
        """
        key, self._stay_key = self._stay_key, None
        return key

    async def entry_counts(
        self, lot_id: int, plate: str, receivable: str, at: datetime
    ) -> EntryCounts:
        """The lot's open stays and what is known of the plate there, in one query."""
        params = {"lot_id": lot_id, "plate": plate, "receivable": receivable, "at": at}
        row = await fetch_one(self._session, "lane_reads.entry_counts", _ENTRY_COUNTS, params)
        return EntryCounts(
            int(row[0]),
            int(row[1]),
            row[2],
            int(row[3] or 0),
            int(row[4]),
            bool(row[5]),
            bool(row[6]),
        )

    async def exit_candidates(
        self, lot_id: int, tariff_code: str, patterns: Sequence[str]
    ) -> list[tuple[StayRow, LotStayRow, StayHints]]:
        """Open stays and stays awaiting payment whose plate matches a LIKE pattern, with hints."""
        params: dict[str, Any] = {f"p{n}": p for n, p in enumerate(patterns)}
        params.update(lot_id=lot_id, tariff_code=tariff_code)
        name = f"lane_reads.exit_candidates.{len(patterns)}"
        statement = _exit_candidates(len(patterns))
        rows = await fetch_loaded(self._session, name, statement, params, (StayRow, LotStayRow, 7))
        found = []
        for s, d, w, r, v, e, tariff_id, version, start in rows:
            key = None if tariff_id is None else TariffKey(tariff_id, tariff_code, version, start)
            hints = StayHints(bool(w), bool(r), bool(v), bool(e), key)
            found.append((s, d, hints))
        return found

    async def plate_rights(
        self, lot_id: int, plate: str, since: datetime, until: datetime
    ) -> list[LotRightRow]:
        """Active rights of a plate in a lot valid at some moment from `since` to `until`."""
        params = {"lot_id": lot_id, "plate": plate, "since": since, "until": until}
        return list(await self._session.scalars(_PLATE_RIGHTS, params))

    async def tariff(self, key: TariffKey) -> TariffVersion:
        """A stored tariff version, read once per process and database."""
        engine = self._session.get_bind()
        kept = _TARIFFS.setdefault(engine, {})
        if key in kept:
            return kept[key]
        row = await self._session.get_one(TariffRow, key.id)
        if (row.code, row.version, row.effective_from) != (
            key.code,
            key.version,
            key.effective_from,
        ):
            raise LookupError(f"tariff row {key.id} is not {key}")  # cannot happen: same query
        if len(kept) >= _TARIFFS_MAX:
            kept.clear()
        kept[key] = TariffVersion(
            row.code, row.version, row.effective_from, copy.deepcopy(row.body)
        )
        return kept[key]
