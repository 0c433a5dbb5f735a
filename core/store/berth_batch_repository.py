"""Set-based reads and writes of berth events taken in batches: a handful of statements per
batch, whatever its size (core/services/berth_batch.py)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Select,
    String,
    Table,
    any_,
    bindparam,
    exists,
    insert,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.berth_tail import BerthTail, TailStay
from core.ledger import JournalEntry
from core.store.activity import DeviceEventRow, LedgerEntryRow, LedgerPostingRow, StayRow
from core.store.city import BerthRow, OperatorRow, TariffRow, ZoneRow
from core.store.devices import (
    BerthClosureRow,
    BerthObservationRow,
    BerthStateRow,
    NotificationRow,
)
from core.store.onstreet_repository import UPSERT_HEALTH
from core.store.people import VehicleBindingRow, VehicleRow

_STAYS = cast(Table, StayRow.__table__)
_STATES = cast(Table, BerthStateRow.__table__)
_EVENTS = cast(Table, DeviceEventRow.__table__)
_OBSERVATIONS = cast(Table, BerthObservationRow.__table__)
_ENTRIES = cast(Table, LedgerEntryRow.__table__)
_POSTINGS = cast(Table, LedgerPostingRow.__table__)
_NOTIFICATIONS = cast(Table, NotificationRow.__table__)


OneOf = Callable[[Any], Any]


def _in_list(column: Any) -> Any:
    """`column IN (...)`, the parameter list expanded when run (SQLite)."""
    return column.in_(bindparam("codes", expanding=True))


def _any_of_array(column: Any) -> Any:
    """`column = ANY(:codes)`: one array parameter, one prepared statement (PostgreSQL)."""
    return column == any_(bindparam("codes", type_=postgresql.ARRAY(String)))


def _tails_query(one_of: OneOf, *, lateral: bool) -> Select[Any]:
    """Berths with their newest observation and that observation's stay."""
    o = BerthObservationRow
    newest = (
        select(o.id, o.device_time, o.kind, o.role, o.stay_id)
        .where(o.berth_id == BerthRow.id)
        .order_by(o.device_time.desc(), o.id.desc())
        .limit(1)
    )
    if lateral:
        # PostgreSQL: one index probe per berth, whatever the table statistics say (a hash
        # join over every observation was chosen otherwise).
        last: Any = newest.lateral("last")
        on: Any = true()
    else:  # SQLite has no LATERAL; it runs the correlated subquery once per berth
        last = o
        on = o.id == newest.with_only_columns(o.id).correlate(BerthRow).scalar_subquery()
    closures = exists().where(BerthClosureRow.berth_id == BerthRow.id).label("closures")
    s = StayRow
    return (
        select(
            BerthRow.id,
            BerthRow.code,
            BerthRow.zone_id,
            BerthRow.closed,
            BerthRow.street,
            ZoneRow.operator_id,
            OperatorRow.code,
            ZoneRow.zone_class,
            ZoneRow.tariff_code,
            closures,
            last.device_time if not lateral else last.c.device_time,
            last.kind if not lateral else last.c.kind,
            last.role if not lateral else last.c.role,
            s.id,
            s.ref,
            s.plate,
            s.status,
            s.entered_at,
            s.exited_at,
            s.vehicle_class,
        )
        .select_from(BerthRow)
        .outerjoin(ZoneRow, ZoneRow.id == BerthRow.zone_id)
        .outerjoin(OperatorRow, OperatorRow.id == ZoneRow.operator_id)
        .outerjoin(last, on)
        .outerjoin(s, s.id == (last.stay_id if not lateral else last.c.stay_id))
        .where(one_of(BerthRow.code))
        .order_by(BerthRow.id)
    )


def _upserts(dialect: Any) -> dict[str, Any]:
    """The ON CONFLICT statements of one engine."""
    events = dialect.insert(_EVENTS).on_conflict_do_nothing(index_elements=["dedupe_key"])
    notices = dialect.insert(_NOTIFICATIONS).on_conflict_do_nothing(
        index_elements=["driver_id", "kind", "reference"]
    )
    states = dialect.insert(_STATES)
    return {
        "events": events.returning(_EVENTS.c.id, _EVENTS.c.dedupe_key),
        "notices": notices,
        "states": states.on_conflict_do_update(
            index_elements=["berth_id"],
            set_={
                "occupied": states.excluded.occupied,
                "version": _STATES.c.version + 1,
                "changed_at": states.excluded.changed_at,
            },
            where=(_STATES.c.occupied != states.excluded.occupied) | (_STATES.c.version == 0),
        ).returning(_STATES.c.berth_id, _STATES.c.version),
    }


# Built once: building a statement costs more than running its cached compiled form.
def _reads(one_of: OneOf) -> dict[str, Any]:
    """The reads of many berths, plates or keys at once, in one engine's form."""
    closed_stays = (
        select(
            StayRow.plate,
            StayRow.id,
            ZoneRow.zone_class,
            StayRow.entered_at,
            StayRow.exited_at,
            StayRow.fee_fen,
            StayRow.quote,
            BerthRow.street,
        )
        .join(ZoneRow, ZoneRow.id == StayRow.zone_id)
        .join(BerthRow, BerthRow.id == StayRow.berth_id)
        .where(
            one_of(StayRow.plate),
            StayRow.status == "closed",
            StayRow.exited_at >= bindparam("since"),
            StayRow.entered_at <= bindparam("until"),
        )
        .order_by(StayRow.entered_at)
    )
    verified = (
        select(VehicleRow.plate, VehicleBindingRow.driver_id)
        .join(VehicleRow, VehicleRow.id == VehicleBindingRow.vehicle_id)
        .where(one_of(VehicleRow.plate), VehicleBindingRow.verified_at.is_not(None))
        .order_by(VehicleBindingRow.driver_id)
    )
    return {
        "lock": select(BerthRow.id)
        .where(one_of(BerthRow.code))
        .order_by(BerthRow.id)
        .with_for_update(),
        "tails": _tails_query(one_of, lateral=one_of is _any_of_array),
        "stored": select(_EVENTS.c.dedupe_key).where(one_of(_EVENTS.c.dedupe_key)),
        "closed_stays": closed_stays,
        "tariffs": select(TariffRow).where(one_of(TariffRow.code)),
        "verified": verified,
    }


_READS = {"postgresql": _reads(_any_of_array), "sqlite": _reads(_in_list)}
_UPSERTS = {"postgresql": _upserts(postgresql), "sqlite": _upserts(sqlite)}
_INSERT_STAYS = insert(_STAYS).returning(_STAYS.c.id, _STAYS.c.ref)
_CLOSE_STAYS = (
    update(_STAYS)
    .where(_STAYS.c.id == bindparam("stay_id"))
    .values(
        {
            column: bindparam(column)
            for column in (
                "exited_at",
                "status",
                "fee_fen",
                "quote",
                "tariff_code",
                "tariff_version",
            )
        }
    )
)
_INSERT_OBSERVATIONS = insert(_OBSERVATIONS)
_INSERT_ENTRIES = insert(_ENTRIES).returning(_ENTRIES.c.id, _ENTRIES.c.reference)
_INSERT_POSTINGS = insert(_POSTINGS)


# PostgreSQL: many rows in one statement from array parameters; `executemany` would run the
# statement once per row (SQLite keeps it: its statements are in-process calls).
_CLOSE_STAYS_PG = text(
    "UPDATE stays SET exited_at = v.exited_at, status = v.status, fee_fen = v.fee_fen, "
    "quote = CAST(v.quote AS JSONB), tariff_code = v.tariff_code, "
    "tariff_version = v.tariff_version "
    "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:exited AS TIMESTAMPTZ[]), "
    "CAST(:statuses AS VARCHAR[]), CAST(:fees AS BIGINT[]), CAST(:quotes AS TEXT[]), "
    "CAST(:tariffs AS VARCHAR[]), CAST(:versions AS INTEGER[])) "
    "AS v(id, exited_at, status, fee_fen, quote, tariff_code, tariff_version) "
    "WHERE stays.id = v.id"
)
_ADD_HEALTH_PG = text(
    "INSERT INTO device_health (device_id, last_event_at, occupied_count, flicker_count) "
    "SELECT d.id, v.at, v.occupied, 0 FROM unnest(CAST(:codes AS VARCHAR[]), "
    "CAST(:ats AS TIMESTAMPTZ[]), CAST(:occupied AS INTEGER[])) AS v(code, at, occupied) "
    "JOIN devices d ON d.code = v.code "
    "ON CONFLICT (device_id) DO UPDATE SET "
    "last_event_at = GREATEST(device_health.last_event_at, excluded.last_event_at), "
    "occupied_count = device_health.occupied_count + excluded.occupied_count"
)


class BerthBatchRepository:
    """Reads and writes of many berths' events at once; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _upsert(self, name: str) -> Any:
        return _UPSERTS[self._session.get_bind().dialect.name][name]

    def _read(self, name: str) -> Any:
        return _READS[self._session.get_bind().dialect.name][name]

    async def lock_tails(self, codes: Collection[str]) -> dict[str, BerthTail]:
        """The named berths, locked in id order, with their newest observation and its stay."""
        codes = list(codes)
        if self._session.get_bind().dialect.name == "postgresql":
            # Locked first, read after: a locking read that waited would see the joined rows
            # as they were before the other writer committed (READ COMMITTED re-checks only
            # the locked row). SQLite's BEGIN IMMEDIATE has taken the one write lock already.
            await self._session.execute(self._read("lock"), {"codes": codes})
        found = await self._session.execute(self._read("tails"), {"codes": codes})
        return {row[1]: _tail(row) for row in found}

    async def stored_keys(self, keys: Collection[str]) -> set[str]:
        """Those of the dedupe keys that are stored already."""
        return set(await self._session.scalars(self._read("stored"), {"codes": list(keys)}))

    async def insert_events(self, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Store new device events; the ids by dedupe key (a key stored already is left out)."""
        # Many parameter sets: one cached statement, sent as one multi-row INSERT.
        found = await self._session.execute(self._upsert("events"), list(rows))
        return {key: id_ for id_, key in found}

    async def insert_stays(self, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Store new stays; their ids by reference."""
        return {ref: id_ for id_, ref in await self._session.execute(_INSERT_STAYS, list(rows))}

    async def close_stays(self, rows: Sequence[dict[str, Any]]) -> None:
        """Write the end, status and price of stays (keys: `stay_id` and the stay's columns)."""
        if self._session.get_bind().dialect.name != "postgresql":
            await self._session.execute(_CLOSE_STAYS, list(rows))
            return
        columns = {
            "ids": "stay_id",
            "exited": "exited_at",
            "statuses": "status",
            "fees": "fee_fen",
            "tariffs": "tariff_code",
            "versions": "tariff_version",
        }
        values: dict[str, list[Any]] = {name: [r[c] for r in rows] for name, c in columns.items()}
        values["quotes"] = [None if r["quote"] is None else json.dumps(r["quote"]) for r in rows]
        await self._session.execute(_CLOSE_STAYS_PG, values)

    async def insert_observations(self, rows: Sequence[dict[str, Any]]) -> None:
        """Add events to their berths' timelines."""
        await self._session.execute(_INSERT_OBSERVATIONS, list(rows))

    async def closed_stays_of(
        self, plates: Collection[str], since: datetime, until: datetime
    ) -> dict[str, list[tuple[Any, ...]]]:
        """Priced on-street stays of the plates ending after `since` and starting by `until`:
        (id, zone class, entered, exited, fee, quote, street) by plate, oldest first."""
        found: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        if not plates:
            return found
        values = {"codes": list(plates), "since": since, "until": until}
        for plate, *rest in await self._session.execute(self._read("closed_stays"), values):
            found[plate].append(tuple(rest))
        return found

    async def tariff_versions(self, codes: Collection[str]) -> list[TariffRow]:
        """Every stored version of the tariffs."""
        return list(await self._session.scalars(self._read("tariffs"), {"codes": list(codes)}))

    async def post(self, entries: Sequence[JournalEntry], at: datetime) -> None:
        """Store balanced entries with their postings, in two statements."""
        if not entries:
            return
        rows = [{"kind": e.kind, "reference": e.reference, "created_at": at} for e in entries]
        found = await self._session.execute(_INSERT_ENTRIES, rows)
        ids = {reference: id_ for id_, reference in found}
        if len(ids) != len(entries):
            raise ValueError("entries of one batch post need distinct references")
        postings = [
            {
                "entry_id": ids[entry.reference],
                "account": posting.account.key,
                "debit_fen": posting.debit_fen,
                "credit_fen": posting.credit_fen,
            }
            for entry in entries
            for posting in entry.postings
        ]
        await self._session.execute(_INSERT_POSTINGS, postings)

    async def verified_drivers(self, plates: Collection[str]) -> dict[str, list[int]]:
        """Drivers whose binding of each plate is verified, by plate."""
        found: dict[str, list[int]] = defaultdict(list)
        for plate, driver_id in await self._session.execute(
            self._read("verified"), {"codes": list(plates)}
        ):
            found[plate].append(driver_id)
        return found

    async def queue_notifications(self, rows: Sequence[dict[str, Any]]) -> None:
        """Put notifications in the outbox, once per driver, kind and reference."""
        if rows:
            await self._session.execute(self._upsert("notices"), list(rows))

    async def set_occupancy(
        self, states: Iterable[tuple[int, bool]], at: datetime
    ) -> dict[int, int]:
        """Record whether berths are taken; the new state version of each berth whose
        occupancy changed (or whose state is new)."""
        rows = [{"berth_id": b, "occupied": o, "version": 1, "changed_at": at} for b, o in states]
        if not rows:
            return {}
        found = await self._session.execute(self._upsert("states"), rows)
        return {berth_id: version for berth_id, version in found}

    async def add_device_news(self, news: dict[str, tuple[int, datetime]]) -> None:
        """Add occupied counts and the newest event time to devices' health, by device code."""
        rows = [
            {"code": code, "at": at, "occupied": occupied, "flicker": 0}
            for code, (occupied, at) in news.items()
        ]
        if not rows:
            return
        if self._session.get_bind().dialect.name != "postgresql":
            await self._session.execute(UPSERT_HEALTH, rows)
            return
        values = {
            "codes": [r["code"] for r in rows],
            "ats": [r["at"] for r in rows],
            "occupied": [r["occupied"] for r in rows],
        }
        await self._session.execute(_ADD_HEALTH_PG, values)


def _tail(row: Any) -> BerthTail:
    """A berth tail from a row of `lock_tails`."""
    (berth_id, code, zone_id, closed, street, operator_id, operator_code, zone_class, tariff,
     closures, last_time, last_kind, last_role, stay_id, *stay) = row  # fmt: skip
    return BerthTail(
        berth_id=berth_id,
        code=code,
        zone_id=zone_id,
        operator_id=operator_id,
        operator_code=operator_code,
        zone_class=zone_class,
        tariff_code=tariff,
        street=street,
        closed=closed,
        has_closures=bool(closures),
        last_time=last_time,
        last_kind=last_kind,
        last_role=last_role,
        stay=None if stay_id is None else _tail_stay(stay_id, *stay),
    )


def _tail_stay(
    stay_id: int,
    ref: str,
    plate: str | None,
    status: str,
    entered_at: datetime,
    exited_at: datetime | None,
    vehicle_class: str,
) -> TailStay:
    return TailStay(ref, plate, entered_at, status, exited_at, vehicle_class, id=stay_id)
