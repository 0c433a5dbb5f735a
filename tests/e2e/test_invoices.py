"""Invoices end to end: pay stays through the sandbox, ask for an invoice in the mini-program API,
the sweep issues it at WeChat Pay's fapiao sandbox or the fiscal stand-in, refunds reverse (红冲)
and reissue, failures are retried, concurrent requests give one invoice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, unused_port
from aiosmtpd.controller import Controller
from sqlalchemy import update

from config.settings import Settings
from core.clock import FrozenClock
from core.invoices import POLL_AFTER
from core.payments import SHANGHAI
from core.services.invoice_sweep import sweep_invoices
from core.staff import Role, Scope
from core.store.city import OperatorRow
from core.store.unit_of_work import UnitOfWork
from sandbox.wechatpay.fapiao import FAPIAO_KEY
from sandbox.wechatpay.keys import SandboxKeys
from server.invoicing import FISCAL_SANDBOX_KEY, INVOICE_PROVIDERS_KEY
from server.resources import DATABASE_KEY
from server.wechat import SANDBOX_KEY
from tests.e2e.test_passes_and_top_ups import CARD_PLATE
from tests.e2e.test_walking_skeleton import PLATE, sensor_event, staff_token
from tests.integration.test_staff_routes import bearer, make_staff, token_of
from tests.wechat_sandbox import app_with_builtin_sandbox, log_in_driver, sandbox_keys

__all__ = ["sandbox_keys"]

Client = TestClient[Any, Any]
TENCENT = {
    "kind": "company",
    "name": "深圳市腾讯计算机系统有限公司",
    "tax_id": "9144030071526726XG",
}
PERSON = {"kind": "personal", "name": "李雷", "email": "li.lei@example.com"}


class Scene:
    """The app with its sandbox, one signed-in driver and a finance token."""

    def __init__(self, client: Client, sandbox: str, clock: FrozenClock) -> None:
        self.client, self.sandbox, self.clock = client, sandbox, clock
        self.headers: dict[str, str] = {}
        self.openid = ""
        self.stays = 0

    async def start(self) -> None:
        self.headers, self.openid = await log_in_driver(self.client, self.sandbox, "li-lei")

    async def finance(self) -> dict[str, str]:
        """A fresh finance token (the sweeps move the clock past a token's life)."""
        return {"Authorization": f"Bearer {await staff_token(self.client, 'demo-finance')}"}

    async def paid_stay(self) -> tuple[str, int]:
        """Park two hours at HS1-001 and pay through the sandbox; the order and its fen."""
        n, self.stays = self.stays, self.stays + 1
        begin = f"{self.clock.now().astimezone(SHANGHAI):%H:%M}"
        event = sensor_event(f"o-{n}", "occupied", begin, plate=PLATE)
        assert (await self.client.post("/devices/sensors/events", json=event)).status == 200
        self.clock.advance(timedelta(hours=2))
        end = f"{self.clock.now().astimezone(SHANGHAI):%H:%M}"
        closed = await self.client.post(
            "/devices/sensors/events", json=sensor_event(f"v-{n}", "vacated", end)
        )
        stay_ref = (await closed.json())["stay_ref"]
        started = await self.client.post(
            f"/mp/stays/{stay_ref}/payments",
            json={"idempotency_key": f"e2e-invoice-{n:02d}"},
            headers=self.headers,
        )
        assert started.status == 200, await started.text()
        order = await started.json()
        confirm = dict(order["request_payment"], openid=self.openid)
        async with self.client.session.post(
            f"{self.sandbox}/sandbox/wechatpay/request-payment", json=confirm
        ) as response:
            assert (await response.json())["trade_state"] == "SUCCESS"
        self.clock.advance(timedelta(minutes=10))
        return order["payment"]["out_trade_no"], order["payment"]["amount_fen"]

    async def ask(self, numbers: list[str], title: dict[str, Any], key: str) -> Any:
        body = {"out_trade_nos": numbers, "title": title, "idempotency_key": key}
        return await self.client.post("/mp/me/invoices", json=body, headers=self.headers)

    async def sweep(self, rounds: int = 6) -> None:
        """Run the issuing sweep, the clock moving past each poll interval."""
        app = self.client.app
        assert app is not None
        database = app[DATABASE_KEY]
        for _ in range(rounds):
            await sweep_invoices(
                lambda: UnitOfWork(database.sessions), self.clock, app[INVOICE_PROVIDERS_KEY]
            )
            self.clock.advance(POLL_AFTER + timedelta(seconds=1))

    async def invoice(self, no: str) -> dict[str, Any]:
        shown = await self.client.get(f"/mp/me/invoices/{no}", headers=self.headers)
        assert shown.status == 200, await shown.text()
        found: dict[str, Any] = await shown.json()
        return found

    async def refund(self, out_trade_no: str, fen: int) -> None:
        """Finance refunds; the sandbox completes it and notifies the app."""
        asked = await self.client.post(
            f"/ops/payments/{out_trade_no}/refunds",
            json={"amount_fen": fen, "reason": "计费有误，部分退款"},
            headers=await self.finance(),
        )
        assert asked.status == 200, await asked.text()
        no = (await asked.json())["out_refund_no"]
        async with self.client.session.post(
            f"{self.sandbox}/sandbox/wechatpay/refunds/{no}/complete"
        ) as response:
            assert response.status == 200
        shown = await self.client.get(f"/mp/payments/{out_trade_no}", headers=self.headers)
        assert (await shown.json())["refunded_fen"] >= fen

    async def mine(self) -> dict[str, Any]:
        listed = await self.client.get("/mp/me/invoices", headers=self.headers)
        assert listed.status == 200, await listed.text()
        found: dict[str, Any] = await listed.json()
        return found


@pytest.fixture
async def scene(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> Scene:
    return await make_scene(settings, clock, sandbox_keys, aiohttp_client)


async def make_scene(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[Client]],
    **overrides: Any,
) -> Scene:
    """The app with the sweeps off (tests run them), and a signed-in driver."""
    quiet = settings.model_copy(
        update={"invoices_sweep_seconds": 0, "payments_sweep_seconds": 0, **overrides}
    )
    client, sandbox = await app_with_builtin_sandbox(quiet, clock, sandbox_keys, aiohttp_client)
    found = Scene(client, sandbox, clock)
    await found.start()
    return found


async def lots_kind(scene: Scene) -> None:
    """Make the demo operator a seller of 数电票 (through WeChat Pay) instead of fiscal receipts."""
    app = scene.client.app
    assert app is not None
    async with UnitOfWork(app[DATABASE_KEY].sessions) as uow:
        await uow.session.execute(update(OperatorRow).values(fiscal_receipts=False))
        await uow.commit()


async def test_digital_invoice_issued_then_partial_refund_reverses_and_reissues(
    scene: Scene,
) -> None:
    await lots_kind(scene)
    out_trade_no, paid = await scene.paid_stay()
    [listed] = (await scene.mine())["invoiceable"]
    assert (listed["out_trade_no"], listed["invoiceable_fen"], listed["kind"]) == (
        out_trade_no,
        paid,
        "digital_vat",
    )
    asked = await scene.ask([out_trade_no], TENCENT, "invoice-tap-01")
    assert asked.status == 200, await asked.text()
    first = await asked.json()
    assert (first["status"], first["amount_fen"], first["tax_id"]) == (
        "requested",
        paid,
        TENCENT["tax_id"],
    )
    again = await scene.ask([out_trade_no], TENCENT, "invoice-tap-01")
    assert (await again.json())["invoice_no"] == first["invoice_no"]  # the same tap: same invoice

    await scene.sweep()
    issued = await scene.invoice(first["invoice_no"])
    assert issued["status"] == "issued" and len(issued["document_number"]) == 20
    pdf = await scene.client.get(
        f"/mp/me/invoices/{first['invoice_no']}/file", headers=scene.headers
    )
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    assert (await pdf.read()).startswith(b"%PDF-1.4")
    assert (await scene.mine())["invoiceable"] == []

    await scene.refund(out_trade_no, 300)
    assert (await scene.invoice(first["invoice_no"]))["status"] == "reversing"
    await scene.sweep()
    assert (await scene.invoice(first["invoice_no"]))["status"] == "reversed"
    [reissue] = [
        i for i in (await scene.mine())["invoices"] if i["replaces"] == first["invoice_no"]
    ]
    assert (reissue["status"], reissue["amount_fen"]) == ("issued", paid - 300)
    assert reissue["title_name"] == TENCENT["name"]
    assert (await scene.mine())["invoiceable"] == []


async def test_fiscal_receipt_full_refund_reverses_without_reissue(scene: Scene) -> None:
    out_trade_no, paid = await scene.paid_stay()
    asked = await scene.ask([out_trade_no], PERSON, "invoice-tap-02")
    assert asked.status == 200, await asked.text()
    no = (await asked.json())["invoice_no"]
    await scene.sweep(1)
    receipt = await scene.invoice(no)
    assert (receipt["kind"], receipt["status"]) == ("fiscal_receipt", "issued")
    assert len(receipt["document_code"]) == 8 and len(receipt["document_number"]) == 10
    assert receipt["check_code"]
    await scene.refund(out_trade_no, paid)
    await scene.sweep(2)
    mine = await scene.mine()
    assert [(i["invoice_no"], i["status"]) for i in mine["invoices"]] == [(no, "reversed")]
    assert mine["invoiceable"] == []


async def test_merged_payments_and_a_failure_retried(scene: Scene) -> None:
    await lots_kind(scene)
    first, first_fen = await scene.paid_stay()
    second, second_fen = await scene.paid_stay()
    [group] = (await scene.mine())["merge_groups"]
    assert sorted(group["out_trade_nos"]) == sorted([first, second])
    async with scene.client.session.post(
        f"{scene.sandbox}/sandbox/wechatpay/fapiao/fail",
        json={"count": 1, "code": "INVALID_REQUEST", "message": "税控设备离线"},
    ) as response:
        assert response.status == 200
    asked = await scene.ask([first, second], PERSON, "invoice-tap-03")
    assert asked.status == 200, await asked.text()
    no = (await asked.json())["invoice_no"]
    await scene.sweep(1)
    listed = await scene.client.get("/ops/invoices?status=failed", headers=await scene.finance())
    [failed] = (await listed.json())["invoices"]
    assert failed["invoice"]["invoice_no"] == no and "税控设备离线" in failed["failure"]
    retried = await scene.client.post(f"/ops/invoices/{no}/retry", headers=await scene.finance())
    assert retried.status == 200, await retried.text()
    await scene.sweep()
    merged = await scene.invoice(no)
    assert (merged["status"], merged["amount_fen"]) == ("issued", first_fen + second_fen)
    exported = await scene.client.get("/ops/invoices/export", headers=await scene.finance())
    assert (await exported.text()).count(no) == 2  # one row per merged payment


async def test_bad_requests_change_nothing(scene: Scene) -> None:
    out_trade_no, _ = await scene.paid_stay()
    wrong = dict(TENCENT, tax_id="9144030071526726XA")
    refused = await scene.ask([out_trade_no], wrong, "invoice-tap-04")
    assert refused.status == 400
    assert (await refused.json())["code"] == "invalid_tax_id"
    missing = await scene.ask(["NOT-A-PAYMENT-0001"], PERSON, "invoice-tap-05")
    assert missing.status == 404
    other_headers, _ = await log_in_driver(scene.client, scene.sandbox, "han-meimei")
    theirs = await scene.client.post(
        "/mp/me/invoices",
        json={"out_trade_nos": [out_trade_no], "title": PERSON, "idempotency_key": "invoice-x-1"},
        headers=other_headers,
    )
    assert theirs.status == 404
    assert (await scene.mine())["invoices"] == []


async def test_concurrent_requests_give_one_invoice_and_a_409(scene: Scene) -> None:
    out_trade_no, _ = await scene.paid_stay()
    answers = await asyncio.gather(
        scene.ask([out_trade_no], PERSON, "invoice-race-a"),
        scene.ask([out_trade_no], PERSON, "invoice-race-b"),
    )
    assert sorted(a.status for a in answers) == [200, 409]
    assert len((await scene.mine())["invoices"]) == 1


async def test_fiscal_provider_lag_is_polled(scene: Scene) -> None:
    app = scene.client.app
    assert app is not None
    app[FISCAL_SANDBOX_KEY].lag_queries = 2
    out_trade_no, _ = await scene.paid_stay()
    no = (await (await scene.ask([out_trade_no], PERSON, "invoice-tap-06")).json())["invoice_no"]
    await scene.sweep(1)
    assert (await scene.invoice(no))["status"] == "issuing"
    await scene.sweep(2)
    assert (await scene.invoice(no))["status"] == "issued"


async def test_top_up_gets_a_prepaid_invoice_marked_not_taxed(scene: Scene) -> None:
    bound = await scene.client.post(
        "/mp/me/plates", json={"plate": CARD_PLATE}, headers=scene.headers
    )
    assert bound.status in (200, 201), await bound.text()
    body = {"plate": CARD_PLATE, "amount_fen": 1000, "idempotency_key": "top-up-invoice-1"}
    started = await scene.client.post(
        "/mp/lots/LOT-TIANYI/stored-value/top-ups", json=body, headers=scene.headers
    )
    assert started.status == 200, await started.text()
    order = await started.json()
    confirm = dict(order["request_payment"], openid=scene.openid)
    async with scene.client.session.post(
        f"{scene.sandbox}/sandbox/wechatpay/request-payment", json=confirm
    ) as response:
        assert (await response.json())["trade_state"] == "SUCCESS"
    [listed] = (await scene.mine())["invoiceable"]
    assert (listed["purpose"], listed["kind"], listed["invoiceable_fen"]) == (
        "top_up",
        "prepaid",
        1000,
    )
    no = (await (await scene.ask([listed["out_trade_no"]], PERSON, "invoice-top-1")).json())[
        "invoice_no"
    ]
    await scene.sweep()
    assert (await scene.invoice(no))["status"] == "issued"
    app = scene.client.app
    assert app is not None
    books = app[SANDBOX_KEY].runner.app[FAPIAO_KEY]
    [item] = books.applications[no].items
    assert (item["tax_code"], item["tax_prefer_mark"]) == ("6010000000000000000", "OUTSIDE_VAT")


async def test_a_scoped_finance_account_sees_and_touches_only_its_operators(
    scene: Scene, settings: Settings
) -> None:
    out_trade_no, paid = await scene.paid_stay()
    no = (await (await scene.ask([out_trade_no], PERSON, "invoice-scope-1")).json())["invoice_no"]
    app = scene.client.app
    assert app is not None
    elsewhere = Scope(operators=frozenset({"OP-ELSEWHERE"}))
    staff_id = await make_staff(
        app[DATABASE_KEY], scene.clock, Role.FINANCE, username="fin-elsewhere", scope=elsewhere
    )
    headers = bearer(token_of(settings, scene.clock, staff_id, Role.FINANCE))
    listed = await scene.client.get("/ops/invoices", headers=headers)
    assert (await listed.json())["invoices"] == []
    total = await scene.client.get("/ops/invoices/daily-total?day=2026-11-25", headers=headers)
    assert (await total.json())["pending_fen"] == 0
    reversed_ = await scene.client.post(
        f"/ops/invoices/{no}/reverse", json={"reason": "抬头错误"}, headers=headers
    )
    assert reversed_.status == 403
    city = await scene.client.get(
        "/ops/invoices/daily-total?day=2026-11-25", headers=await scene.finance()
    )
    assert (await city.json())["pending_fen"] == paid


async def test_the_fapiao_notify_alone_brings_the_issued_state(scene: Scene) -> None:
    await lots_kind(scene)
    out_trade_no, _ = await scene.paid_stay()
    no = (await (await scene.ask([out_trade_no], PERSON, "invoice-notify-1")).json())["invoice_no"]
    await scene.sweep(1)  # sends the application; the sandbox issues and notifies by itself
    for _ in range(100):
        if (await scene.invoice(no))["status"] == "issued":
            break
        await asyncio.sleep(0.05)
    assert (await scene.invoice(no))["status"] == "issued"
    async with scene.client.session.get(f"{scene.sandbox}/sandbox/wechatpay/notifications") as got:
        sent = [n for n in await got.json() if n["event_type"] == "FAPIAO.ISSUED"]
    assert [n["deliveries"] for n in sent] == [[204]]
    forged = await scene.client.post("/mp/wechatpay/fapiao-notify", data=b"{}")
    assert forged.status == 401


class Catcher:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(bytes(envelope.content))
        return "250 OK"


async def test_the_file_is_sent_again_by_email(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    catcher, port = Catcher(), unused_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        scene = await make_scene(
            settings, clock, sandbox_keys, aiohttp_client, smtp_host="127.0.0.1", smtp_port=port
        )
        out_trade_no, _ = await scene.paid_stay()
        asked = await scene.ask([out_trade_no], PERSON, "invoice-mail-1")
        no = (await asked.json())["invoice_no"]
        early = await scene.client.post(
            f"/mp/me/invoices/{no}/email", json={}, headers=scene.headers
        )
        assert early.status == 404  # nothing to send before it is issued
        await scene.sweep(1)
        sent = await scene.client.post(
            f"/mp/me/invoices/{no}/email", json={}, headers=scene.headers
        )
        assert sent.status == 200, await sent.text()
        assert (await sent.json())["sent_to"] == PERSON["email"]
        bad = await scene.client.post(
            f"/mp/me/invoices/{no}/email", json={"email": "nobody"}, headers=scene.headers
        )
        assert bad.status == 400
    finally:
        controller.stop()
    [raw] = catcher.messages
    message = BytesParser(policy=default).parsebytes(raw)
    assert message["To"] == PERSON["email"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"{no}.pdf"
    assert attachment.get_content().startswith(b"%PDF-1.4")


async def test_email_without_a_mail_server_answers_503(scene: Scene) -> None:
    out_trade_no, _ = await scene.paid_stay()
    no = (await (await scene.ask([out_trade_no], PERSON, "invoice-mail-2")).json())["invoice_no"]
    await scene.sweep(1)
    sent = await scene.client.post(f"/mp/me/invoices/{no}/email", json={}, headers=scene.headers)
    assert (sent.status, (await sent.json())["code"]) == (503, "mail_not_configured")


async def test_wechat_title_picker_gives_the_buyer(scene: Scene) -> None:
    await lots_kind(scene)
    out_trade_no, paid = await scene.paid_stay()
    page = await scene.client.post(
        "/mp/me/invoices/title-url", json={"out_trade_nos": [out_trade_no]}, headers=scene.headers
    )
    assert page.status == 200, await page.text()
    picker = await page.json()
    apply_id = picker["fapiao_apply_id"]
    assert apply_id in picker["miniprogram_path"]
    body = {
        "out_trade_nos": [out_trade_no],
        "wechat_title_apply_id": apply_id,
        "idempotency_key": "invoice-picker-1",
    }
    early = await scene.client.post("/mp/me/invoices", json=body, headers=scene.headers)
    assert (early.status, (await early.json())["code"]) == (409, "title_not_chosen")
    chosen = {"fapiao_apply_id": apply_id, "type": "ORGANIZATION", **TENCENT}
    chosen["taxpayer_id"] = chosen.pop("tax_id")
    del chosen["kind"]
    async with scene.client.session.post(
        f"{scene.sandbox}/sandbox/wechatpay/fapiao/user-title", json=chosen
    ) as response:
        assert response.status == 200
    asked = await scene.client.post("/mp/me/invoices", json=body, headers=scene.headers)
    assert asked.status == 200, await asked.text()
    invoice = await asked.json()
    assert (invoice["invoice_no"], invoice["title_name"], invoice["tax_id"]) == (
        apply_id,
        TENCENT["name"],
        TENCENT["tax_id"],
    )
    await scene.sweep()
    issued = await scene.invoice(apply_id)
    assert (issued["status"], issued["amount_fen"]) == ("issued", paid)


async def test_fiscal_receipts_have_no_wechat_title_picker(scene: Scene) -> None:
    out_trade_no, _ = await scene.paid_stay()
    page = await scene.client.post(
        "/mp/me/invoices/title-url", json={"out_trade_nos": [out_trade_no]}, headers=scene.headers
    )
    assert page.status == 400
    both = {"out_trade_nos": [out_trade_no], "idempotency_key": "invoice-neither-1"}
    neither = await scene.client.post("/mp/me/invoices", json=both, headers=scene.headers)
    assert (neither.status, (await neither.json())["code"]) == (400, "invalid_request")


async def test_titles_are_saved_once_listed_and_removed(scene: Scene) -> None:
    saved = await scene.client.post("/mp/me/invoice-titles", json=TENCENT, headers=scene.headers)
    assert saved.status == 200, await saved.text()
    title_id = (await saved.json())["id"]
    again = await scene.client.post("/mp/me/invoice-titles", json=TENCENT, headers=scene.headers)
    assert (await again.json())["id"] == title_id
    out_trade_no, _ = await scene.paid_stay()
    body = {
        "out_trade_nos": [out_trade_no],
        "title": PERSON,
        "save_title": True,
        "idempotency_key": "invoice-save-1",
    }
    assert (
        await scene.client.post("/mp/me/invoices", json=body, headers=scene.headers)
    ).status == 200
    listed = await (await scene.client.get("/mp/me/invoice-titles", headers=scene.headers)).json()
    assert [t["name"] for t in listed["titles"]] == [TENCENT["name"], PERSON["name"]]
    gone = await scene.client.delete(f"/mp/me/invoice-titles/{title_id}", headers=scene.headers)
    assert (await gone.json())["removed"] is True
    twice = await scene.client.delete(f"/mp/me/invoice-titles/{title_id}", headers=scene.headers)
    assert twice.status == 404
    wrong = dict(TENCENT, tax_id="914403007152672600")
    refused = await scene.client.post("/mp/me/invoice-titles", json=wrong, headers=scene.headers)
    assert (refused.status, (await refused.json())["code"]) == (400, "invalid_tax_id")
