"""Repositories: the only code that reads and writes tables; they never commit."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ledger import JournalEntry
from core.store.activity import DeviceEventRow, LedgerEntryRow, LedgerPostingRow, StayRow
from core.store.city import (
    BerthRow,
    DistrictRow,
    HolidayOverrideRow,
    LotRow,
    OperatorRow,
    TariffRow,
    ZoneRow,
)
from core.store.lane_values import LotValue
from core.store.lots import LotStayRow
from core.store.stay_payments import held_by_payments
from core.store.write_batch import insert_with_children


class CityRepository:
    """Reads the parking supply: berths, zones, lots and their operators."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._operator_codes: dict[int, str] = {}
        self._lot_names: dict[int, str] = {}

    async def berth_by_code(self, code: str) -> BerthRow | None:
        """The berth with this code, if any."""
        query = select(BerthRow).where(BerthRow.code == code)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def zone(self, zone_id: int) -> ZoneRow:
        """The zone with this id."""
        return await self._session.get_one(ZoneRow, zone_id)

    async def lot(self, lot_id: int) -> LotRow:
        """The lot with this id."""
        return await self._session.get_one(LotRow, lot_id)

    async def place_name(self, berth_id: int | None, lot_id: int | None) -> str:
        """A short name of where a stay is: the berth code or the lot name."""
        if berth_id is not None:
            berth = await self._session.get_one(BerthRow, berth_id)
            return berth.code
        if lot_id in self._lot_names:
            return self._lot_names[lot_id]
        if lot_id is not None:
            return (await self._session.get_one(LotRow, lot_id)).name
        return ""

    async def place_names(self, stays: list[StayRow]) -> dict[int, str]:
        """The place_name of each stay by stay id, in at most two queries."""
        berth_ids = {s.berth_id for s in stays if s.berth_id is not None}
        lot_ids = {s.lot_id for s in stays if s.berth_id is None and s.lot_id is not None}
        berths: dict[int, str] = {}
        lots: dict[int, str] = {}
        if berth_ids:
            found = await self._session.execute(_BERTH_CODES, {"ids": list(berth_ids)})
            berths = dict(found.tuples().all())
        if lot_ids:
            named = await self._session.execute(_LOT_NAMES, {"ids": list(lot_ids)})
            lots = dict(named.tuples().all())
        return {s.id: _place(s, berths, lots) for s in stays}

    async def berth(self, berth_id: int) -> BerthRow:
        """The berth with this id."""
        return await self._session.get_one(BerthRow, berth_id)

    async def berth_street(self, berth_id: int) -> str | None:
        """The street a berth lies on."""
        berth = await self._session.get_one(BerthRow, berth_id)
        return berth.street

    async def zone_by_code(self, code: str) -> ZoneRow | None:
        """The zone with this code, if any."""
        query = select(ZoneRow).where(ZoneRow.code == code)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def lot_by_code(self, code: str) -> LotRow | None:
        """The lot with this code, if any."""
        query = select(LotRow).where(LotRow.code == code)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def operator(self, operator_id: int) -> OperatorRow:
        """The operator with this id."""
        return await self._session.get_one(OperatorRow, operator_id)

    async def operator_code(self, operator_id: int) -> str:
        """The code of the operator with this id (remembered for this unit of work)."""
        if operator_id not in self._operator_codes:
            self._operator_codes[operator_id] = (await self.operator(operator_id)).code
        return self._operator_codes[operator_id]

    def remember_lot(self, lot: LotValue, operator_code: str) -> None:
        """Keep a lot's name and its operator's code, read with the lot (a lane read's lock), so
        `place_name` and `operator_code` ask nothing."""
        self._lot_names[lot.id] = lot.name
        self._operator_codes[lot.operator_id] = operator_code

    async def district_code(self, district_id: int) -> str:
        """The code of the district with this id (for staff scope checks)."""
        return (await self._session.get_one(DistrictRow, district_id)).code

    async def operator_code_of_sub_mchid(self, sub_mchid: str) -> str | None:
        """The code of the operator paid as this WeChat Pay sub-merchant, if any."""
        query = select(OperatorRow.code).where(OperatorRow.sub_mchid == sub_mchid)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def sub_mchids(self) -> list[str]:
        """Every operator's WeChat Pay sub-merchant number, sorted."""
        query = select(OperatorRow.sub_mchid).order_by(OperatorRow.sub_mchid)
        return list(await self._session.scalars(query))


class CalendarRepository:
    """The holiday override table."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def overrides(self) -> list[HolidayOverrideRow]:
        """Every override, by day."""
        query = select(HolidayOverrideRow).order_by(HolidayOverrideRow.day)
        return list(await self._session.scalars(query))

    async def override_for(self, day: date) -> HolidayOverrideRow | None:
        """The override of one day, if any."""
        query = select(HolidayOverrideRow).where(HolidayOverrideRow.day == day)
        return (await self._session.execute(query)).scalar_one_or_none()

    def add(self, row: HolidayOverrideRow) -> None:
        """Store a new override."""
        self._session.add(row)


class TariffRepository:
    """Versioned tariff documents."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def version_at(self, code: str, moment: datetime) -> TariffRow | None:
        """The newest version of a tariff already in effect at a moment."""
        query = (
            select(TariffRow)
            .where(TariffRow.code == code, TariffRow.effective_from <= moment)
            .order_by(TariffRow.effective_from.desc(), TariffRow.version.desc())
            .limit(1)
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def latest_version(self, code: str) -> int:
        """The highest version number stored for a tariff code, 0 when none."""
        query = select(func.max(TariffRow.version)).where(TariffRow.code == code)
        return (await self._session.scalar(query)) or 0

    def add(self, row: TariffRow) -> None:
        """Store a new tariff version."""
        self._session.add(row)

    async def all_versions(self) -> list[TariffRow]:
        """Every stored version, by code and version."""
        query = select(TariffRow).order_by(TariffRow.code, TariffRow.version)
        return list(await self._session.scalars(query))


# Built once: the reads of a driver's page of stays run on every request, and building a
# statement costs more CPU than SQLite takes to answer it.
_BERTH_CODES = select(BerthRow.id, BerthRow.code).where(
    BerthRow.id.in_(bindparam("ids", expanding=True))
)
_LOT_NAMES = select(LotRow.id, LotRow.name).where(LotRow.id.in_(bindparam("ids", expanding=True)))
# A lot stay holds what the lot noted from every channel (cash, card, payment code, WeChat); a
# street stay what its settled payments hold.
_PAID = case(
    (StayRow.lot_id.is_not(None), func.coalesce(LotStayRow.paid_fen, 0)),
    else_=held_by_payments(StayRow.ref),
)
_PAID_TOWARD = (
    select(StayRow.id, _PAID)
    .outerjoin(LotStayRow, LotStayRow.stay_id == StayRow.id)
    .where(StayRow.id.in_(bindparam("ids", expanding=True)))
)
_UNPAID_FOR_PLATE = (
    select(StayRow, StayRow.fee_fen - _PAID)
    .outerjoin(LotStayRow, LotStayRow.stay_id == StayRow.id)
    .where(StayRow.plate == bindparam("plate"), StayRow.status == "closed", StayRow.fee_fen > _PAID)
    .order_by(StayRow.exited_at, StayRow.id)
    .limit(bindparam("limit"))
)


def _place(stay: StayRow, berths: dict[int, str], lots: dict[int, str]) -> str:
    if stay.berth_id is not None:
        return berths[stay.berth_id]
    return lots[stay.lot_id] if stay.lot_id is not None else ""


class StayRepository:
    """Stays of vehicles at berths and in lots."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, stay: StayRow) -> None:
        """Start tracking a new stay."""
        self._session.add(stay)

    async def by_ref(self, ref: str, *, for_update: bool = False) -> StayRow | None:
        """The stay with this public reference (locked until the unit ends, if asked)."""
        query = select(StayRow).where(StayRow.ref == ref)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def open_at_berth(self, berth_id: int) -> StayRow | None:
        """The stay currently open at a berth, if any."""
        query = select(StayRow).where(StayRow.berth_id == berth_id, StayRow.status == "open")
        query = query.order_by(StayRow.entered_at.desc()).limit(1)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def closed_in_zone_class(
        self, plate: str, zone_class: int, since: datetime, until: datetime, exclude_id: int | None
    ) -> list[tuple[StayRow, str | None]]:
        """A plate's priced on-street stays in zones of one class that ended in a window."""
        query = (
            select(StayRow, BerthRow.street)
            .join(ZoneRow, ZoneRow.id == StayRow.zone_id)
            .join(BerthRow, BerthRow.id == StayRow.berth_id)
            .where(
                StayRow.plate == plate,
                StayRow.status == "closed",
                ZoneRow.zone_class == zone_class,
                StayRow.exited_at >= since,
                StayRow.entered_at <= until,
            )
            .order_by(StayRow.entered_at)
            .execution_options(populate_existing=True)  # batch writes bypass the ORM
        )
        if exclude_id is not None:
            query = query.where(StayRow.id != exclude_id)
        return [(row, street) for row, street in (await self._session.execute(query)).all()]

    async def later_street_stays(
        self, plate: str, since: datetime, until: datetime
    ) -> list[StayRow]:
        """A plate's priced on-street stays that began after `since`, up to `until`, oldest
        first, locked: their prices follow from the plate's earlier stays of the day."""
        query = (
            select(StayRow)
            .where(
                StayRow.plate == plate,
                StayRow.status == "closed",
                StayRow.zone_id.is_not(None),
                StayRow.entered_at > since,
                StayRow.entered_at <= until,
            )
            .order_by(StayRow.entered_at, StayRow.id)
            .with_for_update()
            .execution_options(populate_existing=True)  # batch writes bypass the ORM
        )
        return list(await self._session.scalars(query))

    async def closed_in_lot(
        self, plate: str, lot_id: int, since: datetime, until: datetime, exclude_id: int
    ) -> list[StayRow]:
        """A plate's priced stays in one lot that ended in a window, oldest first."""
        query = (
            select(StayRow)
            .where(
                StayRow.plate == plate,
                StayRow.status == "closed",
                StayRow.lot_id == lot_id,
                StayRow.exited_at >= since,
                StayRow.entered_at <= until,
                StayRow.id != exclude_id,
            )
            .order_by(StayRow.entered_at)
        )
        return list(await self._session.scalars(query))

    async def unpaid_for_plate(self, plate: str, *, limit: int = 50) -> list[tuple[StayRow, int]]:
        """A plate's closed stays with money still due, oldest first, each with what is due."""
        found = await self._session.execute(_UNPAID_FOR_PLATE, {"plate": plate, "limit": limit})
        return [(row, int(due)) for row, due in found.all()]

    async def paid_toward(self, stays: list[StayRow]) -> dict[int, int]:
        """What each stay holds toward its fee by stay id, in one query: a lot stay what its
        lot noted from every channel, a street stay what its settled payments hold."""
        if not stays:
            return {}
        found = await self._session.execute(_PAID_TOWARD, {"ids": [s.id for s in stays]})
        return {i: int(held) for i, held in found.tuples()}

    async def for_plate(self, plate: str, *, limit: int = 20) -> list[StayRow]:
        """A plate's stays, newest first."""
        query = (
            select(StayRow)
            .where(StayRow.plate == plate, StayRow.status != "void")  # void: sensor noise
            .order_by(StayRow.entered_at.desc(), StayRow.id.desc())
            .limit(limit)
        )
        return list(await self._session.scalars(query))


class DeviceEventRepository:
    """Raw device events, unique by dedupe key."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def exists(self, dedupe_key: str) -> bool:
        """Whether an event with this key was already stored."""
        query = select(DeviceEventRow.id).where(DeviceEventRow.dedupe_key == dedupe_key)
        return (await self._session.scalar(query)) is not None

    def add(self, row: DeviceEventRow) -> None:
        """Keep an event."""
        self._session.add(row)


class LedgerRepository:
    """Journal entries and account balances."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def post(self, entry: JournalEntry, at: datetime) -> None:
        """Store a balanced entry with its postings (with the unit's next batch of writes)."""
        row = LedgerEntryRow(kind=entry.kind, reference=entry.reference, created_at=at)
        postings = [
            LedgerPostingRow(
                account=posting.account.key,
                debit_fen=posting.debit_fen,
                credit_fen=posting.credit_fen,
            )
            for posting in entry.postings
        ]
        # Postings are append-only: never changed afterwards, so not kept in the session.
        await insert_with_children(self._session, row, postings, "entry_id")

    async def balance_fen(self, account_key: str) -> int:
        """Debits minus credits of one account."""
        query = select(
            func.coalesce(func.sum(LedgerPostingRow.debit_fen - LedgerPostingRow.credit_fen), 0)
        ).where(LedgerPostingRow.account == account_key)
        return int(await self._session.scalar(query) or 0)

    async def entries_for(
        self, reference: str
    ) -> list[tuple[LedgerEntryRow, list[LedgerPostingRow]]]:
        """Entries posted for one reference, each with its postings."""
        entries = list(
            await self._session.scalars(
                select(LedgerEntryRow)
                .where(LedgerEntryRow.reference == reference)
                .order_by(LedgerEntryRow.id)
            )
        )
        result = []
        for entry in entries:
            postings = await self._session.scalars(
                select(LedgerPostingRow)
                .where(LedgerPostingRow.entry_id == entry.id)
                .order_by(LedgerPostingRow.id)
            )
            result.append((entry, list(postings)))
        return result
