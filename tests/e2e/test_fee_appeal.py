"""A fee appeal end to end: a paid stay, the driver appeals with a photo, support reads the
evidence and grants a discount over its limit, finance approves, the refund reaches the WeChat
Pay sandbox and settles, the driver is told by subscribe message, the books balance and the
audit chain is intact.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from config.settings import Settings
from core.clock import FrozenClock
from core.store.activity import LedgerPostingRow
from core.store.database import open_database
from sandbox.wechatpay.keys import SandboxKeys
from server.driver_features import send_notices
from server.wechat import SANDBOX_APPEAL_TEMPLATE
from tests.e2e.test_walking_skeleton import EXPECTED_FEE_FEN, PLATE, sensor_event, staff_token
from tests.wechat_sandbox import app_with_builtin_sandbox, log_in_driver, sandbox_keys

__all__ = ["sandbox_keys"]

Client = TestClient[Any, Any]
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"
DISCOUNT_FEN = 300  # over the support agent's limit below, under the fee paid
SUPPORT_LIMIT_FEN = 100


async def paid_stay(client: Client, clock: FrozenClock, sandbox: str) -> tuple[str, str, Any]:
    """A two-hour street stay the driver paid through the sandbox; its ref, trade no, headers."""
    opened = await client.post(
        "/devices/sensors/events", json=sensor_event("a-1", "occupied", "09:00", plate=PLATE)
    )
    assert opened.status == 200, await opened.text()
    clock.advance(timedelta(hours=2))
    closed = await client.post(
        "/devices/sensors/events", json=sensor_event("a-2", "vacated", "11:00")
    )
    stay_ref = (await closed.json())["stay_ref"]
    headers, openid = await log_in_driver(client, sandbox, "li-lei")
    started = await client.post(
        f"/mp/stays/{stay_ref}/payments", json={"idempotency_key": "appeal-e2e-01"}, headers=headers
    )
    assert started.status == 200, await started.text()
    order = await started.json()
    confirm = dict(order["request_payment"], openid=openid)
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/request-payment", json=confirm
    ) as response:
        assert (await response.json())["notification"]["deliveries"] == [204]
    # The driver accepts the appeal-outcome subscribe message once (wx.requestSubscribeMessage).
    async with client.session.post(
        f"{sandbox}/sandbox/wechat/subscriptions",
        json={"openid": openid, "template_id": SANDBOX_APPEAL_TEMPLATE},
    ) as response:
        assert response.status == 200
    granted = await client.post(
        "/mp/me/subscriptions", json={"accepted": [SANDBOX_APPEAL_TEMPLATE]}, headers=headers
    )
    assert granted.status == 200, await granted.text()
    return stay_ref, order["payment"]["out_trade_no"], (headers, openid)


async def test_appeal_discount_over_the_limit_is_approved_refunded_and_told(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[Client]],
    tmp_path: Path,
) -> None:
    configured = settings.model_copy(
        update={
            "object_store_dir": str(tmp_path / "objects"),
            "approval_limits": {"support_agent": {"waive": 100, "refund": SUPPORT_LIMIT_FEN}},
        }
    )
    client, sandbox = await app_with_builtin_sandbox(
        configured, clock, sandbox_keys, aiohttp_client
    )
    stay_ref, out_trade_no, (driver, openid) = await paid_stay(client, clock, sandbox)

    # The driver uploads a photo and appeals; only they see the appeal.
    uploaded = await client.post(
        "/mp/appeals/photos", data=JPEG, headers={**driver, "Content-Type": "image/jpeg"}
    )
    assert uploaded.status == 201, await uploaded.text()
    photo = (await uploaded.json())["photo_ref"]
    assert (tmp_path / "objects" / photo).read_bytes() == JPEG
    body = {"category": "wrong_fee", "reason": "我只停了一个多小时", "photos": [photo]}
    filed = await client.post(f"/mp/stays/{stay_ref}/appeals", json=body, headers=driver)
    assert filed.status == 201, await filed.text()
    appeal = await filed.json()
    assert (appeal["status"], appeal["photos"]) == ("open", [photo])
    again = await client.post(f"/mp/stays/{stay_ref}/appeals", json=body, headers=driver)
    assert (again.status, (await again.json())["code"]) == (409, "appeal_exists")
    mine = await (await client.get("/mp/me/appeals", headers=driver)).json()
    assert [a["id"] for a in mine["items"]] == [appeal["id"]]
    stranger, _ = await log_in_driver(client, sandbox, "han-meimei")
    assert (await (await client.get("/mp/me/appeals", headers=stranger)).json())["items"] == []
    theirs = await client.post(f"/mp/stays/{stay_ref}/appeals", json=body, headers=stranger)
    assert theirs.status == 404

    # Support reads the evidence and grants a discount over its limit: it waits for finance.
    support = {"Authorization": f"Bearer {await staff_token(client, 'demo-support')}"}
    queue = await (await client.get("/ops/appeals", headers=support)).json()
    assert [c["id"] for c in queue["items"]] == [appeal["id"]]
    shown = await client.get(f"/ops/appeals/{appeal['id']}", headers=support)
    assert shown.status == 200, await shown.text()
    evidence = await shown.json()
    assert evidence["stay"]["entered_at"].startswith("2026-11-25T01:00:00")
    assert evidence["stay"]["exited_at"].startswith("2026-11-25T03:00:00")
    assert evidence["stay"]["paid_fen"] == EXPECTED_FEE_FEN
    trace = [(s["kind"], s["role"], s["of_this_stay"]) for s in evidence["sensor_trace"]]
    assert trace == [("occupied", "start", True), ("vacated", "end", True)]
    assert [p["out_trade_no"] for p in evidence["payments"]] == [out_trade_no]
    decision = {"action": "refund", "amount_fen": DISCOUNT_FEN, "reason": "传感器晚报离场"}
    decided = await client.post(
        f"/ops/appeals/{appeal['id']}/decision", json=decision, headers=support
    )
    assert decided.status == 200, await decided.text()
    waiting = await decided.json()
    assert (waiting["status"], waiting["out_refund_no"]) == ("awaiting_approval", None)
    own = await client.post(
        f"/ops/approvals/{waiting['approval_id']}/approve", json={"note": "自己批"}, headers=support
    )
    assert own.status == 403  # an agent holds no approval right at all

    # Finance approves; the refund goes to the sandbox and settles there.
    finance = {"Authorization": f"Bearer {await staff_token(client, 'demo-finance')}"}
    pending = await (await client.get("/ops/approvals", headers=finance)).json()
    assert [(a["id"], a["requested_by"], a["amount_fen"]) for a in pending["items"]] == [
        (waiting["approval_id"], "demo-support", DISCOUNT_FEN)
    ]
    approved = await client.post(
        f"/ops/approvals/{waiting['approval_id']}/approve",
        json={"note": "核实属实"},
        headers=finance,
    )
    assert approved.status == 200, await approved.text()
    done = await approved.json()
    assert done["status"] == "resolved" and done["out_refund_no"]
    twice = await client.post(
        f"/ops/approvals/{waiting['approval_id']}/approve", json={"note": "再批"}, headers=finance
    )
    assert (twice.status, (await twice.json())["code"]) == (409, "approval_decided")
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/refunds/{done['out_refund_no']}/complete", json={}
    ) as response:
        assert (await response.json())["status"] == "SUCCESS"
    payments = await (await client.get(f"/ops/stays/{stay_ref}/payments", headers=finance)).json()
    [payment] = payments["payments"]
    assert payment["refunded_fen"] == DISCOUNT_FEN
    assert [(r["status"], r["requested_by"]) for r in payment["refunds"]] == [
        ("success", "demo-finance")
    ]

    # The driver is told by subscribe message and sees the outcome.
    assert await send_notices(client.app) >= 1
    async with client.session.get(
        f"{sandbox}/sandbox/wechat/messages", params={"openid": openid}
    ) as response:
        messages = [m for m in await response.json() if m["template_id"] == SANDBOX_APPEAL_TEMPLATE]
    assert [m["data"]["amount3"]["value"] for m in messages] == ["3.00元"]
    [outcome] = (await (await client.get("/mp/me/appeals", headers=driver)).json())["items"]
    assert (outcome["status"], outcome["outcome"], outcome["outcome_fen"]) == (
        "resolved",
        "refund",
        DISCOUNT_FEN,
    )

    # The books balance: nothing owed, the clearing account holds what was kept.
    owed = await client.get(f"/ops/ledger/accounts/driver_receivable:{PLATE}", headers=finance)
    assert (await owed.json())["balance_fen"] == 0
    kept = await client.get("/ops/ledger/accounts/wechat_clearing:1900000101", headers=finance)
    assert (await kept.json())["balance_fen"] == EXPECTED_FEE_FEN - DISCOUNT_FEN
    database = open_database(settings.database_url)
    try:
        async with database.sessions() as session:
            debit = await session.scalar(select(func.sum(LedgerPostingRow.debit_fen)))
            credit = await session.scalar(select(func.sum(LedgerPostingRow.credit_fen)))
    finally:
        await database.dispose()
    assert debit == credit and debit

    # Every step is in the audit chain, and the chain is intact.
    admin = {"Authorization": f"Bearer {await staff_token(client, 'demo-admin')}"}
    verified = await (await client.get("/ops/audit/verify", headers=admin)).json()
    assert (verified["intact"], verified["problems"]) == (True, [])
    page = await (await client.get("/ops/audit?limit=50", headers=admin)).json()
    actions = [link["action"] for link in reversed(page["items"])]
    steps = ["appeal.file", "appeal.approval_requested", "approval.approve", "payment_refund"]
    assert [a for a in actions if a in steps] == steps
