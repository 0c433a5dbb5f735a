"""Reads and writes behind on-street event handling: berth timelines, held events, health."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    Integer,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from core.store.activity import DeviceEventRow, StayRow
from core.store.base import JSONDocument, UTCDateTime
from core.store.city import BerthRow, DeviceRow
from core.store.devices import (
    BerthClosureRow,
    BerthObservationRow,
    BerthStateRow,
    DeviceHealthRow,
    NotificationRow,
    StayFlagRow,
    ViolationRow,
)

# The hot statements of a sensor event, in SQL that PostgreSQL and SQLite (3.35+) both take.
# Plain text: SQLAlchemy 2.0 does not cache the compiled form of its ON CONFLICT constructs.
_EVENT_COLUMNS = (
    "dedupe_key",
    "vendor",
    "device_code",
    "kind",
    "device_time",
    "received_at",
    "payload",
    "outcome",
    "note",
)
_INSERT_EVENT = text(
    f"INSERT INTO device_events ({', '.join(_EVENT_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _EVENT_COLUMNS)}) "
    "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
).bindparams(
    bindparam("device_time", type_=UTCDateTime()),
    bindparam("received_at", type_=UTCDateTime()),
    bindparam("payload", type_=JSONDocument),
)
_SET_OCCUPANCY = text(
    "INSERT INTO berth_states (berth_id, occupied, version, changed_at) "
    "VALUES (:berth_id, :occupied, 1, :at) "
    "ON CONFLICT (berth_id) DO UPDATE SET occupied = excluded.occupied, "
    "version = berth_states.version + 1, changed_at = excluded.changed_at "
    "WHERE berth_states.occupied <> excluded.occupied OR berth_states.version = 0 "
    "RETURNING version"
).bindparams(bindparam("occupied", type_=Boolean()), bindparam("at", type_=UTCDateTime()))
UPSERT_HEALTH = text(
    "INSERT INTO device_health (device_id, last_event_at, occupied_count, flicker_count) "
    "SELECT id, :at, :occupied, :flicker FROM devices WHERE code = :code "
    "ON CONFLICT (device_id) DO UPDATE SET "
    "last_event_at = CASE WHEN device_health.last_event_at IS NULL "
    "OR device_health.last_event_at < excluded.last_event_at "
    "THEN excluded.last_event_at ELSE device_health.last_event_at END, "
    "occupied_count = device_health.occupied_count + excluded.occupied_count, "
    "flicker_count = device_health.flicker_count + excluded.flicker_count"
).bindparams(
    bindparam("at", type_=UTCDateTime()),
    bindparam("occupied", type_=Integer()),
    bindparam("flicker", type_=Integer()),
)
_ADD_HEALTH = text(
    "INSERT INTO device_health (device_id, occupied_count, flicker_count) "
    "VALUES (:device_id, 0, 0) ON CONFLICT (device_id) DO NOTHING"
)


class OnStreetRepository:
    """The berth timeline and everything an event touches; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._devices: dict[str, DeviceRow | None] = {}
        self._health: dict[int, DeviceHealthRow] = {}
        # Per device code: occupied and flicker counts to add, and the newest event time.
        self._device_news: dict[str, tuple[int, int, datetime | None]] = {}
        self._stored_outcomes: dict[int, tuple[str, str | None]] = {}

    async def lock_berth_by_code(self, code: str) -> tuple[BerthRow, bool] | None:
        """The berth with this code, locked until the transaction ends (as `lock_berth`), and
        whether it has any closure at all, in one statement on PostgreSQL."""
        if self._session.get_bind().dialect.name != "postgresql":
            await self._session.execute(
                text("UPDATE berths SET id = id WHERE code = :code"), {"code": code}
            )
        closures = exists().where(BerthClosureRow.berth_id == BerthRow.id).label("closures")
        query = select(BerthRow, closures).where(BerthRow.code == code)
        found = (await self._session.execute(query.with_for_update(of=BerthRow))).first()
        return None if found is None else (found[0], bool(found[1]))

    async def insert_event(self, row: DeviceEventRow) -> bool:
        """Store a device event unless its dedupe key is stored already, in one statement;
        the row stays outside the session (see `save_outcome`) and gets its id."""
        values = {column: getattr(row, column) for column in _EVENT_COLUMNS}
        stored = (await self._session.execute(_INSERT_EVENT, values)).scalar_one_or_none()
        if stored is None:
            return False
        row.id = stored
        self._stored_outcomes[stored] = (row.outcome, row.note)
        return True

    async def save_outcome(self, row: DeviceEventRow) -> None:
        """Write the outcome of an event stored by `insert_event` when it changed since."""
        if self._stored_outcomes.get(row.id) != (row.outcome, row.note):
            values = {"outcome": row.outcome, "note": row.note}
            await self._session.execute(
                update(DeviceEventRow).where(DeviceEventRow.id == row.id).values(**values)
            )
            self._stored_outcomes[row.id] = (row.outcome, row.note)

    async def set_occupancy(self, berth_id: int, occupied: bool, at: datetime) -> int | None:
        """Record whether a berth is taken; the new state version when that changed (or the
        state is new), else None, in one statement."""
        values = {"berth_id": berth_id, "occupied": occupied, "at": at}
        version: int | None = (await self._session.execute(_SET_OCCUPANCY, values)).scalar()
        return version

    def note_device(
        self, code: str, *, at: datetime | None = None, occupied: int = 0, flicker: int = 0
    ) -> None:
        """Remember an event time and counts for a device's health; `write_device_news` saves."""
        before_occupied, before_flicker, before_at = self._device_news.get(code, (0, 0, None))
        if before_at is not None and (at is None or at < before_at):
            at = before_at
        self._device_news[code] = (before_occupied + occupied, before_flicker + flicker, at)

    async def write_device_news(self) -> None:
        """Save what `note_device` gathered: one upsert per device; unknown devices are skipped."""
        news, self._device_news = self._device_news, {}
        for code, (occupied, flicker, at) in news.items():
            device = self._devices.get(code)
            loaded = self._health.get(device.id) if device is not None else None
            if loaded is not None:  # already in this session: change it there, not behind it
                loaded.occupied_count += occupied
                loaded.flicker_count += flicker
                if at is not None and (loaded.last_event_at is None or loaded.last_event_at < at):
                    loaded.last_event_at = at
                continue
            await self._upsert_health(code, occupied, flicker, at)

    async def _upsert_health(
        self, code: str, occupied: int, flicker: int, at: datetime | None
    ) -> None:
        values = {"code": code, "at": at, "occupied": occupied, "flicker": flicker}
        await self._session.execute(UPSERT_HEALTH, values)

    async def lock_berth(self, berth_id: int) -> None:
        """Become the only writer of this berth's timeline until the transaction ends."""
        if self._session.get_bind().dialect.name == "postgresql":
            query = select(BerthRow.id).where(BerthRow.id == berth_id).with_for_update()
            await self._session.execute(query)
        else:
            # SQLite opens its transaction at the first write; writing first takes the one
            # write lock before anything is read, so two events of a berth cannot interleave.
            await self._session.execute(
                text("UPDATE berths SET id = id WHERE id = :id"), {"id": berth_id}
            )

    async def timeline_from(
        self, berth_id: int, moment: datetime, lookback: timedelta
    ) -> list[BerthObservationRow]:
        """The berth's events from its last stay start at or before a moment (else from
        `lookback` before it) on, in device-time order, in one query."""
        last_start = (
            select(func.max(BerthObservationRow.device_time))
            .where(
                BerthObservationRow.berth_id == berth_id,
                BerthObservationRow.role == "start",
                BerthObservationRow.device_time <= moment,
            )
            .scalar_subquery()
        )
        query = (
            select(BerthObservationRow)
            .where(
                BerthObservationRow.berth_id == berth_id,
                BerthObservationRow.device_time >= func.coalesce(last_start, moment - lookback),
            )
            .order_by(BerthObservationRow.device_time, BerthObservationRow.id)
        )
        return list(await self._session.scalars(query))

    async def stays_since(self, berth_id: int, since: datetime) -> list[StayRow]:
        """The berth's stays that began at or after a moment, voided ones included."""
        query = (
            select(StayRow)
            .where(StayRow.berth_id == berth_id, StayRow.entered_at >= since)
            .order_by(StayRow.entered_at, StayRow.id)
        )
        return list(await self._session.scalars(query))

    def observe(self, row: BerthObservationRow) -> None:
        """Add an event to the berth's timeline."""
        self._session.add(row)

    async def device_event(self, event_id: int) -> DeviceEventRow:
        """The stored device event with this id."""
        return await self._session.get_one(DeviceEventRow, event_id)

    async def open_stay(self, berth_id: int) -> StayRow | None:
        """The stay whose car is still at the berth."""
        query = select(StayRow).where(
            StayRow.berth_id == berth_id, StayRow.status == "open", StayRow.exited_at.is_(None)
        )
        return (await self._session.execute(query.limit(1))).scalar_one_or_none()

    async def has_open_stay(self, berth_id: int) -> bool:
        """Whether a car is at the berth now."""
        query = select(StayRow.id).where(
            StayRow.berth_id == berth_id, StayRow.status == "open", StayRow.exited_at.is_(None)
        )
        return (await self._session.scalar(query.limit(1))) is not None

    async def berth_state(self, berth_id: int, at: datetime) -> BerthStateRow:
        """The berth's state row, created on first use."""
        row = await self._session.get(BerthStateRow, berth_id)
        if row is None:
            row = BerthStateRow(berth_id=berth_id, occupied=False, version=0, changed_at=at)
            self._session.add(row)
        return row

    async def closure_at(self, berth_id: int, moment: datetime) -> BerthClosureRow | None:
        """A closure of the berth in force at a moment, if any."""
        query = (
            select(BerthClosureRow)
            .where(
                BerthClosureRow.berth_id == berth_id,
                BerthClosureRow.starts_at <= moment,
                or_(BerthClosureRow.ends_at.is_(None), BerthClosureRow.ends_at > moment),
            )
            .limit(1)
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def flag_stay(self, stay: StayRow, flag: str, note: str, at: datetime) -> None:
        """Flag a stay for review once per flag."""
        await self._session.flush()
        query = select(StayFlagRow.id).where(
            StayFlagRow.stay_id == stay.id, StayFlagRow.flag == flag
        )
        if await self._session.scalar(query) is None:
            self._session.add(StayFlagRow(stay_id=stay.id, flag=flag, note=note, created_at=at))

    async def unflag_stays(self, stay_ids: list[int], flag: str) -> None:
        """Take a flag off stays that no longer need it (one statement)."""
        if stay_ids:
            await self._session.execute(
                delete(StayFlagRow).where(
                    StayFlagRow.stay_id.in_(stay_ids), StayFlagRow.flag == flag
                )
            )

    async def device(self, code: str) -> DeviceRow | None:
        """The registered device with this code (looked up once per unit of work)."""
        if code not in self._devices:
            query = select(DeviceRow).where(DeviceRow.code == code)
            self._devices[code] = (await self._session.execute(query)).scalar_one_or_none()
        return self._devices[code]

    async def health(self, device_id: int) -> DeviceHealthRow:
        """A device's health row, created on first use."""
        row = self._health.get(device_id) or await self._session.get(DeviceHealthRow, device_id)
        if row is None:
            row = DeviceHealthRow(device_id=device_id, occupied_count=0, flicker_count=0)
            self._session.add(row)
        self._health[device_id] = row
        return row

    async def locked_health(self, device_id: int) -> DeviceHealthRow:
        """A device's health row, created if missing and locked until the transaction ends, so
        concurrent reports of one device (the first ones too) apply one after the other."""
        await self._session.execute(_ADD_HEALTH, {"device_id": device_id})
        row = await self._session.get(
            DeviceHealthRow, device_id, with_for_update=True, populate_existing=True
        )
        assert row is not None, "inserted just before"
        self._health[device_id] = row
        return row

    def add_violation(self, row: ViolationRow) -> None:
        """Record an illegal-parking capture."""
        self._session.add(row)

    def add_notification(self, row: NotificationRow) -> None:
        """Put a notification in the outbox; the caller checked it is not there yet."""
        self._session.add(row)

    async def queue_notification(self, row: NotificationRow) -> None:
        """Put a notification in the outbox once per driver, kind and reference."""
        query = select(NotificationRow.id).where(
            NotificationRow.driver_id == row.driver_id,
            NotificationRow.kind == row.kind,
            NotificationRow.reference == row.reference,
        )
        if await self._session.scalar(query) is None:
            self._session.add(row)
