"""A networked lot collects on site what the driver already paid us online: never kept twice.

The overlap is refunded from the driver's online payment (ours to refund), or, when no online
payment of ours holds it, the stay is flagged for the operator and the lot is told to give its
own collection back. The ledger balances either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from config.settings import Settings
from core.clock import FrozenClock
from core.payments import PaymentStatus, RefundStatus
from core.services.payments import DUPLICATE_REASON
from core.store.database import Database
from core.store.devices import StayFlagRow
from core.store.unit_of_work import UnitOfWork
from sandbox.network_lot import ThirdPartyLot
from sandbox.wechatpay.keys import SandboxKeys
from tests.e2e.test_networked_lot import LOT, SUB_MCHID, registration
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import app_with_builtin_sandbox, balance, log_in_driver, sandbox_keys

__all__ = ["sandbox_keys"]

PLATE = "浙B2N777"
RECEIVABLE = f"driver_receivable:{PLATE}"
SITE = f"network_site:{LOT}"
CLEARING = f"wechat_clearing:{SUB_MCHID}"


async def joined_lot(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> tuple[TestClient[Any, Any], str, ThirdPartyLot]:
    quiet = settings.model_copy(
        update={"network_webhook_poll_seconds": 0, "network_silence_check_seconds": 0}
    )
    client, sandbox = await app_with_builtin_sandbox(quiet, clock, sandbox_keys, aiohttp_client)
    admin = {"Authorization": f"Bearer {await staff_token(client, 'demo-admin')}"}
    joined = await client.post(
        "/ops/network/lots", json=registration("http://127.0.0.1:9/webhook"), headers=admin
    )
    assert joined.status == 201, await joined.text()
    issued = await joined.json()
    lot = ThirdPartyLot(
        client.session,
        str(client.make_url("")),
        issued["app_id"],
        issued["key"],
        now=lambda: clock.now().timestamp(),
    )
    return client, sandbox, lot


async def paid_online(client: TestClient[Any, Any], sandbox: str, stay_ref: str, key: str) -> str:
    """The driver pays the stay in the mini-program; the payment's number."""
    headers, openid = await log_in_driver(client, sandbox, "han-meimei")
    started = await client.post(
        f"/mp/stays/{stay_ref}/payments", json={"idempotency_key": key}, headers=headers
    )
    assert started.status == 200, await started.text()
    order = await started.json()
    confirm = dict(order["request_payment"], openid=openid)
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/request-payment", json=confirm
    ) as r:
        assert (await r.json())["notification"]["deliveries"] == [204]
    number: str = order["payment"]["out_trade_no"]
    return number


async def ledger_total(database: Database, *accounts: str) -> dict[str, int]:
    return {account: await balance(database, account) for account in accounts}


async def test_a_site_payment_of_a_stay_paid_online_refunds_the_online_payment(
    settings: Settings,
    clock: FrozenClock,
    database: Database,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    client, sandbox, lot = await joined_lot(settings, clock, sandbox_keys, aiohttp_client)
    entered = clock.now() - timedelta(hours=2)
    left = clock.now() - timedelta(minutes=5)
    first = await lot.exit("out-1", "ORD-77", PLATE, entered, left, 900, 0)
    assert first.status == 200, first.body
    stay_ref = first.body["stay_ref"]
    out_trade_no = await paid_online(client, sandbox, stay_ref, "net-dup-01")

    # The lot's attendant takes cash as well, and the lot pushes the exit again.
    again = await lot.exit("out-2", "ORD-77", PLATE, entered, left, 900, 900)
    assert again.status == 200, again.body
    assert again.body["paid_twice"] == {
        "overlap_fen": 900,
        "refunded_online_fen": 900,
        "return_on_site_fen": 0,
    }
    resent = await lot.exit("out-2", "ORD-77", PLATE, entered, left, 900, 900)
    assert (resent.body["status"], resent.body["paid_twice"]) == (
        "duplicate",
        again.body["paid_twice"],
    )

    async with UnitOfWork(database.sessions) as uow:
        [refund] = await uow.payments.refunds_of(out_trade_no)
    assert (refund.amount_fen, refund.reason) == (900, DUPLICATE_REASON)
    assert refund.status in (RefundStatus.PROCESSING, RefundStatus.SUCCESS)  # sent at once
    paid = await lot.session_payments("ORD-77")
    assert (paid.body["paid_on_site_fen"], paid.body["due_fen"]) == (900, 0), paid.body

    complete = f"{sandbox}/sandbox/wechatpay/refunds/{refund.out_refund_no}/complete"
    async with client.session.post(complete, json={}) as done:
        assert (await done.json())["notification"]["deliveries"] == [204]
    async with UnitOfWork(database.sessions) as uow:
        payment = await uow.payments.get(out_trade_no)
        details = await uow.lots.lot_stay((await uow.stays.by_ref(stay_ref)).id)  # type: ignore[union-attr]
    assert payment is not None and payment.status is PaymentStatus.REFUNDED
    assert details is not None and details.paid_fen == 900  # held once
    # The lot kept its cash, the driver got the online payment back, nobody owes anything.
    assert await ledger_total(database, RECEIVABLE, SITE, CLEARING) == {
        RECEIVABLE: 0,
        SITE: 900,
        CLEARING: 0,
    }


async def test_a_site_payment_beyond_what_is_refundable_online_is_flagged_and_told(
    settings: Settings,
    clock: FrozenClock,
    database: Database,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    client, _, lot = await joined_lot(settings, clock, sandbox_keys, aiohttp_client)
    entered = clock.now() - timedelta(hours=2)
    left = clock.now() - timedelta(minutes=5)
    first = await lot.exit("out-1", "ORD-78", PLATE, entered, left, 900, 900)
    stay_ref = first.body["stay_ref"]
    # The lot's payment machine takes the fee again for the session it already settled.
    took = await lot.paid_on_site("pay-2", 600, clock.now(), session_id="ORD-78")
    assert took.status == 200, took.body
    assert took.body["paid_twice"] == {
        "overlap_fen": 600,
        "refunded_online_fen": 0,
        "return_on_site_fen": 600,
    }
    async with UnitOfWork(database.sessions) as uow:
        stay = await uow.stays.by_ref(stay_ref)
        assert stay is not None
        flags = list(
            await uow.session.scalars(select(StayFlagRow).where(StayFlagRow.stay_id == stay.id))
        )
        details = await uow.lots.lot_stay(stay.id)
    assert [f.flag for f in flags] == ["paid_twice"]
    assert "600" in (flags[0].note or "")
    assert details is not None and details.paid_fen == 1500  # what the lot holds, as it is
    # The driver's credit of 600 is what the lot owes back; every entry balanced.
    assert await ledger_total(database, RECEIVABLE, SITE) == {RECEIVABLE: -600, SITE: 1500}
    # The operator sees it in the lots' review queue.
    admin = {"Authorization": f"Bearer {await staff_token(client, 'demo-admin')}"}
    queue = await client.get("/ops/review/lot-stays", params={"lot": LOT}, headers=admin)
    assert queue.status == 200, await queue.text()
    listed = [(i["stay_ref"], i["why"]) for i in (await queue.json())["items"]]
    assert listed == [(stay_ref, "paid_twice")]
    # The lot gives the 600 back on site; staff record it and the flag ends.
    viewer = {"Authorization": f"Bearer {await staff_token(client, 'demo-viewer')}"}
    path = f"/ops/review/lot-stays/{stay_ref}/returned"
    body = {"reason": "车场收费员当场退还现金6元"}
    assert (await client.post(path, json=body, headers=viewer)).status == 403
    done = await client.post(path, json=body, headers=admin)
    assert done.status == 200, await done.text()
    assert (await done.json())["fee_fen"] == 900
    again = await client.post(path, json=body, headers=admin)
    assert (again.status, (await again.json())["code"]) == (409, "stay_not_paid_twice")
    queue = await client.get("/ops/review/lot-stays", params={"lot": LOT}, headers=admin)
    assert (await queue.json())["items"] == []
    assert await ledger_total(database, RECEIVABLE, SITE) == {RECEIVABLE: 0, SITE: 900}
    async with UnitOfWork(database.sessions) as uow:
        details = await uow.lots.lot_stay(stay.id)
    assert details is not None and details.paid_fen == 900
    paid = await lot.session_payments("ORD-78")
    assert (paid.body["paid_on_site_fen"], paid.body["due_fen"]) == (1500, 0), paid.body
