"""Auto-pay (无感支付) through the WeChat Pay sandbox: service state, entry, deduction, result."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from adapters.wechatpay_parking import WeChatPayParking
from core.bills import SHANGHAI
from core.clock import FrozenClock
from core.ledger import stay_charged
from core.payment_gateway import GatewayError, GatewayRejectedError
from core.services import auto_pay
from core.store.auto_pay import AutoPayStepRow, StayParkingRow
from core.store.database import Database
from core.store.devices import NotificationRow
from core.store.people import VehicleBindingRow, VehicleRow
from core.store.unit_of_work import UnitOfWork
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import (
    PLATE,
    Driver,
    balance,
    confirm,
    log_in,
    sandbox_post,
    services,
    start_payment,
    street_stay,
)

FEE = 800


def units(database: Database) -> Callable[[], UnitOfWork]:
    """Units of work on the test database."""
    return lambda: UnitOfWork(database.sessions)


async def verified_driver(
    client: TestClient[Any, Any], server: TestServer, database: Database, clock: FrozenClock
) -> Driver:
    """A signed-in driver whose binding of PLATE (a Chinese province character) is verified."""
    driver = await log_in(client, server, "li-lei")
    async with UnitOfWork(database.sessions) as uow:
        vehicle = VehicleRow(plate=PLATE, plate_colour="BLUE")
        uow.session.add(vehicle)
        await uow.session.flush()
        uow.session.add(
            VehicleBindingRow(
                driver_id=driver.driver_id,
                vehicle_id=vehicle.id,
                created_at=clock.now(),
                verified_at=clock.now(),
                verified_by="licence",
            )
        )
        await uow.commit()
    return driver


async def authorise(
    client: TestClient[Any, Any], server: TestServer, driver: Driver, **how: str
) -> dict[str, Any]:
    """The driver turns the service on in WeChat, then the mini-program asks its state."""
    body = {
        "plate_number": PLATE,
        "plate_color": "BLUE",
        "openid": driver.openid,
        "state": "NORMAL",
    }
    body.update(how)
    await sandbox_post(client, server, "/sandbox/wechatpay/parking/plates", body)
    response = await client.post(f"/mp/me/plates/{quote(PLATE)}/auto-pay", headers=driver.headers)
    assert response.status == 200, await response.text()
    shown: dict[str, Any] = await response.json()
    return shown


async def price(database: Database, clock: FrozenClock, stay_ref: str, fee_fen: int) -> None:
    """The stay closes with its fee and its charge, as the street pricing leaves it."""
    async with UnitOfWork(database.sessions) as uow:
        stay = await uow.stays.by_ref(stay_ref)
        assert stay is not None
        stay.status, stay.exited_at, stay.fee_fen = "closed", clock.now(), fee_fen
        operator = await uow.city.operator(stay.operator_id)
        await uow.ledger.post(stay_charged(stay_ref, PLATE, operator.code, fee_fen), clock.now())
        await uow.commit()


async def parking(database: Database, stay_ref: str) -> StayParkingRow:
    async with database.sessions() as session:
        row = await session.scalar(
            select(StayParkingRow).where(StayParkingRow.stay_ref == stay_ref)
        )
        assert row is not None
        return row


async def steps(database: Database, stay_ref: str) -> list[tuple[str, str]]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(AutoPayStepRow)
            .where(AutoPayStepRow.stay_ref == stay_ref)
            .order_by(AutoPayStepRow.id)
        )
        return [(r.step, r.outcome) for r in rows]


async def parked_and_priced(
    client: TestClient[Any, Any], database: Database, clock: FrozenClock
) -> tuple[str, StayParkingRow]:
    """An open street stay told to WeChat Pay, then priced and its deduction asked."""
    uows = units(database)
    ports = services(client).auto_pay_ports
    stay_ref = await street_stay(database, status="open", fee_fen=None, exited_at=clock.now())
    await auto_pay.sweep(uows, clock, ports)
    entered = await parking(database, stay_ref)
    assert entered.state == "deductible" and entered.parking_id
    clock.advance(timedelta(hours=2))
    await price(database, clock, stay_ref, FEE)
    await auto_pay.sweep(uows, clock, ports)
    return stay_ref, await parking(database, stay_ref)


async def test_an_authorised_plate_parks_is_priced_deducted_and_settled_once(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    unknown = await paying_client.get(
        f"/mp/me/plates/{quote(PLATE)}/auto-pay", headers=driver.headers
    )
    assert (await unknown.json())["state"] == "out_of_service"
    shown = await authorise(paying_client, wechat_sandbox, driver)
    assert (shown["state"], shown["authorised"]) == ("normal", True)

    stay_ref, deducting = await parked_and_priced(paying_client, database, clock)
    assert deducting.state == "deducting" and deducting.out_trade_no
    async with UnitOfWork(database.sessions) as uow:
        payment = await uow.payments.get(deducting.out_trade_no)
    assert payment is not None and (payment.status, payment.amount_fen) == ("pending", FEE)

    done = await sandbox_post(
        paying_client,
        wechat_sandbox,
        f"/sandbox/wechatpay/parking/deductions/{deducting.out_trade_no}/complete",
        {},
    )
    assert done["trade_state"] == "SUCCESS"
    assert done["notification"]["deliveries"] == [204]
    # WeChat Pay retries: the second delivery changes nothing.
    again = await sandbox_post(
        paying_client,
        wechat_sandbox,
        f"/sandbox/wechatpay/notifications/{done['notification']['id']}/redeliver",
        {},
    )
    assert again["deliveries"] == [204, 204]

    async with UnitOfWork(database.sessions) as uow:
        paid = await uow.payments.get(deducting.out_trade_no)
        settled = await uow.payments.settled_for_stay(stay_ref)
        entries = await uow.ledger.entries_for(deducting.out_trade_no)
    assert paid is not None and paid.status == "paid" and paid.transaction_id
    assert settled is not None and settled.out_trade_no == deducting.out_trade_no
    assert len(entries) == 1
    assert await balance(database, f"driver_receivable:{PLATE}") == 0
    assert (await parking(database, stay_ref)).state == "deducted"
    expected = [
        ("enter", "NORMAL"),
        ("deduct", "reserved"),
        ("deduct", "accepted"),
        ("result", "settled"),
    ]
    assert await steps(database, stay_ref) == expected
    finance = {"Authorization": f"Bearer {await staff_token(paying_client, 'demo-finance')}"}
    listed = await paying_client.get(f"/ops/auto-pay/stays/{stay_ref}/steps", headers=finance)
    assert listed.status == 200, await listed.text()
    body = await listed.json()
    assert body["state"] == "deducted"
    assert [(s["step"], s["outcome"]) for s in body["steps"]] == expected
    assert body["steps"][-1]["detail"]["amount_fen"] == FEE


async def test_a_refused_deduction_leaves_the_stay_owed_and_tells_the_driver(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    await authorise(paying_client, wechat_sandbox, driver, deduction="PAY_FAIL")
    stay_ref, deducting = await parked_and_priced(paying_client, database, clock)

    done = await sandbox_post(
        paying_client,
        wechat_sandbox,
        f"/sandbox/wechatpay/parking/deductions/{deducting.out_trade_no}/complete",
        {},
    )
    assert done["trade_state"] == "PAY_FAIL"
    assert done["notification"]["deliveries"] == [204]

    async with UnitOfWork(database.sessions) as uow:
        payment = await uow.payments.get(deducting.out_trade_no or "")
        owed = await uow.stays.unpaid_for_plate(PLATE)
        told = list(
            await uow.session.scalars(
                select(NotificationRow).where(NotificationRow.driver_id == driver.driver_id)
            )
        )
    assert payment is not None and payment.status == "failed"
    assert [(row.ref, due) for row, due in owed] == [(stay_ref, FEE)]
    assert [(n.kind, n.reference) for n in told] == [
        ("arrears_reminder", f"{stay_ref}#auto-pay-failed")
    ]
    assert await balance(database, f"driver_receivable:{PLATE}") == FEE
    assert (await parking(database, stay_ref)).state == "failed"


async def test_a_lost_notify_is_found_by_the_query(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    await authorise(paying_client, wechat_sandbox, driver)
    stay_ref, deducting = await parked_and_priced(paying_client, database, clock)
    done = await sandbox_post(
        paying_client,
        wechat_sandbox,
        f"/sandbox/wechatpay/parking/deductions/{deducting.out_trade_no}/complete",
        {"notify": False},
    )
    assert done["notification"] is None
    uows = units(database)
    await auto_pay.sweep(uows, clock, services(paying_client).auto_pay_ports)
    assert (await parking(database, stay_ref)).state == "deducted"
    assert await balance(database, f"driver_receivable:{PLATE}") == 0


async def test_a_paused_plate_is_not_deducted(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    shown = await authorise(paying_client, wechat_sandbox, driver, state="PAUSE")
    assert (shown["state"], shown["authorised"]) == ("paused", False)
    stay_ref = await street_stay(database, status="open", fee_fen=None, exited_at=clock.now())
    uows = units(database)
    await auto_pay.sweep(uows, clock, services(paying_client).auto_pay_ports)
    async with database.sessions() as session:
        told = await session.scalar(
            select(StayParkingRow).where(StayParkingRow.stay_ref == stay_ref)
        )
    assert told is None


async def test_a_chinese_plate_is_signed_as_it_is_sent(paying_client: TestClient[Any, Any]) -> None:
    gateway = services(paying_client).gateway
    # wechatpayv3 signs the plate as given while httpx sends it percent-encoded.
    with pytest.raises(GatewayRejectedError) as unencoded:
        await gateway.call(
            "parking_service_find",
            plate_number=PLATE,
            plate_color="BLUE",
            openid="o-someone",
            sub_mchid="1900000101",
        )
    assert unencoded.value.provider_code == "SIGN_ERROR"
    info = await WeChatPayParking(gateway).find(PLATE, "BLUE", "o-someone", "1900000101")
    assert (info.plate, info.service_state) == (PLATE, "OUT_SERVICE")


async def test_a_deduction_after_the_driver_paid_by_hand_is_refunded(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    await authorise(paying_client, wechat_sandbox, driver)
    stay_ref, deducting = await parked_and_priced(paying_client, database, clock)
    # The driver scans and pays while the deduction is still only accepted.
    started = await start_payment(paying_client, driver, stay_ref)
    assert (await confirm(paying_client, wechat_sandbox, started, driver))["trade_state"] == (
        "SUCCESS"
    )
    await sandbox_post(
        paying_client,
        wechat_sandbox,
        f"/sandbox/wechatpay/parking/deductions/{deducting.out_trade_no}/complete",
        {},
    )
    async with UnitOfWork(database.sessions) as uow:
        settled = await uow.payments.settled_for_stay(stay_ref)
        refunds = await uow.payments.refunds_of(deducting.out_trade_no or "")
    assert settled is not None and settled.out_trade_no == started["payment"]["out_trade_no"]
    assert [(r.amount_fen, r.status) for r in refunds] == [(FEE, "processing")]
    assert ("result", "duplicate_refunded") in await steps(database, stay_ref)


class DownOnce:
    """The parking service, unreachable for the first deduction asked."""

    def __init__(self, real: Any) -> None:
        self.real, self.failed = real, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def deduct(self, request: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise GatewayError(detail="connection refused")
        return await self.real.deduct(request)


async def test_a_deduction_unanswered_is_asked_again_with_the_same_number(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    await authorise(paying_client, wechat_sandbox, driver)
    real = services(paying_client).auto_pay_ports
    ports = dataclasses.replace(real, parking=DownOnce(real.parking))
    uows = units(database)
    stay_ref = await street_stay(database, status="open", fee_fen=None, exited_at=clock.now())
    await auto_pay.sweep(uows, clock, ports)
    clock.advance(timedelta(hours=2))
    await price(database, clock, stay_ref, FEE)
    await auto_pay.sweep(uows, clock, ports)  # asked, no answer
    first = await parking(database, stay_ref)
    assert ("deduct", "no_answer") in await steps(database, stay_ref)
    await auto_pay.sweep(uows, clock, ports)  # the query finds nothing: asked again
    again = await parking(database, stay_ref)
    assert again.out_trade_no == first.out_trade_no
    assert (await steps(database, stay_ref))[-1] == ("deduct", "accepted")


async def test_a_plate_paused_mid_stay_is_not_deducted_and_stays_owed(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    await authorise(paying_client, wechat_sandbox, driver)
    uows, ports = units(database), services(paying_client).auto_pay_ports
    stay_ref = await street_stay(database, status="open", fee_fen=None, exited_at=clock.now())
    await auto_pay.sweep(uows, clock, ports)
    assert (await parking(database, stay_ref)).state == "deductible"

    paused = await sandbox_post(
        paying_client,
        wechat_sandbox,
        "/sandbox/wechatpay/parking/plates",
        {"plate_number": PLATE, "plate_color": "BLUE", "state": "PAUSE"},
    )
    assert [n["deliveries"] for n in paused["notifications"]] == [[204]]
    assert (await parking(database, stay_ref)).state == "blocked"
    shown = await paying_client.get(
        f"/mp/me/plates/{quote(PLATE)}/auto-pay", headers=driver.headers
    )
    assert (await shown.json())["state"] == "paused"

    clock.advance(timedelta(hours=2))
    await price(database, clock, stay_ref, FEE)
    await auto_pay.sweep(uows, clock, ports)
    assert (await parking(database, stay_ref)).out_trade_no is None
    async with UnitOfWork(database.sessions) as uow:
        owed = await uow.stays.unpaid_for_plate(PLATE)
    assert [(row.ref, due) for row, due in owed] == [(stay_ref, FEE)]


async def test_a_day_of_deductions_reconciles_with_the_bill(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    await authorise(paying_client, wechat_sandbox, driver)
    _, deducting = await parked_and_priced(paying_client, database, clock)
    await sandbox_post(
        paying_client,
        wechat_sandbox,
        f"/sandbox/wechatpay/parking/deductions/{deducting.out_trade_no}/complete",
        {},
    )
    day = clock.now().astimezone(SHANGHAI).date()
    clock.advance(timedelta(days=1, hours=2))
    finance = {"Authorization": f"Bearer {await staff_token(paying_client, 'demo-finance')}"}
    answer = await paying_client.post(
        "/ops/payments/reconcile",
        json={"date": day.isoformat(), "sub_mchid": "1900000101"},
        headers=finance,
    )
    assert answer.status == 200, await answer.text()
    report = await answer.json()
    assert report["differences"] == []
    assert (report["balanced"], report["matched_payments"], report["matched_payment_fen"]) == (
        True,
        1,
        FEE,
    )
    assert report["differences"] == []
