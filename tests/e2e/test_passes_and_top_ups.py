"""A driver buys a pass and tops up a card in the mini-program; the lot's lanes honour them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from sandbox.wechatpay.keys import SandboxKeys
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import app_with_builtin_sandbox, log_in_driver, sandbox_keys

__all__ = ["sandbox_keys"]

PASS_PLATE = "浙B12345"
CARD_PLATE = "浙B23456"
Client = TestClient[Any, Any]


async def lane_read(client: Client, clock: FrozenClock, lane: str, plate: str) -> dict[str, Any]:
    body = {
        "event_id": f"{plate}-{lane}-{clock.now().timestamp():.0f}",
        "device": f"LOT-TIANYI-{lane}-anpr_camera",
        "device_time": clock.now().isoformat(),
        "plate": plate,
    }
    response = await client.post("/devices/lanes/reads", json=body)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def pay(client: Client, sandbox: str, started: dict[str, Any], openid: str) -> None:
    """The payer confirms in WeChat; the sandbox notifies the app, which applies it (204)."""
    confirm = dict(started["request_payment"], openid=openid)
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/request-payment", json=confirm
    ) as response:
        assert (await response.json())["notification"]["deliveries"] == [204]


async def order(
    client: Client, headers: dict[str, str], path: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(f"/mp/lots/LOT-TIANYI/{path}", json=body, headers=headers)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def rights(client: Client, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    listed = await (await client.get("/mp/me/rights", headers=headers)).json()
    return {r["plates"][0]: r for r in listed["rights"]}


async def test_a_bought_pass_lets_the_plate_in_and_out_and_a_renewal_extends_it(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    client, sandbox = await app_with_builtin_sandbox(settings, clock, sandbox_keys, aiohttp_client)
    headers, openid = await log_in_driver(client, sandbox, "li-lei")
    bound = await client.post("/mp/me/plates", json={"plate": PASS_PLATE}, headers=headers)
    assert bound.status in (200, 201), await bound.text()
    # Before the pass the plate is a visitor.
    assert (await lane_read(client, clock, "E1", PASS_PLATE))["reason"] == "entry_temporary"
    clock.advance(timedelta(minutes=5))
    assert (await lane_read(client, clock, "X1", PASS_PLATE))["gate"] == "open"  # free minutes

    body = {"product": "M-SMALL", "plate": PASS_PLATE, "months": 1}
    started = await order(client, headers, "passes", {**body, "idempotency_key": "buy-pass-01"})
    await pay(client, sandbox, started, openid)
    assert (await rights(client, headers))[PASS_PLATE]["last_day"] == "2026-12-24"

    clock.advance(timedelta(hours=1))
    assert (await lane_read(client, clock, "E1", PASS_PLATE))["reason"] == "entry_monthly"
    clock.advance(timedelta(hours=5))
    left = await lane_read(client, clock, "X1", PASS_PLATE)
    assert (left["gate"], left["reason"]) == ("open", "exit_pass")

    # WeChat Pay resends the notification: the pass is not extended again.
    async with client.session.get(f"{sandbox}/sandbox/wechatpay/notifications") as response:
        [notice] = [n for n in await response.json() if n["event_type"] == "TRANSACTION.SUCCESS"]
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/notifications/{notice['id']}/redeliver"
    ) as response:
        assert (await response.json())["deliveries"] == [204, 204]
    assert (await rights(client, headers))[PASS_PLATE]["last_day"] == "2026-12-24"

    quoted = await order(client, headers, "passes/quote", {**body, "months": 2})
    assert (quoted["renewal"], quoted["last_day"]) == (True, "2027-02-24")
    renewal = await order(
        client, headers, "passes", {**body, "months": 2, "idempotency_key": "renew-pass-01"}
    )
    await pay(client, sandbox, renewal, openid)
    held = (await rights(client, headers))[PASS_PLATE]
    assert (held["kind"], held["last_day"]) == ("monthly", "2027-02-24")


async def test_a_top_up_pays_the_exit_and_only_its_unspent_part_is_refunded(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    client, sandbox = await app_with_builtin_sandbox(settings, clock, sandbox_keys, aiohttp_client)
    headers, openid = await log_in_driver(client, sandbox, "han-meimei")
    bound = await client.post("/mp/me/plates", json={"plate": CARD_PLATE}, headers=headers)
    assert bound.status in (200, 201), await bound.text()
    body = {"plate": CARD_PLATE, "amount_fen": 1000, "idempotency_key": "top-up-0001"}
    started = await order(client, headers, "stored-value/top-ups", body)
    await pay(client, sandbox, started, openid)
    assert (await rights(client, headers))[CARD_PLATE]["balance_fen"] == 1000

    assert (await lane_read(client, clock, "E1", CARD_PLATE))["gate"] == "open"
    clock.advance(timedelta(hours=2))
    left = await lane_read(client, clock, "X1", CARD_PLATE)
    # lot-standard: 2 hours at 3 yuan an hour, taken from the card; nothing due, the gate opens.
    assert (left["gate"], left["reason"], left["fee_fen"]) == ("open", "exit_stored_value", 0)
    assert (await rights(client, headers))[CARD_PLATE]["balance_fen"] == 1000 - 600

    finance = {"Authorization": f"Bearer {await staff_token(client, 'demo-finance')}"}
    out_trade_no = started["payment"]["out_trade_no"]
    too_much = await client.post(
        f"/ops/payments/{out_trade_no}/refunds",
        json={"amount_fen": 500, "reason": "车主申请退还储值余额"},
        headers=finance,
    )
    assert too_much.status == 409, await too_much.text()
    assert (await too_much.json())["code"] == "refund_exceeds_balance"
    assert (await rights(client, headers))[CARD_PLATE]["balance_fen"] == 400
    refunded = await client.post(
        f"/ops/payments/{out_trade_no}/refunds",
        json={"amount_fen": 400, "reason": "车主申请退还储值余额"},
        headers=finance,
    )
    assert refunded.status == 200, await refunded.text()
    refund = await refunded.json()
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/refunds/{refund['out_refund_no']}/complete", json={}
    ) as response:
        assert (await response.json())["status"] == "SUCCESS"
    assert (await rights(client, headers))[CARD_PLATE]["balance_fen"] == 0
    # Nothing left to spend: the next exit is paid the ordinary way.
    clock.advance(timedelta(hours=1))
    await lane_read(client, clock, "E1", CARD_PLATE)
    clock.advance(timedelta(hours=1))
    assert (await lane_read(client, clock, "X1", CARD_PLATE))["reason"] == "fee_due"
