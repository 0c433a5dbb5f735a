"""A paid street stay that late sensor events change: shorter or void gives the difference back,
longer takes a top-up of the rest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from core.clock import FrozenClock
from core.payments import PaymentStatus, RefundStatus
from core.services.payment_sweep import sweep
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from tests.e2e.test_walking_skeleton import staff_token
from tests.integration.payments.test_refunds_and_close import complete_refund, status_of
from tests.integration.test_berth_timeline import berth_event, t
from tests.wechat_sandbox import PLATE, balance, confirm, log_in, services, start_payment

Uows = Callable[[], UnitOfWork]
BERTH = "HS1-012"


async def _sensor(client: TestClient[Any, Any], body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/devices/sensors/events", json=body)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def _paid_street_stay(
    client: TestClient[Any, Any], server: TestServer, clock: FrozenClock
) -> tuple[str, str]:
    clock.set(datetime.fromisoformat(t("12:00")))
    await _sensor(client, berth_event("c-1", BERTH, "occupied", t("09:00"), PLATE))
    closed = await _sensor(client, berth_event("c-3", BERTH, "vacated", t("11:00")))
    assert closed["fee_fen"] == 800
    driver = await log_in(client, server, "li-lei")
    started = await start_payment(client, driver, closed["stay_ref"])
    assert (await confirm(client, server, started, driver))["notification"]["deliveries"] == [204]
    return closed["stay_ref"], str(started["payment"]["out_trade_no"])


async def _refunds(uows: Uows, out_trade_no: str) -> list[tuple[int, RefundStatus, str]]:
    async with uows() as uow:
        found = await uow.payments.refunds_of(out_trade_no)
    return [(r.amount_fen, r.status, r.requested_by) for r in found]


async def test_a_late_vacated_after_payment_refunds_the_difference(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    stay_ref, out_trade_no = await _paid_street_stay(paying_client, wechat_sandbox, clock)
    # The real departure at 10:00 arrives late: the stay costs 500, not 800.
    await _sensor(paying_client, berth_event("c-2", BERTH, "vacated", t("10:00")))
    system = "system:stay_corrections"
    assert await _refunds(uow_factory, out_trade_no) == [(300, RefundStatus.REQUESTED, system)]
    # The same late event resent asks for nothing more.
    await _sensor(paying_client, berth_event("c-2", BERTH, "vacated", t("10:00")))
    assert len(await _refunds(uow_factory, out_trade_no)) == 1

    wechat = services(paying_client)
    await sweep(uow_factory, clock, wechat.gateway, wechat.miniprogram, wechat.setup)
    [(_, status, _)] = await _refunds(uow_factory, out_trade_no)
    assert status is RefundStatus.PROCESSING
    async with uow_factory() as uow:
        [refund] = await uow.payments.refunds_of(out_trade_no)
    await complete_refund(paying_client, wechat_sandbox, refund.out_refund_no)
    assert await status_of(uow_factory, out_trade_no) == (PaymentStatus.PARTIALLY_REFUNDED, 300)
    assert await balance(database, f"driver_receivable:{PLATE}") == 0
    assert await balance(database, "operator_revenue:OP-CITY") == -500
    async with uow_factory() as uow:
        stay = await uow.stays.by_ref(stay_ref)
        assert stay is not None and (stay.status, stay.fee_fen) == ("closed", 500)


async def test_a_paid_stay_found_to_be_a_flicker_is_refunded_in_full(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    stay_ref, out_trade_no = await _paid_street_stay(paying_client, wechat_sandbox, clock)
    # Late events show the sensor flickered: the car left at 09:00:30 and came back at 10:59.
    clock.advance(timedelta(minutes=1))
    await _sensor(paying_client, berth_event("c-4", BERTH, "vacated", t("09:00", 30)))
    await _sensor(paying_client, berth_event("c-5", BERTH, "occupied", t("10:59")))
    async with uow_factory() as uow:
        stay = await uow.stays.by_ref(stay_ref)
        assert stay is not None and (stay.status, stay.fee_fen) == ("void", None)
    system = "system:stay_corrections"
    assert await _refunds(uow_factory, out_trade_no) == [(800, RefundStatus.REQUESTED, system)]


async def test_a_paid_stay_that_late_events_lengthen_takes_a_top_up_of_the_rest(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    clock.set(datetime.fromisoformat(t("12:00")))
    await _sensor(paying_client, berth_event("l-1", BERTH, "occupied", t("09:00"), PLATE))
    early = await _sensor(paying_client, berth_event("l-2", BERTH, "vacated", t("10:00")))
    assert early["fee_fen"] == 500
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    first = await start_payment(paying_client, driver, early["stay_ref"], key="first-pay-01")
    await confirm(paying_client, wechat_sandbox, first, driver)
    # The car's real arrival at 08:00 arrives late (the 09:00 reading was the sensor again).
    await _sensor(paying_client, berth_event("l-0", BERTH, "occupied", t("08:00"), PLATE))
    owed = await (await paying_client.get(f"/mp/plates/{PLATE}/stays")).json()
    assert owed["stays"] == [{"ref": early["stay_ref"], "plate": PLATE, "due_fen": 300}]
    admin = await staff_token(paying_client, "demo-admin")
    listed = await paying_client.get("/ops/arrears", headers={"Authorization": f"Bearer {admin}"})
    [(due, fee)] = [(a["due_fen"], a["ref"]) for a in (await listed.json())["arrears"]]
    assert (due, fee) == (300, early["stay_ref"])
    at_least = await paying_client.get(
        "/ops/arrears", params={"min_fen": 500}, headers={"Authorization": f"Bearer {admin}"}
    )
    assert (await at_least.json())["arrears"] == []  # 300 due, though the fee is 800

    top_up = await start_payment(paying_client, driver, early["stay_ref"], key="top-up-0001")
    assert top_up["payment"]["amount_fen"] == 300
    await confirm(paying_client, wechat_sandbox, top_up, driver)
    assert await _refunds(uow_factory, top_up["payment"]["out_trade_no"]) == []  # it counts
    assert await balance(database, f"driver_receivable:{PLATE}") == 0
    owed = await (await paying_client.get(f"/mp/plates/{PLATE}/stays")).json()
    assert owed["stays"] == []
    again = await paying_client.post(
        f"/mp/stays/{early['stay_ref']}/payments",
        json={"idempotency_key": "third-pay-01"},
        headers=driver.headers,
    )
    assert (again.status, (await again.json())["code"]) == (409, "stay_already_paid")


async def test_a_waiver_outlives_a_re_price_by_late_events(
    paying_client: TestClient[Any, Any], database: Database, clock: FrozenClock
) -> None:
    clock.set(datetime.fromisoformat(t("12:00")))
    await _sensor(paying_client, berth_event("w-1", BERTH, "occupied", t("09:00"), PLATE))
    closed = await _sensor(paying_client, berth_event("w-3", BERTH, "vacated", t("11:00")))
    ref = closed["stay_ref"]
    support = await staff_token(paying_client, "demo-support")
    waived = await paying_client.post(
        f"/ops/stays/{ref}/waivers",
        json={"amount_fen": 300, "reason": "首次停车优惠"},
        headers={"Authorization": f"Bearer {support}"},
    )
    assert waived.status == 200, await waived.text()
    # The real departure at 10:00 arrives late: 500 by the tariff, less the 300 waived.
    await _sensor(paying_client, berth_event("w-2", BERTH, "vacated", t("10:00")))
    owed = await (await paying_client.get(f"/mp/plates/{PLATE}/stays")).json()
    assert owed["stays"] == [{"ref": ref, "plate": PLATE, "due_fen": 200}]
    assert await balance(database, f"driver_receivable:{PLATE}") == 200
