"""A whole simulated street day sent in order and then shuffled (in gateway batches of random
size): the same stays, plates, fees and ledger, berth by berth — the issue's fault run."""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.berth_events import BerthEvent
from core.billing import ChineseDayCalendar
from core.clock import FrozenClock
from core.services.berth_batch import record_berth_events
from core.store.activity import LedgerPostingRow, StayRow
from core.store.city import BerthRow
from core.store.database import open_database
from core.store.unit_of_work import UnitOfWork
from device_bridge.formats import own_json
from sandbox.traffic import DaySpec, generate_day
from tests.conftest import SHANGHAI, run_blocking

CALENDAR = ChineseDayCalendar()
BERTHS = tuple(f"{zone}-{n:03d}" for zone in ("HS1", "HS2", "JB3") for n in range(1, 21))
DAY = date(2026, 11, 25)


def _events(seed: int) -> list[BerthEvent]:
    spec = DaySpec(day=DAY, berths=BERTHS, stays_per_berth=6)
    return [own_json.parse(e.payload) for e in generate_day(spec, seed) if e.kind == "berth_event"]


async def _run(template: Path, path: Path, chunks: Sequence[Sequence[BerthEvent]]) -> Any:
    shutil.copyfile(template, path)
    database = open_database(f"sqlite+aiosqlite:///{path}")
    clock = FrozenClock(datetime(2026, 11, 26, 1, 0, tzinfo=SHANGHAI))
    try:
        for chunk in chunks:
            async with UnitOfWork(database.sessions) as uow:
                outcomes = await record_berth_events(uow, clock, CALENDAR, list(chunk))
                assert not any(isinstance(o, Exception) for o in outcomes), outcomes
                await uow.commit()
        async with UnitOfWork(database.sessions) as uow:
            rows = await uow.session.execute(
                select(
                    BerthRow.code,
                    StayRow.plate,
                    StayRow.status,
                    StayRow.entered_at,
                    StayRow.exited_at,
                    StayRow.fee_fen,
                )
                .join(BerthRow, BerthRow.id == StayRow.berth_id)
                .where(StayRow.status != "void")
            )
            stays = sorted(tuple(r) for r in rows)
            ledger: Counter[str] = Counter()
            for posting in await uow.session.scalars(select(LedgerPostingRow)):
                ledger[posting.account] += posting.debit_fen - posting.credit_fen
        return stays, {k: v for k, v in ledger.items() if v}
    finally:
        await database.dispose()


def test_a_shuffled_day_gives_the_ordered_days_stays_plates_and_fees(
    sqlite_template: Path, tmp_path: Path
) -> None:
    events = _events(seed=20261125)
    ordered = sorted(events, key=lambda e: (e.device_time, e.dedupe_key))
    rng = random.Random(7)
    shuffled = list(events)
    rng.shuffle(shuffled)
    chunks, at = [], 0
    while at < len(shuffled):
        size = rng.randint(1, 50)
        chunks.append(shuffled[at : at + size])
        at += size
    result: dict[str, Any] = {}

    async def both() -> None:
        result["ordered"] = await _run(sqlite_template, tmp_path / "a.db", [[e] for e in ordered])
        result["shuffled"] = await _run(sqlite_template, tmp_path / "b.db", chunks)

    run_blocking(both())
    stays, ledger = result["ordered"]
    assert len(stays) > 300 and sum(1 for s in stays if s[5]) > 250  # a real day, priced
    print(f"\nshuffled day: {len(events)} events, {len(stays)} stays, {len(chunks)} batches")
    assert result["shuffled"][0] == stays
    assert result["shuffled"][1] == ledger
    assert sum(ledger.values()) == 0  # balanced
