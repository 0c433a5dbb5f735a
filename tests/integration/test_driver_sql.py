"""Rows written through the driver (at once or queued in a batch) read back as the ORM would
have written them, and every read of the unit sees the unit's own writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.ledger import Account, AccountKind, stay_charged
from core.store.activity import StayRow
from core.store.lots import LanePassageRow
from core.store.unit_of_work import StoreConflictError, UnitOfWork
from core.store.write_batch import flush_writes, insert_row, write_changes


def _stay(ref: str, clock: FrozenClock, operator_id: int) -> StayRow:
    return StayRow(
        ref=ref,
        plate="浙B12345",
        operator_id=operator_id,
        status="open",
        entered_at=clock.now(),
    )


async def _operator_id(uow: UnitOfWork) -> int:
    lot = await uow.city.lot_by_code("LOT-TIANYI")
    assert lot is not None
    return lot.operator_id


async def test_an_inserted_row_has_its_key_and_defaults_and_later_changes_are_flushed(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        stay = _stay("direct-1", clock, await _operator_id(uow))
        await insert_row(uow.session, stay)
        assert stay.id is not None and stay.vehicle_class == "small"  # the column's default
        stay.status = "closed"  # after the direct insert: the flush writes it
        stay.exited_at = clock.now() + timedelta(hours=2)
        await uow.commit()
    async with uow_factory() as uow:
        stored = (await uow.session.scalars(select(StayRow).where(StayRow.ref == "direct-1"))).one()
        assert (stored.id, stored.status, stored.vehicle_class) == (stay.id, "closed", "small")
        assert stored.exited_at == clock.now() + timedelta(hours=2)
        assert stored.quote is None and stored.fee_fen is None


async def test_changes_written_at_once_are_not_written_again_and_json_round_trips(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        stay = _stay("direct-2", clock, await _operator_id(uow))
        await insert_row(uow.session, stay)
        await uow.commit()
    async with uow_factory() as uow:
        stay = (await uow.session.scalars(select(StayRow).where(StayRow.ref == "direct-2"))).one()
        stay.status = "closed"
        stay.fee_fen = 650
        stay.quote = {"total_fen": 650, "lines": [{"label": "首小时", "amount_fen": 500}]}
        await write_changes(uow.session, stay)
        await flush_writes(uow.session)
        if uow.session.get_bind().dialect.name == "postgresql":
            assert not uow.session.dirty  # written through the driver, nothing left to flush
        await uow.commit()
    async with uow_factory() as uow:
        stored = (await uow.session.scalars(select(StayRow).where(StayRow.ref == "direct-2"))).one()
        assert (stored.status, stored.fee_fen) == ("closed", 650)
        assert stored.quote == {"total_fen": 650, "lines": [{"label": "首小时", "amount_fen": 500}]}


async def test_a_second_row_with_the_same_unique_key_is_a_conflict_and_nothing_stays(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        lane, _ = await uow.lots.lane("LOT-TIANYI", "E1") or (None, None)
        assert lane is not None
        operator_id = await _operator_id(uow)

    def passage(ref: str) -> LanePassageRow:
        return LanePassageRow(
            ref=ref,
            dedupe_key="camera-1/read-1",
            lane_id=lane.id,
            direction="entry",
            read_at=clock.now(),
            created_at=clock.now(),
            action="open",
            reason="temporary",
            display="欢迎光临",
            status="done",
            details={},
        )

    async with uow_factory() as uow:
        await insert_row(uow.session, passage("p-1"))
        await uow.commit()
    async with uow_factory() as uow:
        await insert_row(uow.session, _stay("direct-3", clock, operator_id))
        with pytest.raises(StoreConflictError):
            await insert_row(uow.session, passage("p-2"))
    async with uow_factory() as uow:
        refs = await uow.session.scalars(select(StayRow.ref).where(StayRow.ref == "direct-3"))
        assert list(refs) == []  # the conflict rolled the whole unit back


async def test_a_row_breaking_a_foreign_key_is_a_conflict_as_at_commit(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(StoreConflictError):
            await insert_row(uow.session, _stay("direct-4", clock, operator_id=987654))


def _postgresql(uow: UnitOfWork) -> bool:
    return uow.session.get_bind().dialect.name == "postgresql"


async def _statements_sent(uow: UnitOfWork) -> list[str]:
    """The SQL the unit's asyncpg connection sends from now on (PostgreSQL only)."""
    sent: list[str] = []
    raw: Any = (await (await uow.session.connection()).get_raw_connection()).dbapi_connection
    raw._connection.add_query_logger(lambda record: sent.append(record.query))
    return sent


async def test_queued_writes_go_out_as_one_statement_before_the_commit(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        stay = _stay("batch-1", clock, await _operator_id(uow))
        await insert_row(uow.session, stay)
        await uow.commit()
    async with uow_factory() as uow:
        stay = (await uow.session.scalars(select(StayRow).where(StayRow.ref == "batch-1"))).one()
        sent = await _statements_sent(uow) if _postgresql(uow) else []
        lot = await uow.city.lot_by_code("LOT-TIANYI")
        assert lot is not None
        await write_changes(uow.session, lot)  # nothing changed: nothing to send for it
        stay.status = "closed"
        stay.fee_fen = 800
        await write_changes(uow.session, stay)
        entry = stay_charged("batch-1", "浙B12345", "OP-DEMO", 800)
        await uow.ledger.post(entry, clock.now())
        stay.exited_at = clock.now()  # changed after it was queued: goes out as it is then
        await write_changes(uow.session, stay)  # queued once: a statement updates a row once
        await uow.commit()
        if _postgresql(uow):
            # One statement for the three writes (BEGIN came before the log; COMMIT is not in it).
            assert len(sent) == 1 and sent[0].startswith("WITH")
    async with uow_factory() as uow:
        stored = (await uow.session.scalars(select(StayRow).where(StayRow.ref == "batch-1"))).one()
        assert (stored.status, stored.fee_fen, stored.exited_at) == ("closed", 800, clock.now())
        [(_, postings)] = await uow.ledger.entries_for("batch-1")
        assert sorted((p.debit_fen, p.credit_fen) for p in postings) == [(0, 800), (800, 0)]
        assert await uow.ledger.balance_fen(Account(AccountKind.DRIVER_RECEIVABLE, "浙B12345").key)


async def test_reads_in_the_unit_see_its_queued_writes(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    receivable = Account(AccountKind.DRIVER_RECEIVABLE, "浙B54321").key
    async with uow_factory() as uow:
        await uow.ledger.post(stay_charged("seen-1", "浙B54321", "OP-DEMO", 650), clock.now())
        assert await uow.ledger.balance_fen(receivable) == 650  # an ORM query sends them first
        await uow.ledger.post(stay_charged("seen-2", "浙B54321", "OP-DEMO", 100), clock.now())
        counts = await uow.lane_reads.entry_counts(1, "浙B54321", receivable, clock.now())
        assert counts.balance_fen == 750  # so does a read through the driver
        await uow.rollback()
    async with uow_factory() as uow:
        assert await uow.ledger.balance_fen(receivable) == 0  # rolled back: none of it stayed
        await uow.ledger.post(stay_charged("seen-4", "浙B54321", "OP-DEMO", 30), clock.now())
        await uow.commit()  # a fresh queue: only this unit's entry goes out
    async with uow_factory() as uow:
        assert await uow.ledger.balance_fen(receivable) == 30


async def test_a_queued_row_breaking_a_unique_key_is_a_conflict_at_the_commit(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        lane, _ = await uow.lots.lane("LOT-TIANYI", "E1") or (None, None)
        assert lane is not None
        operator_id = await _operator_id(uow)
    async with uow_factory() as uow:
        await insert_row(uow.session, _passage(lane.id, "q-1", clock), key_now=False)
        await uow.commit()
    async with uow_factory() as uow:
        stay = _stay("batch-3", clock, operator_id)
        await insert_row(uow.session, stay)
        await uow.ledger.post(stay_charged("batch-3", "浙B12345", "OP-DEMO", 500), clock.now())
        await insert_row(uow.session, _passage(lane.id, "q-2", clock), key_now=False)
        with pytest.raises(StoreConflictError):
            await uow.commit()
        assert stay not in uow.session  # undone rows are forgotten, not left pointing at nothing
        assert await uow.lots.passage_by_key("camera-9/read-1") is not None  # usable again
    async with uow_factory() as uow:
        refs = await uow.session.scalars(select(StayRow.ref).where(StayRow.ref == "batch-3"))
        assert list(refs) == []
        assert await uow.ledger.entries_for("batch-3") == []


# Only PostgreSQL queues writes; on SQLite the ORM's autoflush raises its own IntegrityError.
@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_queued_row_breaking_a_key_is_a_conflict_at_the_next_query(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(stay_charged("batch-4", "浙B12345", "NO-SUCH-OP", 500), clock.now())
        lane, _ = await uow.lots.lane("LOT-TIANYI", "E1") or (None, None)
        assert lane is not None
        await insert_row(uow.session, _passage(lane.id, "q-3", clock), key_now=False)
        await insert_row(uow.session, _passage(lane.id, "q-4", clock), key_now=False)
        with pytest.raises(StoreConflictError):
            await uow.lots.passage_by_key("camera-9/read-1")
        with pytest.raises(StoreConflictError):  # the failed batch is never committed
            await uow.commit()
        assert await uow.lots.passage_by_key("camera-9/read-1") is None  # rolled back, usable
    async with uow_factory() as uow:
        assert await uow.ledger.entries_for("batch-4") == []


async def test_a_queued_row_has_its_key_after_a_flush(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        lane, _ = await uow.lots.lane("LOT-TIANYI", "E1") or (None, None)
        assert lane is not None
        passage = _passage(lane.id, "q-5", clock)
        await insert_row(uow.session, passage, key_now=False)
        await uow.lots.flush()  # nothing of the ORM's own to flush: the queue still goes out
        assert passage.id is not None
        await uow.commit()


def _passage(lane_id: int, ref: str, clock: FrozenClock) -> LanePassageRow:
    return LanePassageRow(
        ref=ref,
        dedupe_key="camera-9/read-1",
        lane_id=lane_id,
        direction="entry",
        read_at=clock.now(),
        created_at=clock.now(),
        action="open",
        reason="temporary",
        display="欢迎光临",
        status="done",
        details={"flags": []},
    )


# Only PostgreSQL queues writes; on SQLite the ORM's flush inserts and the row stays in the session.
@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_rows_the_commit_inserts_are_left_detached_and_a_change_to_one_is_refused(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        lane, _ = await uow.lots.lane("LOT-TIANYI", "E1") or (None, None)
        assert lane is not None
    async with uow_factory() as uow:
        passage = _passage(lane.id, "left-1", clock)
        await insert_row(uow.session, passage, key_now=False)
        await uow.commit()
        assert passage not in uow.session and passage.id is not None  # its key, as if loaded
        assert passage.fee_fen is None and passage.stay_id is None  # NULLs it did not hold
        await uow.commit()  # nothing changed since: a second commit is fine
        passage.status = "cancelled"  # would never be written: the next commit refuses
        later = _passage(lane.id, "left-2", clock)
        later.dedupe_key = "camera-9/read-2"
        await insert_row(uow.session, later, key_now=False)
        with pytest.raises(RuntimeError, match="changed after the commit that inserted it"):
            await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.lots.passage_by_key("camera-9/read-1")
        assert stored is not None and stored.status == "done"
        assert await uow.lots.passage_by_key("camera-9/read-2") is None  # nothing committed
        stored.status = "cancelled"  # loaded again: a change to it is written
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.lots.passage_by_key("camera-9/read-1")
        assert stored is not None and stored.status == "cancelled"
