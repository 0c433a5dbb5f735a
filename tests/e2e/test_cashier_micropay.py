"""A cashier takes payment codes at a lot's exit, through the app and its built-in sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from core.store.unit_of_work import UnitOfWork
from sandbox.wechatpay.keys import SandboxKeys
from server.resources import DATABASE_KEY
from tests.wechat_sandbox import app_with_builtin_sandbox, log_in_driver, sandbox_keys

__all__ = ["sandbox_keys"]

PAYS = "130000000000000001"
PASSWORD = "131100000000000001"
NEVER = "132200000000000001"
NOT_ENOUGH = "133300000000000001"
FORGED = "136600000000000001"
MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


async def log_in(client: TestClient[Any, Any], username: str) -> dict[str, str]:
    """Bearer headers of a demo staff account."""
    login = await client.post(
        "/ops/login", json={"username": username, "password": "demo-password-2026"}
    )
    assert login.status == 200, await login.text()
    return {"Authorization": f"Bearer {(await login.json())['token']}"}


@dataclass
class Lane:
    """The app with its sandbox, a cashier on shift at LOT-HOSP's exit X1, and the clock."""

    client: TestClient[Any, Any]
    sandbox: str
    cashier: dict[str, str]
    shift_ref: str
    clock: FrozenClock
    cars: int = 0

    async def car_waiting(self) -> str:
        """A car that parked two hours (600 fen) and now waits at X1; its stay ref."""
        self.cars += 1
        plate = f"浙B8{self.cars:04d}"
        await self.read("E1", plate)
        self.clock.advance(timedelta(hours=2))
        answer = await self.read("X1", plate)
        assert (answer["gate"], answer["fee_fen"]) == ("closed", 600)
        self.cashier = await log_in(self.client, "demo-cashier")  # staff tokens last 30 min
        return str(answer["stay_ref"])

    async def read(self, lane: str, plate: str) -> dict[str, Any]:
        body = {
            "event_id": f"{lane}-{plate}-{self.clock.now().timestamp():.0f}",
            "device": f"LOT-HOSP-{lane}-anpr_camera",
            "device_time": self.clock.now().isoformat(),
            "plate": plate,
        }
        response = await self.client.post("/devices/lanes/reads", json=body)
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer

    async def post(self, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
        response = await self.client.post(f"/ops/cashier/{path}", json=body, headers=self.cashier)
        assert response.status == status, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer

    async def micropay(self, stay_ref: str, code: str, status: int = 200) -> dict[str, Any]:
        return await self.post("micropay", {"stay_ref": stay_ref, "auth_code": code}, status)

    async def report(self) -> dict[str, Any]:
        response = await self.client.get(
            f"/ops/cashier/shifts/{self.shift_ref}", headers=self.cashier
        )
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer

    async def balance(self, account: str) -> int:
        app = self.client.app
        assert app is not None
        async with UnitOfWork(app[DATABASE_KEY].sessions) as uow:
            return await uow.ledger.balance_fen(account)


@pytest.fixture
async def lane(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: MakeClient,
) -> Lane:
    # A driver gets 0.3 s to confirm, polled every 0.05 s: the real 5 s and 30 s, sped up.
    fast = settings.model_copy(
        update={"micropay_poll_seconds": 0.05, "micropay_timeout_seconds": 0.3}
    )
    client, sandbox = await app_with_builtin_sandbox(fast, clock, sandbox_keys, aiohttp_client)
    cashier = await log_in(client, "demo-cashier")
    shift = await client.post(
        "/ops/cashier/shifts", json={"lot": "LOT-HOSP", "lane": "X1"}, headers=cashier
    )
    assert shift.status == 201, await shift.text()
    return Lane(client, sandbox, cashier, (await shift.json())["ref"], clock)


async def test_a_payment_code_pays_the_stay_once_across_channels_and_the_shift_counts_it(
    lane: Lane,
) -> None:
    stay_ref = await lane.car_waiting()
    # The driver had opened a WeChat order in the mini-program before reaching the cashier.
    headers, openid = await log_in_driver(lane.client, lane.sandbox, "han-meimei")
    started = await lane.client.post(
        f"/mp/stays/{stay_ref}/payments", json={"idempotency_key": "exit-mp-01"}, headers=headers
    )
    assert started.status == 200, await started.text()
    order = await started.json()

    taken = await lane.micropay(stay_ref, PAYS)
    assert (taken["amount_fen"], taken["commands"][0]["kind"]) == (600, "open_gate")
    await lane.post("cash", {"stay_ref": stay_ref, "amount_fen": 600}, 409)
    refused = await lane.micropay(stay_ref, "130000000000000002", 409)
    assert refused["code"] == "nothing_due"

    # The driver still confirms the WeChat order: it settles, and is refunded at once.
    confirm = dict(order["request_payment"], openid=openid)
    async with lane.client.session.post(
        f"{lane.sandbox}/sandbox/wechatpay/request-payment", json=confirm
    ) as response:
        assert (await response.json())["notification"]["deliveries"] == [204]
    finance = await log_in(lane.client, "demo-finance")
    listed = await (
        await lane.client.get(f"/ops/stays/{stay_ref}/payments", headers=finance)
    ).json()
    by_no = {p["out_trade_no"]: p for p in listed["payments"]}
    assert by_no[taken["receipt_no"]]["status"] == "paid"
    assert by_no[taken["receipt_no"]]["refunds"] == []
    assert [r["amount_fen"] for r in by_no[order["payment"]["out_trade_no"]]["refunds"]] == [600]

    report = await lane.report()
    assert (report["micropay_fen"], report["cash_fen"], report["expected_cash_fen"]) == (
        600,
        0,
        0,
    )
    [taking] = report["takings"]
    assert (taking["channel"], taking["receipt_no"]) == ("micropay", taken["receipt_no"])


async def test_the_same_code_sent_twice_or_at_once_is_charged_once(lane: Lane) -> None:
    stay_ref = await lane.car_waiting()
    first, second = await asyncio.gather(
        lane.micropay(stay_ref, PASSWORD), lane.micropay(stay_ref, PASSWORD)
    )
    again = await lane.micropay(stay_ref, PASSWORD)
    assert first["receipt_no"] == second["receipt_no"] == again["receipt_no"]
    report = await lane.report()
    assert (report["micropay_fen"], len(report["takings"])) == (600, 1)
    assert await lane.balance("wechat_clearing:1900000101") == 600


async def test_a_driver_typing_the_password_is_waited_for(lane: Lane) -> None:
    stay_ref = await lane.car_waiting()
    taken = await lane.micropay(stay_ref, PASSWORD)
    assert (taken["amount_fen"], taken["commands"][0]["kind"]) == (600, "open_gate")


@pytest.mark.parametrize(
    ("code", "told"),
    [(NEVER, "已撤销"), (NOT_ENOUGH, "余额不足")],
)
async def test_an_unpaid_code_tells_the_cashier_why_and_the_stay_stays_due(
    lane: Lane, code: str, told: str
) -> None:
    stay_ref = await lane.car_waiting()
    refused = await lane.micropay(stay_ref, code, 409)
    assert refused["code"] == "micropay_failed" and told in refused["message"]
    assert await lane.balance("wechat_clearing:1900000101") == 0
    assert (await lane.report())["takings"] == []
    cash = await lane.post("cash", {"stay_ref": stay_ref, "amount_fen": 600}, 200)
    assert cash["commands"][0]["kind"] == "open_gate"


async def test_answers_with_a_bad_signature_leave_the_stay_unpaid(lane: Lane) -> None:
    stay_ref = await lane.car_waiting()
    answer = await lane.micropay(stay_ref, FORGED, 502)
    assert answer["code"] == "micropay_unconfirmed" and "请勿放行" in answer["message"]
    assert await lane.balance("wechat_clearing:1900000101") == 0
    assert (await lane.report())["takings"] == []


async def test_bad_input_changes_nothing(lane: Lane) -> None:
    stay_ref = await lane.car_waiting()
    for code in ("160000000000000001", "13000000000000001", "13000000000000000a", ""):
        answer = await lane.micropay(stay_ref, code, 400)
        assert answer["code"] == "invalid_request"
    missing = await lane.micropay("no-such-stay", PAYS, 404)
    assert missing["message"]
    await lane.post("shifts/close", {"counted_cash_fen": 0}, 200)
    closed = await lane.micropay(stay_ref, PAYS, 409)
    assert closed["code"] == "shift_state"
    assert await lane.balance("wechat_clearing:1900000101") == 0
