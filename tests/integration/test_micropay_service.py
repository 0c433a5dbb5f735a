"""The cashier's payment-code use case on both databases, with fake providers behind the ports."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core.cashier import MicropayOrder, MicropayResult
from core.clock import FrozenClock
from core.drivers import DriverMessage
from core.payment_gateway import (
    GatewayError,
    JsapiOrder,
    Notice,
    ProviderRefundStatus,
    RefundOrder,
    RefundReport,
    RequestPayment,
    TradeState,
    TransactionReport,
)
from core.payments import PaymentStatus
from core.services import cashier, micropay
from core.services.micropay import MicropayPorts
from core.services.payment_sweep import sweep
from core.services.payments import PaymentSetup
from core.staff import Role, StaffIdentity
from core.store.unit_of_work import UnitOfWork
from tests.integration.test_lanes import read

Client = TestClient[Any, Any]
Uows = Callable[[], UnitOfWork]
PAYS = "134567890123456789"
PAYS_TOO = "130000000000000002"
NOT_ENOUGH = "133300000000000001"


class FakeMicropay:
    """Pays every code but those whose 3rd-4th digits are 33; `down` makes every call fail."""

    def __init__(self) -> None:
        self.orders: list[MicropayOrder] = []
        self.down = False
        # With a gate, each call waits for it; `sent` is set once `hold` calls are waiting.
        self.gate: asyncio.Event | None = None
        self.hold = 0
        self.sent = asyncio.Event()

    async def micropay(self, order: MicropayOrder) -> MicropayResult:
        self.orders.append(order)
        if self.gate is not None:
            if len(self.orders) >= self.hold:
                self.sent.set()
            await self.gate.wait()
        if self.down:
            raise GatewayError(detail="no answer from WeChat Pay")
        if order.auth_code[2:4] == "33":
            return MicropayResult(False, "NOTENOUGH")
        return MicropayResult(True, "SUCCESS", "4200" + order.out_trade_no[-16:])


class FakeRefunds:
    """The query and refund half of a provider: queries answer `reports`; refunds processing."""

    def __init__(self) -> None:
        self.refunds: list[RefundOrder] = []
        self.reports: dict[str, TransactionReport] = {}  # what a query answers, by order

    async def create_jsapi(self, order: JsapiOrder) -> str:
        raise NotImplementedError

    def request_payment(self, appid: str, prepay_id: str, now: datetime) -> RequestPayment:
        raise NotImplementedError

    async def query(self, out_trade_no: str, sub_mchid: str) -> TransactionReport:
        return self.reports[out_trade_no]

    async def close(self, out_trade_no: str, sub_mchid: str) -> None:
        raise NotImplementedError

    async def refund(self, order: RefundOrder) -> RefundReport:
        self.refunds.append(order)
        return RefundReport(
            order.out_refund_no,
            order.out_trade_no,
            order.sub_mchid,
            f"50{len(self.refunds):027d}",
            ProviderRefundStatus.PROCESSING,
            order.refund_fen,
        )

    async def parse_notice(self, headers: Mapping[str, str], body: bytes) -> Notice | None:
        raise NotImplementedError


async def cashier_on_shift(uows: Uows, clock: FrozenClock) -> StaffIdentity:
    """demo-cashier, with a shift open at LOT-HOSP's exit X1."""
    async with uows() as uow:
        row = await uow.staff.by_username("demo-cashier")
        assert row is not None
        staff = StaffIdentity(
            row.id, row.username, Role(row.role), await uow.staff.scopes_of(row.id)
        )
    async with uows() as uow:
        await cashier.open_shift(uow, clock, staff, "LOT-HOSP", "X1", 0)
    return staff


async def stay_at_exit(client: Client, clock: FrozenClock, plate: str) -> str:
    """A LOT-HOSP stay of an hour (300 fen), its car waiting at X1."""
    await read(client, clock, "LOT-HOSP", "E1", plate)
    out = await read(client, clock, "LOT-HOSP", "X1", plate, after=timedelta(hours=1))
    assert out["fee_fen"] == 300
    return str(out["stay_ref"])


def ports(gateway: FakeMicropay, refunds: FakeRefunds) -> MicropayPorts:
    return MicropayPorts(gateway, refunds, "wx5a0db0c0e0f1a2b3", "http://127.0.0.1/notify")


async def test_a_code_pays_the_stay_once_and_the_same_code_again_charges_nothing(
    client: Client, clock: FrozenClock, uow_factory: Uows
) -> None:
    stay_ref = await stay_at_exit(client, clock, "浙B12345")
    staff = await cashier_on_shift(uow_factory, clock)
    gateway, refunds = FakeMicropay(), FakeRefunds()
    taken = await micropay.take_micropay(
        uow_factory, clock, ports(gateway, refunds), staff, stay_ref, PAYS
    )
    assert (taken.amount_fen, taken.commands[0].kind.value) == (300, "open_gate")
    [order] = gateway.orders
    assert (order.out_trade_no, order.sub_mchid, order.amount_fen, order.device_id) == (
        taken.receipt_no,
        "1900000101",
        300,
        "LOT-HOSP-X1",
    )
    again = await micropay.take_micropay(
        uow_factory, clock, ports(gateway, refunds), staff, stay_ref, PAYS
    )
    assert (again.receipt_no, again.amount_fen, len(gateway.orders)) == (taken.receipt_no, 300, 1)
    with pytest.raises(cashier.NothingDueError):
        await micropay.take_micropay(
            uow_factory, clock, ports(gateway, refunds), staff, stay_ref, PAYS_TOO
        )
    assert len(gateway.orders) == 1 and refunds.refunds == []
    async with uow_factory() as uow:
        payment = await uow.payments.get(taken.receipt_no)
        assert payment is not None and payment.status is PaymentStatus.PAID
        assert (await uow.payments.settled_for_stay(stay_ref)) == payment
        assert await uow.ledger.balance_fen("driver_receivable:浙B12345") == 0
        assert await uow.ledger.balance_fen("wechat_clearing:1900000101") == 300
        shift = await uow.lots.open_shift(staff.id)
        assert shift is not None
        [taking] = await uow.lots.takings(shift.id)
        assert (taking.channel, taking.amount_fen, taking.provider_ref) == (
            "micropay",
            300,
            payment.transaction_id,
        )


async def test_a_declined_code_moves_no_money_and_is_not_charged_again(
    client: Client, clock: FrozenClock, uow_factory: Uows
) -> None:
    stay_ref = await stay_at_exit(client, clock, "浙B12345")
    staff = await cashier_on_shift(uow_factory, clock)
    gateway, refunds = FakeMicropay(), FakeRefunds()
    with pytest.raises(micropay.MicropayFailedError) as declined:
        await micropay.take_micropay(
            uow_factory, clock, ports(gateway, refunds), staff, stay_ref, NOT_ENOUGH
        )
    assert "余额不足" in declined.value.message_zh
    with pytest.raises(micropay.MicropayFailedError):
        await micropay.take_micropay(
            uow_factory, clock, ports(gateway, refunds), staff, stay_ref, NOT_ENOUGH
        )
    assert len(gateway.orders) == 1  # a dead code is not sent to WeChat Pay again
    async with uow_factory() as uow:
        failed = await uow.payments.get(gateway.orders[0].out_trade_no)
        assert failed is not None and failed.status is PaymentStatus.FAILED
        assert await uow.ledger.balance_fen("driver_receivable:浙B12345") == 300
        assert await uow.ledger.balance_fen("wechat_clearing:1900000101") == 0
    taken = await micropay.take_micropay(
        uow_factory, clock, ports(gateway, refunds), staff, stay_ref, PAYS
    )
    assert taken.amount_fen == 300


async def test_an_unconfirmed_charge_is_tried_again_as_the_same_order(
    client: Client, clock: FrozenClock, uow_factory: Uows
) -> None:
    stay_ref = await stay_at_exit(client, clock, "浙B12345")
    staff = await cashier_on_shift(uow_factory, clock)
    gateway, refunds = FakeMicropay(), FakeRefunds()
    gateway.down = True
    with pytest.raises(micropay.MicropayUnconfirmedError):
        await micropay.take_micropay(
            uow_factory, clock, ports(gateway, refunds), staff, stay_ref, PAYS
        )
    async with uow_factory() as uow:
        kept = await uow.payments.get(gateway.orders[0].out_trade_no)
        assert kept is not None and kept.status is PaymentStatus.CREATED
        assert await uow.ledger.balance_fen("driver_receivable:浙B12345") == 300
    gateway.down = False
    taken = await micropay.take_micropay(
        uow_factory, clock, ports(gateway, refunds), staff, stay_ref, PAYS
    )
    assert [o.out_trade_no for o in gateway.orders] == [taken.receipt_no] * 2


async def test_a_code_of_another_stay_is_refused_before_wechat_pay_is_asked(
    client: Client, clock: FrozenClock, uow_factory: Uows
) -> None:
    first = await stay_at_exit(client, clock, "浙B12345")
    second = await stay_at_exit(client, clock, "浙B22222")
    staff = await cashier_on_shift(uow_factory, clock)
    gateway, refunds = FakeMicropay(), FakeRefunds()
    await micropay.take_micropay(uow_factory, clock, ports(gateway, refunds), staff, first, PAYS)
    with pytest.raises(micropay.AuthCodeUsedError):
        await micropay.take_micropay(
            uow_factory, clock, ports(gateway, refunds), staff, second, PAYS
        )
    assert len(gateway.orders) == 1
    with pytest.raises(Exception) as unconfigured:
        await micropay.take_micropay(uow_factory, clock, None, staff, second, PAYS_TOO)
    assert getattr(unconfigured.value, "code", "") == "payments_not_configured"


async def test_two_codes_charged_at_once_pay_the_stay_once_and_refund_the_other(
    client: Client, clock: FrozenClock, uow_factory: Uows
) -> None:
    stay_ref = await stay_at_exit(client, clock, "浙B12345")
    staff = await cashier_on_shift(uow_factory, clock)
    gateway, refunds = FakeMicropay(), FakeRefunds()
    gateway.gate, gateway.hold = asyncio.Event(), 2
    tasks = [
        asyncio.create_task(
            micropay.take_micropay(uow_factory, clock, ports(gateway, refunds), staff, stay_ref, c)
        )
        for c in (PAYS, PAYS_TOO)
    ]
    await asyncio.wait_for(gateway.sent.wait(), 30)  # both recorded and sent, none answered
    gateway.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    [refused] = [r for r in results if isinstance(r, micropay.MicropayRefundedError)]
    [taken] = [r for r in results if isinstance(r, cashier.TakingResult)]
    [refund] = refunds.refunds
    assert refund.refund_fen == refund.total_fen == 300
    assert refund.out_trade_no != taken.receipt_no and "原路退回" in refused.message_zh
    # The refunded code sent again is told again, and charged nothing.
    [refunded_code] = [o.auth_code for o in gateway.orders if o.out_trade_no == refund.out_trade_no]
    with pytest.raises(micropay.MicropayRefundedError):
        await micropay.take_micropay(
            uow_factory, clock, ports(gateway, refunds), staff, stay_ref, refunded_code
        )
    assert len(gateway.orders) == 2 and len(refunds.refunds) == 1
    async with uow_factory() as uow:
        holder = await uow.payments.settled_for_stay(stay_ref)
        assert holder is not None and holder.out_trade_no == taken.receipt_no
        assert await uow.ledger.balance_fen("wechat_clearing:1900000101") == 600
        shift = await uow.lots.open_shift(staff.id)
        assert shift is not None and len(await uow.lots.takings(shift.id)) == 1


class Unreachable:
    """No driver is told anything in these tests."""

    async def notify(self, message: DriverMessage) -> bool:
        return False


async def test_the_sweep_settles_an_unconfirmed_code_found_paid_and_never_closes_one(
    client: Client, clock: FrozenClock, uow_factory: Uows
) -> None:
    paid_ref = await stay_at_exit(client, clock, "浙B12345")
    open_ref = await stay_at_exit(client, clock, "浙B22222")
    staff = await cashier_on_shift(uow_factory, clock)
    gateway, refunds = FakeMicropay(), FakeRefunds()
    gateway.down = True
    for stay_ref, code in ((paid_ref, PAYS), (open_ref, PAYS_TOO)):
        with pytest.raises(micropay.MicropayUnconfirmedError):
            await micropay.take_micropay(
                uow_factory, clock, ports(gateway, refunds), staff, stay_ref, code
            )
    paid_no, open_no = (o.out_trade_no for o in gateway.orders)
    refunds.reports = {
        paid_no: TransactionReport(
            paid_no, "1900000101", TradeState.SUCCESS, 300, "4200000000009", clock.now()
        ),
        open_no: TransactionReport(open_no, "1900000101", TradeState.USERPAYING, 300),
    }
    clock.advance(timedelta(minutes=40))
    setup = PaymentSetup("wx5a0db0c0e0f1a2b3", "http://127.0.0.1/n", "http://127.0.0.1/n")
    await sweep(uow_factory, clock, refunds, Unreachable(), setup)  # closing would raise
    async with uow_factory() as uow:
        settled = await uow.payments.get(paid_no)
        still_open = await uow.payments.get(open_no)
        assert settled is not None and settled.status is PaymentStatus.PAID
        assert still_open is not None and still_open.status is PaymentStatus.CREATED
        assert await uow.payments.settled_for_stay(paid_ref) == settled
        assert await uow.ledger.balance_fen("driver_receivable:浙B12345") == 0
        assert await uow.ledger.balance_fen("driver_receivable:浙B22222") == 300
