"""A driver pays a stay end to end: sensor events, login, prepay, WeChat sandbox, notify, ledger.

The app runs as `make run` does: `wechat_sandbox` on, the stand-ins served by the app itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from sandbox.wechatpay.keys import SandboxKeys
from tests.e2e.test_walking_skeleton import EXPECTED_FEE_FEN, PLATE, sensor_event, staff_token
from tests.wechat_sandbox import app_with_builtin_sandbox, log_in_driver, sandbox_keys

__all__ = ["sandbox_keys"]


async def test_a_driver_pays_a_stay_through_the_sandbox(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    client, sandbox = await app_with_builtin_sandbox(settings, clock, sandbox_keys, aiohttp_client)

    opened = await client.post(
        "/devices/sensors/events", json=sensor_event("p-1", "occupied", "09:00", plate=PLATE)
    )
    assert opened.status == 200, await opened.text()
    clock.advance(timedelta(hours=2))
    closed = await client.post(
        "/devices/sensors/events", json=sensor_event("p-2", "vacated", "11:00")
    )
    stay_ref = (await closed.json())["stay_ref"]

    headers, openid = await log_in_driver(client, sandbox, "li-lei")

    [stay] = (await (await client.get(f"/mp/plates/{PLATE}/stays")).json())["stays"]
    assert (stay["ref"], stay["due_fen"]) == (stay_ref, EXPECTED_FEE_FEN)
    started = await client.post(
        f"/mp/stays/{stay_ref}/payments", json={"idempotency_key": "e2e-tap-01"}, headers=headers
    )
    assert started.status == 200, await started.text()
    order = await started.json()
    out_trade_no = order["payment"]["out_trade_no"]

    confirm = dict(order["request_payment"], openid=openid)
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/request-payment", json=confirm
    ) as response:
        paid = await response.json()
    assert paid["notification"]["deliveries"] == [204]
    shown = await client.get(f"/mp/payments/{out_trade_no}", headers=headers)
    assert (await shown.json())["status"] == "paid"

    token = await staff_token(client, "demo-finance")
    staff = {"Authorization": f"Bearer {token}"}
    ledger = await client.get(f"/ops/ledger/entries/{out_trade_no}", headers=staff)
    [entry] = (await ledger.json())["entries"]
    postings = {(p["account"], p["debit_fen"], p["credit_fen"]) for p in entry["postings"]}
    assert postings == {
        ("wechat_clearing:1900000101", EXPECTED_FEE_FEN, 0),
        (f"driver_receivable:{PLATE}", 0, EXPECTED_FEE_FEN),
    }
    owed = await client.get(f"/ops/ledger/accounts/driver_receivable:{PLATE}", headers=staff)
    assert (await owed.json())["balance_fen"] == 0

    paths = (await (await client.get("/openapi.json")).json())["paths"]
    assert {"/mp/login", "/mp/stays/{ref}/payments", "/mp/wechatpay/notify"} <= set(paths)
