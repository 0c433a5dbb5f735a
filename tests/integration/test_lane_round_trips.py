"""On PostgreSQL a lane read costs a fixed, small number of statements: the lot's lock is held
over each of them, so each one more is latency for every car at the lot's gates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from core.clock import FrozenClock
from core.lane_events import LaneRead
from core.services import lanes
from core.services.calendar import OverridableCalendar
from core.store.unit_of_work import UnitOfWork
from device_bridge.formats import lane_json


def _read(clock: FrozenClock, lane: str, plate: str) -> LaneRead:
    body = {
        "event_id": f"trips-{lane}-{plate}",
        "device": f"LOT-TIANYI-{lane}-anpr_camera",
        "device_time": clock.now().isoformat(),
        "plate": plate,
        "confidence": 97,
    }
    return lane_json.to_read(lane_json.LaneReadPayload.model_validate(body))


async def _statements(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock, read: LaneRead
) -> tuple[lanes.LaneOutcome, list[str]]:
    """The read's outcome and the first word of each statement it sent, BEGIN and COMMIT aside."""
    sent: list[str] = []

    def log(record: Any) -> None:
        sent.append(record.query.split()[0].rstrip(";"))

    async with uow_factory() as uow:
        raw: Any = (await (await uow.session.connection()).get_raw_connection()).dbapi_connection
        raw._connection.add_query_logger(log)
        try:
            outcome = await lanes.on_lane_read(uow, clock, OverridableCalendar(), read)
        finally:
            raw._connection.remove_query_logger(log)  # the connection goes back to the pool
    return outcome, [word for word in sent if word not in ("BEGIN", "COMMIT")]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_an_entry_and_an_exit_send_few_statements(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    read = _read(clock, "E1", "浙B6R2K9")
    entry, sent = await _statements(uow_factory, clock, read)
    assert entry.decision is not None and entry.decision.action.value == "open"
    async with uow_factory() as uow:
        stay = await uow.stays.by_ref(entry.stay_ref or "")
        passage = await uow.lots.passage_by_key(read.dedupe_key)
        assert stay is not None and passage is not None and passage.stay_id == stay.id
        assert await uow.lots.lot_stay(stay.id) is not None
    # The lock (with the stored passage and a key for the new stay), the entry counts, then the
    # stay, its lot stay and the passage in one statement.
    assert sent == ["SELECT", "SELECT", "WITH"], sent
    clock.advance(timedelta(hours=2))
    exit_, sent = await _statements(uow_factory, clock, _read(clock, "X1", "浙B6R2K9"))
    assert exit_.decision is not None and exit_.decision.action.value == "pay"
    assert exit_.fee_fen and exit_.fee_fen > 0
    # The lock, the candidates, then the ledger entry and postings, the stay, the lot stay and
    # the passage in one statement.
    assert sent == ["SELECT", "SELECT", "WITH"], sent
