"""The fapiao adapter against the WeChat Pay sandbox (signed both ways, partner mode), and a
production-like app with no fiscal platform answering 503 without writing anything."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from adapters.wechatpay_fapiao import WeChatPayFapiao, application_body
from core.clock import FrozenClock
from core.invoice_provider import ProviderState
from core.invoices import BuyerTitle, Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, TitleKind
from core.payment_gateway import GatewayRejectedError
from core.store.database import Database
from core.store.invoices import InvoiceRow
from core.store.unit_of_work import UnitOfWork
from tests.wechat_sandbox import (
    closed_stay,
    confirm,
    log_in,
    make_paying_client,
    paying_client,
    sandbox_keys,
    services,
    start_payment,
    wechat_sandbox,
)

__all__ = ["make_paying_client", "paying_client", "sandbox_keys", "wechat_sandbox"]

Client = TestClient[Any, Any]
SUB_MCHID = "1900000101"


def invoice(clock: FrozenClock, kind: InvoiceKind = InvoiceKind.DIGITAL_VAT) -> Invoice:
    return Invoice(
        invoice_no="IV202612030800000000000001",
        driver_id=1,
        sub_mchid=SUB_MCHID,
        operator_code="OP-CITY",
        kind=kind,
        title=BuyerTitle(TitleKind.COMPANY, "深圳市腾讯计算机系统有限公司", "9144030071526726XG"),
        lines=(InvoiceLine("PK-1", 800), InvoiceLine("PK-2", 450)),
        status=InvoiceStatus.ISSUING,
        created_at=clock.now(),
    )


def test_the_application_carries_the_sub_merchant_and_prepaid_is_not_taxed(
    clock: FrozenClock,
) -> None:
    body = application_body(invoice(clock))
    assert (
        body["sub_mchid"] == SUB_MCHID
        and body["fapiao_apply_id"] == body["fapiao_information"][0]["fapiao_id"]
    )
    [info] = body["fapiao_information"]
    assert info["total_amount"] == 1250 == sum(i["total_amount"] for i in info["items"])
    assert body["buyer_information"] == {
        "type": "ORGANIZATION",
        "name": "深圳市腾讯计算机系统有限公司",
        "taxpayer_id": "9144030071526726XG",
    }
    [item, _] = application_body(invoice(clock, InvoiceKind.PREPAID))["fapiao_information"][0][
        "items"
    ]
    assert (item["tax_code"], item["tax_prefer_mark"]) == ("6010000000000000000", "OUTSIDE_VAT")


def _pdf_is_well_formed(pdf: bytes) -> None:
    """Every cross-reference offset points at its object, and startxref at the table."""
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", pdf)]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj" % number)
    start = int(re.findall(rb"startxref\n(\d+)", pdf)[-1])
    assert pdf[start:].startswith(b"xref")


async def test_fapiao_through_the_library_signed_path(
    paying_client: Client, wechat_sandbox: TestServer, clock: FrozenClock
) -> None:
    gateway = services(paying_client).gateway
    # wechatpayv3's own helper has no sub_mchid: in partner mode WeChat Pay refuses it.
    with pytest.raises(GatewayRejectedError) as refused:
        await gateway.call(
            "fapiao_applications",
            fapiao_apply_id="IV-LIBRARY-HELPER-0001",
            buyer_information={"type": "INDIVIDUAL", "name": "李雷"},
            fapiao_information=[
                {"fapiao_id": "IV-LIBRARY-HELPER-0001", "total_amount": 1, "items": []}
            ],
        )
    assert refused.value.provider_code == "PARAM_ERROR"
    fapiao = WeChatPayFapiao(gateway)
    issued = invoice(clock)
    assert (await fapiao.issue(issued, "o-payer")).state is ProviderState.ISSUING
    assert (await fapiao.issue(issued, "o-payer")).state is ProviderState.ISSUING  # idempotent
    report = await fapiao.query(issued)
    assert report.state is ProviderState.ISSUED and report.document is not None
    assert len(report.document.number) == 20
    pdf = await fapiao.download(issued)
    assert pdf.startswith(b"%PDF-1.4") and b"12.50 CNY" in pdf
    _pdf_is_well_formed(pdf)
    done = Invoice(**{**_fields(issued), "document_number": report.document.number})
    # The sandbox accepts the reversal and has the red fapiao by the query reverse() makes.
    assert (await fapiao.reverse(done, "退款")).state is ProviderState.REVERSED
    assert (await fapiao.reverse(done, "退款")).state is ProviderState.REVERSED  # idempotent
    assert (await fapiao.query(done)).state is ProviderState.REVERSED


def _fields(found: Invoice) -> dict[str, Any]:
    return {name: getattr(found, name) for name in Invoice.__slots__}


async def test_production_without_a_fiscal_platform_answers_503_and_writes_nothing(
    paying_client: Client, wechat_sandbox: TestServer, database: Database, clock: FrozenClock
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    stay_ref = await closed_stay(database, clock)
    started = await start_payment(paying_client, driver, stay_ref)
    await confirm(paying_client, wechat_sandbox, started, driver)
    body = {
        "out_trade_nos": [started["payment"]["out_trade_no"]],
        "title": {"kind": "personal", "name": "李雷"},
        "idempotency_key": "invoice-prod-1",
    }
    answer = await paying_client.post("/mp/me/invoices", json=body, headers=driver.headers)
    assert answer.status == 503
    assert (await answer.json())["code"] == "invoicing_not_configured"
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.session.scalar(select(func.count()).select_from(InvoiceRow)) == 0
