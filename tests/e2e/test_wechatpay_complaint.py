"""A WeChat Pay consumer complaint (消费者投诉 2.0) end to end: the payer complains in the sandbox,
the signed notification queues it with WeChat's deadline, support refunds part through the same
decision, answers and completes it through the complaint API; the audit chain stays intact.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from sandbox.wechatpay.keys import SandboxKeys
from tests.e2e.test_fee_appeal import paid_stay
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import app_with_builtin_sandbox, sandbox_keys

__all__ = ["sandbox_keys"]

Client = TestClient[Any, Any]


async def test_a_complaint_is_queued_refunded_answered_and_completed(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[Client]],
    tmp_path: Path,
) -> None:
    configured = settings.model_copy(update={"object_store_dir": str(tmp_path)})
    client, sandbox = await app_with_builtin_sandbox(
        configured, clock, sandbox_keys, aiohttp_client
    )
    stay_ref, out_trade_no, _ = await paid_stay(client, clock, sandbox)
    notify_url = str(client.make_url("/mp/wechatpay/complaints/notify"))
    filed_at = clock.now()
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/complaints",
        json={"out_trade_no": out_trade_no, "detail": "停车费多收了", "notify_url": notify_url},
    ) as response:
        complaint = await response.json()
    assert complaint["deliveries"] == [204]

    support = {"Authorization": f"Bearer {await staff_token(client, 'demo-support')}"}
    [case] = (await (await client.get("/ops/appeals", headers=support)).json())["items"]
    assert (case["kind"], case["complaint_id"], case["stay_ref"], case["out_trade_no"]) == (
        "wechatpay_complaint",
        complaint["complaint_id"],
        stay_ref,
        out_trade_no,
    )
    assert datetime.fromisoformat(case["due_at"]) == filed_at + timedelta(hours=24)
    assert case["complaint_state"] == "PENDING" and case["category"] == "wrong_fee"

    # A second delivery of the notification does not queue it twice.
    async with client.session.get(f"{sandbox}/sandbox/wechatpay/notifications") as response:
        sent = [n for n in await response.json() if n["event_type"] == "COMPLAINT.CREATE"]
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/notifications/{sent[0]['id']}/redeliver"
    ) as response:
        assert response.status == 200
    assert len((await (await client.get("/ops/appeals", headers=support)).json())["items"]) == 1

    refund = {"action": "refund", "amount_fen": 200, "reason": "核实多收，退还差额"}
    decided = await client.post(f"/ops/appeals/{case['id']}/decision", json=refund, headers=support)
    assert decided.status == 200, await decided.text()
    assert (await decided.json())["out_refund_no"]

    answer = {"text": "已核实多收费用，2元已原路退回", "complete": True}
    answered = await client.post(
        f"/ops/complaints/{case['id']}/response", json=answer, headers=support
    )
    assert answered.status == 200, await answered.text()
    assert (await answered.json())["complaint_state"] == "PROCESSED"
    history = await client.get(f"/ops/complaints/{case['id']}/history", headers=support)
    kinds = [e["kind"] for e in (await history.json())["events"]]
    assert kinds == ["USER_CREATE_COMPLAINT", "MERCHANT_RESPONSE", "MERCHANT_CONFIRM_COMPLETE"]
    listed = await client.post(
        "/ops/complaints/sync",
        json={"date": "2026-11-25", "sub_mchid": "1900000101"},
        headers=support,
    )
    assert listed.status == 200, await listed.text()
    assert [c["id"] for c in (await listed.json())["items"]] == [case["id"]]

    admin = {"Authorization": f"Bearer {await staff_token(client, 'demo-admin')}"}
    verified = await (await client.get("/ops/audit/verify", headers=admin)).json()
    assert (verified["intact"], verified["problems"]) == (True, [])
    page = await (await client.get("/ops/audit?limit=50", headers=admin)).json()
    actions = {link["action"] for link in page["items"]}
    assert {"complaint.receive", "appeal.refund", "payment_refund", "complaint.complete"} <= actions
