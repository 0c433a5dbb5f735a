"""A seeded simulated week of the demo city with money through every channel (for reports).

Rows are written as the services write them (stays, payments, refunds, shifts, orders,
invoices, device events) and every money event posts the ledger entry its service posts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import count

from sqlalchemy import select

from core import ledger
from core.billing import SHANGHAI
from core.store.activity import DeviceEventRow, StayRow
from core.store.city import BerthRow, DeviceRow, LotRow, OperatorRow, ZoneRow
from core.store.invoices import InvoiceRow
from core.store.lots import CashierShiftRow, ShiftTakingRow
from core.store.pass_sales import PassProductRow, RightOrderRow
from core.store.payments import PaymentRow, RefundRow
from core.store.people import DriverRow, StaffRow
from core.store.unit_of_work import UnitOfWork
from sandbox.traffic import random_plate

FIRST = date(2026, 11, 16)
DAYS = 7
LAST = FIRST + timedelta(days=DAYS - 1)
HEARD_HOURS = 20  # the heartbeating sensors are heard in hours 0-19 of each day


@dataclass
class Expected:
    """What the seeding itself counted, to check reports against besides the ledger."""

    arrivals: int = 0
    unpaid_street_fen: int = 0
    shifts: int = 0
    expected_cash_fen: int = 0
    counted_cash_fen: int = 0
    invoiced_fen: int = 0
    heartbeating: list[str] = field(default_factory=list)
    pass_kept_fen: int = 0


class _Seeder:
    def __init__(self, uow: UnitOfWork, seed: int) -> None:
        self.uow = uow
        self.rng = random.Random(seed)
        self.numbers = count(1)
        self.expected = Expected()

    def no(self, prefix: str) -> str:
        return f"{prefix}{next(self.numbers):08d}"

    async def post(self, entry: ledger.JournalEntry, at: datetime) -> None:
        await self.uow.ledger.post(entry, at)

    async def payment(
        self, channel: str, op: OperatorRow, plate: str, fen: int, at: datetime, **extra: object
    ) -> PaymentRow:
        row = PaymentRow(
            out_trade_no=self.no("PK"),
            channel=channel,
            plate=plate,
            operator_code=op.code,
            sub_mchid=op.sub_mchid,
            appid="wx-demo",
            payer_openid="o-demo",
            amount_fen=fen,
            status="paid",
            created_at=at,
            paid_at=at,
            transaction_id=self.no("42"),
            refunded_fen=0,
            version=1,
            **extra,
        )
        self.uow.session.add(row)
        await self.uow.session.flush()  # orders and refunds name it by foreign key
        return row

    async def refund(self, payment: PaymentRow, fen: int, at: datetime, kind: str) -> None:
        refund = RefundRow(
            out_refund_no=self.no("RF"),
            out_trade_no=payment.out_trade_no,
            amount_fen=fen,
            reason="测试退款",
            requested_by="demo-finance",
            status="success",
            refund_id=self.no("50"),
            created_at=at,
            succeeded_at=at,
            version=1,
        )
        payment.refunded_fen += fen
        payment.status = (
            "partially_refunded" if payment.refunded_fen < payment.amount_fen else "refunded"
        )
        self.uow.session.add(refund)
        if kind == "stay":
            entry = ledger.payment_refunded(
                refund.out_refund_no, payment.plate, payment.sub_mchid, fen
            )
        elif kind == "pass":
            entry = ledger.pass_refunded(
                refund.out_refund_no, payment.sub_mchid, payment.operator_code, fen
            )
        else:
            entry = ledger.stored_value_refunded(
                refund.out_refund_no, payment.sub_mchid, "SV-1", fen
            )
        await self.post(entry, at)


async def seed_week(uow: UnitOfWork, seed: int = 21) -> Expected:
    """Seven days of stays, payments of every channel, refunds, waivers, shifts and sales."""
    s = _Seeder(uow, seed)
    operators = {o.id: o for o in await uow.session.scalars(select(OperatorRow))}
    berths = list(
        await uow.session.scalars(
            select(BerthRow).where(BerthRow.zone_id.is_not(None)).order_by(BerthRow.id).limit(12)
        )
    )
    zones = {z.id: z for z in await uow.session.scalars(select(ZoneRow))}
    hospital = (await uow.session.scalars(select(LotRow).where(LotRow.code == "LOT-HOSP"))).one()
    product = (
        await uow.session.scalars(
            select(PassProductRow).where(PassProductRow.lot_id == hospital.id)
        )
    ).first()
    assert product is not None, "the demo hospital lot sells a pass"
    cashier = (
        await uow.session.scalars(select(StaffRow).where(StaffRow.username == "demo-cashier"))
    ).one()
    driver = DriverRow(created_at=datetime(2026, 11, 1, tzinfo=SHANGHAI))
    uow.session.add(driver)
    await uow.session.flush()
    for n in range(DAYS):
        day = FIRST + timedelta(days=n)
        for berth in berths:
            await _street_day(s, berth, operators[zones[berth.zone_id or 0].operator_id], day)
        await _lot_day(s, hospital, operators[hospital.operator_id], cashier, day)
        await _sales_day(s, hospital, operators[hospital.operator_id], product, driver, day, n)
        await uow.session.flush()
    await _heartbeats(s, berths[:4])
    return s.expected


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


async def _stay(s: _Seeder, op: OperatorRow, day: date, **place: object) -> tuple[StayRow, int]:
    entered = _at(day, s.rng.randint(6, 19), s.rng.randint(0, 59))
    exited = entered + timedelta(minutes=s.rng.randint(20, 240))
    fee = s.rng.randint(2, 15) * 100
    stay = StayRow(
        ref=s.no("ST"),
        plate=random_plate(s.rng),
        operator_id=op.id,
        status="closed",
        entered_at=entered,
        exited_at=exited,
        fee_fen=fee,
        vehicle_class="small",
        **place,
    )
    s.uow.session.add(stay)
    s.expected.arrivals += 1
    await s.post(ledger.stay_charged(stay.ref, stay.plate or "", op.code, fee), exited)
    return stay, fee


async def _street_day(s: _Seeder, berth: BerthRow, op: OperatorRow, day: date) -> None:
    for _ in range(3):
        stay, fee = await _stay(s, op, day, zone_id=berth.zone_id, berth_id=berth.id)
        assert stay.exited_at is not None and stay.plate is not None
        roll = s.rng.random()
        if roll < 0.55:
            channel = "wechat_parking" if roll < 0.15 else "wechat_jsapi"
            paid = await s.payment(channel, op, stay.plate, fee, stay.exited_at, stay_ref=stay.ref)
            await s.post(
                ledger.payment_settled(paid.out_trade_no, stay.plate, op.sub_mchid, fee),
                stay.exited_at,
            )
            if s.rng.random() < 0.15:  # the fee was too high: refunded and the charge lowered
                back = stay.exited_at + timedelta(hours=2)
                await s.refund(paid, 100, back, "stay")
                stay.fee_fen = fee - 100
                await s.post(ledger.stay_charge_reversed(stay.ref, stay.plate, op.code, 100), back)
        elif roll < 0.7:
            later = stay.exited_at + timedelta(days=1, hours=1)  # 先离后缴: paid the next day
            paid = await s.payment("wechat_jsapi", op, stay.plate, fee, later, stay_ref=stay.ref)
            await s.post(
                ledger.payment_settled(paid.out_trade_no, stay.plate, op.sub_mchid, fee), later
            )
            if later.date() > LAST:
                s.expected.unpaid_street_fen += fee  # still unpaid when the week ended
        elif roll < 0.8:
            await s.post(ledger.fee_waived(stay.ref, stay.plate, op.code, fee), stay.exited_at)
            stay.fee_fen = 0  # a waiver lowers the fee, as the waiver service does
        else:
            s.expected.unpaid_street_fen += fee


async def _lot_day(s: _Seeder, lot: LotRow, op: OperatorRow, cashier: StaffRow, day: date) -> None:
    shift = CashierShiftRow(
        ref=s.no("SH"),
        staff_id=cashier.id,
        lot_id=lot.id,
        status="closed",
        opening_float_fen=10000,
        opened_at=_at(day, 6),
        closed_at=_at(day, 22),
    )
    s.uow.session.add(shift)
    await s.uow.session.flush()
    cash = 0
    for _ in range(8):
        stay, fee = await _stay(s, op, day, lot_id=lot.id)
        assert stay.exited_at is not None and stay.plate is not None
        roll = s.rng.random()
        if roll < 0.5:
            receipt = s.no("RC")
            s.uow.session.add(
                ShiftTakingRow(
                    shift_id=shift.id,
                    stay_ref=stay.ref,
                    channel="cash",
                    amount_fen=fee,
                    receipt_no=receipt,
                    created_at=stay.exited_at,
                )
            )
            await s.post(ledger.cash_received(receipt, shift.ref, stay.plate, fee), stay.exited_at)
            cash += fee
        elif roll < 0.8:
            await s.post(
                ledger.stored_value_spent(stay.ref, "SV-1", stay.plate, fee), stay.exited_at
            )
        else:
            paid = await s.payment(
                "wechat_micropay", op, stay.plate, fee, stay.exited_at, stay_ref=stay.ref
            )
            await s.post(
                ledger.payment_settled(paid.out_trade_no, stay.plate, op.sub_mchid, fee),
                stay.exited_at,
            )
    shortfall = s.rng.choice((0, 0, 100))
    shift.expected_cash_fen = 10000 + cash
    shift.counted_cash_fen = 10000 + cash - shortfall
    shift.difference_fen = -shortfall
    s.expected.shifts += 1
    s.expected.expected_cash_fen += shift.expected_cash_fen
    s.expected.counted_cash_fen += shift.counted_cash_fen


async def _sales_day(
    s: _Seeder,
    lot: LotRow,
    op: OperatorRow,
    product: PassProductRow,
    driver: DriverRow,
    day: date,
    n: int,
) -> None:
    at = _at(day, 12)
    plate = random_plate(s.rng)
    sold = await s.payment(
        "wechat_jsapi", op, plate, product.month_fen, at, purpose="pass", driver_id=driver.id
    )
    s.uow.session.add(
        RightOrderRow(
            out_trade_no=sold.out_trade_no,
            kind="pass",
            driver_id=driver.id,
            lot_id=lot.id,
            plate=plate,
            product_id=product.id,
            months=1,
            amount_fen=product.month_fen,
            created_at=at,
            applied_at=at,
            valid_until_after=at + timedelta(days=30),
        )
    )
    await s.post(ledger.pass_sold(sold.out_trade_no, op.sub_mchid, op.code, product.month_fen), at)
    kept = product.month_fen
    if n == 2:
        await s.refund(sold, 1000, at + timedelta(hours=1), "pass")
        kept -= 1000
    s.expected.pass_kept_fen += kept
    top_up = await s.payment(
        "wechat_jsapi", op, plate, 5000, at, purpose="top_up", driver_id=driver.id
    )
    s.uow.session.add(
        RightOrderRow(
            out_trade_no=top_up.out_trade_no,
            kind="top_up",
            driver_id=driver.id,
            lot_id=lot.id,
            plate=plate,
            amount_fen=5000,
            created_at=at,
            applied_at=at,
        )
    )
    await s.post(ledger.stored_value_topped_up(top_up.out_trade_no, op.sub_mchid, "SV-1", 5000), at)
    if n == 4:
        await s.refund(top_up, 2000, at + timedelta(hours=3), "top_up")
    invoice_at = at + timedelta(hours=2)
    s.uow.session.add(
        InvoiceRow(
            invoice_no=s.no("IV"),
            driver_id=driver.id,
            sub_mchid=op.sub_mchid,
            operator_code=op.code,
            kind="digital_vat",
            title_kind="personal",
            title_name="张三",
            amount_fen=product.month_fen,
            status="issued",
            attempts=1,
            created_at=at,
            issued_at=invoice_at,
        )
    )
    s.expected.invoiced_fen += product.month_fen


async def _heartbeats(s: _Seeder, berths: list[BerthRow]) -> None:
    codes = {
        d.berth_id: d.code
        for d in await s.uow.session.scalars(
            select(DeviceRow).where(DeviceRow.berth_id.in_([b.id for b in berths]))
        )
    }
    for berth in berths:
        code = codes[berth.id]
        s.expected.heartbeating.append(code)
        for n in range(DAYS):
            for hour in range(HEARD_HOURS):
                at = _at(FIRST + timedelta(days=n), hour, 5)
                s.uow.session.add(
                    DeviceEventRow(
                        dedupe_key=f"hb-{code}-{at.isoformat()}",
                        vendor="own",
                        device_code=code,
                        kind="heartbeat",
                        device_time=at,
                        received_at=at,
                        payload={},
                        outcome="applied",
                    )
                )
