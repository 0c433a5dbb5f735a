"""A car waits at a lot's exit; the driver pays through the WeChat sandbox; the gate opens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from core.lanes import CommandKind, LaneCommand, RecordingPublisher
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from sandbox.wechatpay.keys import SandboxKeys
from server.lane_publishing import LANE_PUBLISHER_KEY
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import app_with_builtin_sandbox, log_in_driver, sandbox_keys

__all__ = ["sandbox_keys"]

PLATE = "浙B88888"


async def lane_read(client: TestClient[Any, Any], clock: FrozenClock, lane: str) -> dict[str, Any]:
    body = {
        "event_id": f"{lane}-{clock.now().timestamp():.0f}",
        "device": f"LOT-HOSP-{lane}-anpr_camera",
        "device_time": clock.now().isoformat(),
        "plate": PLATE,
    }
    response = await client.post("/devices/lanes/reads", json=body)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def exit_order(
    client: TestClient[Any, Any], sandbox: str, clock: FrozenClock, key: str
) -> tuple[str, dict[str, Any], str, dict[str, str]]:
    """A two-hour stay waiting at X1 and a WeChat order for it: stay, order, openid, headers."""
    await lane_read(client, clock, "E1")
    clock.advance(timedelta(hours=2))
    stay_ref = (await lane_read(client, clock, "X1"))["stay_ref"]
    headers, openid = await log_in_driver(client, sandbox, "han-meimei")
    started = await client.post(
        f"/mp/stays/{stay_ref}/payments", json={"idempotency_key": key}, headers=headers
    )
    assert started.status == 200, await started.text()
    order: dict[str, Any] = await started.json()
    return stay_ref, order, openid, headers


async def test_paying_at_the_exit_opens_the_gate(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    publisher = RecordingPublisher()
    client, sandbox = await app_with_builtin_sandbox(
        settings,
        clock,
        sandbox_keys,
        aiohttp_client,
        before_start=lambda app: app.__setitem__(LANE_PUBLISHER_KEY, publisher),
    )

    assert (await lane_read(client, clock, "E1"))["gate"] == "open"
    clock.advance(timedelta(hours=2))
    exit_answer = await lane_read(client, clock, "X1")
    # lot-standard: 2 hours at 3 yuan an hour (the 15 free minutes are charged once exceeded).
    assert (exit_answer["gate"], exit_answer["fee_fen"]) == ("closed", 600)
    stay_ref = exit_answer["stay_ref"]
    publisher.sent.clear()

    headers, openid = await log_in_driver(client, sandbox, "han-meimei")
    started = await client.post(
        f"/mp/stays/{stay_ref}/payments", json={"idempotency_key": "exit-pay-1"}, headers=headers
    )
    assert started.status == 200, await started.text()
    order = await started.json()
    confirm = dict(order["request_payment"], openid=openid)
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/request-payment", json=confirm
    ) as response:
        assert (await response.json())["notification"]["deliveries"] == [204]

    assert LaneCommand("LOT-HOSP/X1", CommandKind.OPEN_GATE) in [
        LaneCommand(c.lane, c.kind) for c in publisher.sent
    ]
    # The notification resent by WeChat Pay opens nothing twice.
    opened = len(publisher.sent)
    async with client.session.get(f"{sandbox}/sandbox/wechatpay/notifications") as response:
        notices = await response.json()
    [notice] = [n for n in notices if n["event_type"] == "TRANSACTION.SUCCESS"]
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/notifications/{notice['id']}/redeliver"
    ) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["deliveries"] == [204, 204]
    assert len(publisher.sent) == opened


async def test_a_wechat_payment_after_the_cashier_took_cash_is_refunded(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    client, sandbox = await app_with_builtin_sandbox(settings, clock, sandbox_keys, aiohttp_client)
    stay_ref, order, openid, headers = await exit_order(client, sandbox, clock, "late-cash-01")

    # Meanwhile the cashier at the lane takes the 600 fen in cash.
    login = await client.post(
        "/ops/login", json={"username": "demo-cashier", "password": "demo-password-2026"}
    )
    cashier = {"Authorization": f"Bearer {(await login.json())['token']}"}
    shift = await client.post(
        "/ops/cashier/shifts", json={"lot": "LOT-HOSP", "lane": "X1"}, headers=cashier
    )
    assert shift.status in (200, 201), await shift.text()
    cash = await client.post(
        "/ops/cashier/cash", json={"stay_ref": stay_ref, "amount_fen": 600}, headers=cashier
    )
    assert cash.status in (200, 201), await cash.text()

    # The driver still confirms in WeChat: the money arrives, and goes straight back.
    confirm = dict(order["request_payment"], openid=openid)
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/request-payment", json=confirm
    ) as response:
        assert (await response.json())["notification"]["deliveries"] == [204]
    login = await client.post(
        "/ops/login", json={"username": "demo-finance", "password": "demo-password-2026"}
    )
    finance = {"Authorization": f"Bearer {(await login.json())['token']}"}
    listed = await (await client.get(f"/ops/stays/{stay_ref}/payments", headers=finance)).json()
    [payment] = listed["payments"]
    assert (payment["amount_fen"], payment["status"]) == (600, "paid")
    assert [r["amount_fen"] for r in payment["refunds"]] == [600]
    # A new order for the stay is refused: nothing is due any more.
    again = await client.post(
        f"/mp/stays/{stay_ref}/payments", json={"idempotency_key": "late-cash-02"}, headers=headers
    )
    assert (again.status, (await again.json())["code"]) == (409, "stay_already_paid")


async def test_a_refund_of_a_lot_payment_lowers_the_fee_and_owes_nothing(
    settings: Settings,
    clock: FrozenClock,
    database: Database,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    client, sandbox = await app_with_builtin_sandbox(settings, clock, sandbox_keys, aiohttp_client)
    stay_ref, order, openid, _ = await exit_order(client, sandbox, clock, "lot-refund-1")
    confirm = dict(order["request_payment"], openid=openid)
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/request-payment", json=confirm
    ) as response:
        assert response.status == 200

    finance = {"Authorization": f"Bearer {await staff_token(client, 'demo-finance')}"}
    out_trade_no = order["payment"]["out_trade_no"]
    asked = await client.post(
        f"/ops/payments/{out_trade_no}/refunds",
        json={"amount_fen": 200, "reason": "入场识别延迟，多计40分钟"},
        headers=finance,
    )
    assert asked.status == 200, await asked.text()
    out_refund_no = (await asked.json())["out_refund_no"]
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/refunds/{out_refund_no}/complete", json={}
    ) as response:
        assert response.status == 200, await response.text()

    async with UnitOfWork(database.sessions) as uow:
        stay = await uow.stays.by_ref(stay_ref)
        assert stay is not None
        details = await uow.lots.lot_stay(stay.id)
        assert details is not None and (stay.fee_fen, details.paid_fen) == (400, 400)
        assert await uow.ledger.balance_fen(f"driver_receivable:{PLATE}") == 0
    owed = await (await client.get(f"/mp/plates/{PLATE}/stays")).json()
    assert owed["total_due_fen"] == 0
