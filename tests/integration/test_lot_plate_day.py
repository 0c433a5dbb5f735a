"""A lot's daily cap across a plate's stays of one natural day, when its tariff says so."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from core.services.tariffs import publish_tariff
from core.store.unit_of_work import UnitOfWork
from tests.conftest import SHANGHAI
from tests.e2e.test_walking_skeleton import staff_token
from tests.integration.test_lanes import read

PLATE = "浙A7Q2M5"
TARIFF = Path(__file__).parents[2] / "tariffs" / "lot-standard.toml"
LOT = "LOT-TIANYI"


async def _publish_day_cap(uows: Callable[[], UnitOfWork], clock: FrozenClock) -> None:
    document: dict[str, Any] = tomllib.loads(TARIFF.read_text(encoding="utf-8"))
    document.update(
        daily_cap_fen=1000,
        cap_period="natural_day",
        effective_from=clock.now().isoformat(),
        plate_day={"free_period": "first_stay", "cap_across_stays": True},
    )
    async with uows() as uow:
        await publish_tariff(uow, clock, "system:test", document, "按自然日封顶，跨次累计")


async def _pay_cash(client: TestClient[Any, Any], stay_ref: str, fee: int) -> None:
    cashier = {"Authorization": f"Bearer {await staff_token(client, 'demo-admin')}"}
    shift = await client.post(
        "/ops/cashier/shifts", json={"lot": LOT, "lane": "X1"}, headers=cashier
    )
    assert shift.status in (200, 201, 409), await shift.text()
    cash = await client.post(
        "/ops/cashier/cash", json={"stay_ref": stay_ref, "amount_fen": fee}, headers=cashier
    )
    assert cash.status in (200, 201), await cash.text()


async def test_a_second_visit_the_same_day_is_capped_with_the_first(
    client: TestClient[Any, Any], uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 11, 25, 8, 59, tzinfo=SHANGHAI))
    await _publish_day_cap(uow_factory, clock)
    clock.advance(timedelta(minutes=1))
    assert (await read(client, clock, LOT, "E1", PLATE))["gate"] == "open"
    first = await read(client, clock, LOT, "X1", PLATE, after=timedelta(hours=3))
    assert first["fee_fen"] == 900  # three hours at 3 yuan: under the day's 10 yuan
    await _pay_cash(client, first["stay_ref"], 900)

    assert (await read(client, clock, LOT, "E1", PLATE, after=timedelta(hours=1)))["gate"] == "open"
    second = await read(client, clock, LOT, "X1", PLATE, after=timedelta(hours=4))
    # Alone it would cost 12 yuan, capped at 10; with the morning's 9 the day has 1 left.
    assert second["fee_fen"] == 100, second
    await _pay_cash(client, second["stay_ref"], 100)

    # The next day starts a new cap.
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI))
    assert (await read(client, clock, LOT, "E1", PLATE))["gate"] == "open"
    third = await read(client, clock, LOT, "X1", PLATE, after=timedelta(hours=2))
    assert third["fee_fen"] == 600
