"""A paid street stay that a late event of another car seems to swallow is held, never voided
and refunded; when the rest of the events arrive it is the paid stay it was."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from core.store.activity import StayRow
from core.store.devices import StayFlagRow
from core.store.unit_of_work import UnitOfWork
from tests.integration.test_berth_timeline import berth_event, t
from tests.wechat_sandbox import PLATE, confirm, log_in, start_payment

Uows = Callable[[], UnitOfWork]
BERTH = "HS1-013"
OTHER = "浙B7H001"


async def _sensor(client: TestClient[Any, Any], body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/devices/sensors/events", json=body)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def _state(uows: Uows) -> tuple[list[tuple[Any, ...]], list[str], int]:
    async with uows() as uow:
        berth = await uow.city.berth_by_code(BERTH)
        assert berth is not None
        stays = list(
            await uow.session.scalars(
                select(StayRow).where(StayRow.berth_id == berth.id).order_by(StayRow.entered_at)
            )
        )
        flags = await uow.session.scalars(
            select(StayFlagRow.flag).where(StayFlagRow.stay_id.in_([s.id for s in stays]))
        )
        refunds = 0
        for stay in stays:
            for payment in await uow.payments.for_stay(stay.ref):
                refunds += len(await uow.payments.refunds_of(payment.out_trade_no))
        rows = [(s.ref, s.plate, s.status, s.fee_fen) for s in stays if s.status != "void"]
        return rows, list(flags), refunds


async def test_a_paid_stay_is_held_while_a_late_event_contradicts_it(
    paying_client: TestClient[Any, Any], wechat_sandbox: TestServer, clock: Any, uow_factory: Uows
) -> None:
    clock.set(datetime.fromisoformat(t("13:00")))
    await _sensor(paying_client, berth_event("h-3", BERTH, "occupied", t("10:00"), PLATE))
    closed = await _sensor(paying_client, berth_event("h-4", BERTH, "vacated", t("12:00")))
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    started = await start_payment(paying_client, driver, closed["stay_ref"])
    await confirm(paying_client, wechat_sandbox, started, driver)

    # Another car's arrival at 08:00 arrives late, its departure not yet: on these events alone
    # the berth was taken from 08:00 to 12:00 by that car.
    await _sensor(paying_client, berth_event("h-1", BERTH, "occupied", t("08:00"), OTHER))
    stays, flags, refunds = await _state(uow_factory)
    paid = (closed["stay_ref"], PLATE, "closed", closed["fee_fen"])
    assert paid in stays and refunds == 0  # kept as paid, nothing sent back
    assert [s[1:3] for s in stays if s[0] != paid[0]] == [(OTHER, "review")]
    assert sorted(flags) == ["events_conflict", "events_conflict"]

    # Its departure at 09:00 arrives: each car has its own stay and the paid one is clear again.
    await _sensor(paying_client, berth_event("h-2", BERTH, "vacated", t("09:00")))
    stays, flags, refunds = await _state(uow_factory)
    assert [s[1:3] for s in stays] == [(OTHER, "closed"), (PLATE, "closed")]
    assert stays[1] == paid and refunds == 0 and flags == []
