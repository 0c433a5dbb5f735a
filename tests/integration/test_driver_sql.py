"""Rows written at once through the driver read back as the ORM would have written them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.store.activity import StayRow
from core.store.driver_sql import insert_row, write_changes
from core.store.lots import LanePassageRow
from core.store.unit_of_work import StoreConflictError, UnitOfWork


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
