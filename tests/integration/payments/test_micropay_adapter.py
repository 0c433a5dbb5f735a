"""The codepay adapter against the sandbox over localhost HTTP, one sandbox code per outcome."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adapters.wechatpay import WeChatPayConfig, WeChatPayGateway
from adapters.wechatpay_micropay import MicropayTiming, WeChatPayMicropay
from core.cashier import MicropayOrder
from core.clock import FrozenClock
from core.payment_gateway import GatewayError, GatewayRejectedError, TradeState
from sandbox.wechatpay.keys import SandboxKeys
from sandbox.wechatpay.orders import Order
from sandbox.wechatpay.state import SANDBOX_KEY, PaySandbox
from tests.wechat_sandbox import APPID, SP_MCHID, sandbox_url

SUB_MCHID = "1900000101"


class Naps:
    """An injected sleep: records how long the adapter would have waited."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


@pytest.fixture
async def gateway(
    wechat_sandbox: TestServer, sandbox_keys: tuple[SandboxKeys, Path], clock: FrozenClock
) -> AsyncIterator[WeChatPayGateway]:
    keys, _ = sandbox_keys
    config = WeChatPayConfig(
        sp_mchid=SP_MCHID,
        sp_appid=APPID,
        private_key_pem=keys.merchant_private_key_pem,
        cert_serial_no=keys.merchant_serial_no,
        api_v3_key=keys.api_v3_key,
        base_url=sandbox_url(wechat_sandbox),
    )
    built = WeChatPayGateway(config, clock)
    yield built
    await built.aclose()


def books(server: TestServer) -> PaySandbox:
    return server.app[SANDBOX_KEY]


def order_of(auth_code: str, amount_fen: int = 600) -> MicropayOrder:
    no = "R" + uuid.uuid4().hex[:20].upper()
    return MicropayOrder(no, SUB_MCHID, auth_code, amount_fen, "停车费", "LOT-HOSP-X1")


def sandbox_order(server: TestServer, out_trade_no: str) -> Order:
    return books(server).books.orders[out_trade_no]


async def test_a_code_that_pays_at_once_sends_the_documented_partner_request(
    gateway: WeChatPayGateway, wechat_sandbox: TestServer
) -> None:
    naps = Naps()
    order = order_of("130000000000000001")
    result = await WeChatPayMicropay(gateway, sleep=naps).micropay(order)
    assert result.paid and result.state == "SUCCESS" and naps.taken == []
    kept = sandbox_order(wechat_sandbox, order.out_trade_no)
    assert (kept.trade_state, kept.transaction_id, kept.trade_type) == (
        "SUCCESS",
        result.transaction_id,
        "MICROPAY",
    )
    # The body of POST /v3/pay/partner/transactions/codepay, field for field as Tencent's
    # partner codepay page lists them: the money goes to the sub-merchant named in it.
    assert kept.request == {
        "sp_appid": APPID,
        "sp_mchid": SP_MCHID,
        "sub_mchid": SUB_MCHID,
        "description": "停车费",
        "out_trade_no": order.out_trade_no,
        "payer": {"auth_code": "130000000000000001"},
        "amount": {"total": 600, "currency": "CNY"},
        "scene_info": {"device_id": "LOT-HOSP-X1"},
    }
    report = await gateway.query(order.out_trade_no, SUB_MCHID)
    assert (report.trade_state, report.amount_fen) == (TradeState.SUCCESS, 600)
    with pytest.raises(GatewayRejectedError):  # partner mode: another sub-merchant sees nothing
        await gateway.query(order.out_trade_no, "1900000199")


async def test_the_same_order_sent_again_is_not_charged_twice(
    gateway: WeChatPayGateway, wechat_sandbox: TestServer
) -> None:
    adapter = WeChatPayMicropay(gateway, sleep=Naps())
    order = order_of("130000000000000002")
    first = await adapter.micropay(order)
    again = await adapter.micropay(order)
    assert first == again and first.paid
    charged = [o for o in books(wechat_sandbox).books.orders.values() if o.trade_state == "SUCCESS"]
    assert [o.out_trade_no for o in charged] == [order.out_trade_no]
    # The code is used: another order with it is refused, and that refusal is reversed safely.
    other = await adapter.micropay(order_of("130000000000000002"))
    assert (other.paid, other.state) == (False, "AUTHCODEEXPIRE")


async def test_a_password_is_waited_for_with_a_query_every_five_seconds(
    gateway: WeChatPayGateway, wechat_sandbox: TestServer
) -> None:
    naps = Naps()
    order = order_of("131100000000000001")
    result = await WeChatPayMicropay(gateway, sleep=naps).micropay(order)
    assert result.paid and naps.taken == [5.0, 5.0]
    assert sandbox_order(wechat_sandbox, order.out_trade_no).trade_state == "SUCCESS"


async def test_a_driver_who_never_confirms_is_reversed_after_thirty_seconds(
    gateway: WeChatPayGateway, wechat_sandbox: TestServer
) -> None:
    naps = Naps()
    order = order_of("132200000000000001")
    result = await WeChatPayMicropay(gateway, sleep=naps).micropay(order)
    assert (result.paid, result.state, result.transaction_id) == (False, "REVOKED", None)
    assert naps.taken == [5.0] * 6
    assert sandbox_order(wechat_sandbox, order.out_trade_no).trade_state == "REVOKED"


@pytest.mark.parametrize(
    ("auth_code", "state"),
    [("133300000000000001", "NOTENOUGH"), ("134400000000000001", "PAYERROR")],
)
async def test_a_refused_payment_is_reported_and_its_order_reversed(
    gateway: WeChatPayGateway, wechat_sandbox: TestServer, auth_code: str, state: str
) -> None:
    order = order_of(auth_code)
    result = await WeChatPayMicropay(gateway, sleep=Naps()).micropay(order)
    assert (result.paid, result.state) == (False, state)
    assert sandbox_order(wechat_sandbox, order.out_trade_no).trade_state == "REVOKED"


async def test_a_system_error_is_resolved_by_query_not_by_charging_again(
    gateway: WeChatPayGateway, wechat_sandbox: TestServer
) -> None:
    naps = Naps()
    order = order_of("135500000000000001")
    result = await WeChatPayMicropay(gateway, sleep=naps).micropay(order)
    assert result.paid and naps.taken == [5.0]
    assert len(books(wechat_sandbox).codes.used) == 1


async def test_a_code_wechat_pay_would_not_accept_is_refused(
    gateway: WeChatPayGateway, wechat_sandbox: TestServer
) -> None:
    result = await WeChatPayMicropay(gateway, sleep=Naps()).micropay(order_of("280000000000000001"))
    assert (result.paid, result.state) == (False, "AUTH_CODE_INVALID")
    assert books(wechat_sandbox).books.orders == {}


async def test_answers_not_signed_by_wechat_pay_are_never_taken_for_paid(
    gateway: WeChatPayGateway, wechat_sandbox: TestServer
) -> None:
    naps = Naps()
    order = order_of("136600000000000001")
    with pytest.raises(GatewayError):
        await WeChatPayMicropay(gateway, MicropayTiming(5, 10), naps).micropay(order)
    # Two queries, then three reverse attempts; the reverse did reach WeChat Pay.
    assert naps.taken == [5.0] * 4
    assert sandbox_order(wechat_sandbox, order.out_trade_no).trade_state == "REVOKED"


async def test_the_sandbox_refuses_a_codepay_request_not_signed_by_the_merchant(
    wechat_sandbox: TestServer,
) -> None:
    body: dict[str, Any] = {"sp_mchid": SP_MCHID, "out_trade_no": "R000000000001"}
    async with aiohttp.ClientSession() as session:
        url = f"{sandbox_url(wechat_sandbox)}/v3/pay/partner/transactions/codepay"
        headers = {"Authorization": f'WECHATPAY2-SHA256-RSA2048 mchid="{SP_MCHID}"'}
        async with session.post(url, json=body, headers=headers) as response:
            assert response.status == 401
            assert (await response.json())["code"] == "SIGN_ERROR"
    assert books(wechat_sandbox).books.orders == {}
