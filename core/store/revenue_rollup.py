"""SQL that rolls one Beijing day of ledger entries up into revenue_days, every fen attributed.

Each money entry kind is joined back through its reference (a payment, refund, cash receipt
or stay) to the place and operator it belongs to; outer joins keep an entry whose context is
missing, with '' dimensions, so the day's roll-up always sums to the ledger.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from core.reports.channels import (
    AUTO_DEDUCT_PAYMENTS,
    CHANNEL_OF_ENTRY,
    FLOW_OF_ENTRY,
    Channel,
)
from core.store.activity import LedgerEntryRow, LedgerPostingRow, StayRow
from core.store.city import DistrictRow, LotRow, OperatorRow, ZoneRow
from core.store.lots import ShiftTakingRow
from core.store.pass_sales import RightOrderRow
from core.store.payments import PaymentRow, RefundRow

_OPERATOR_REVENUE = "operator_revenue:"
_DIMENSIONS = ("operator_code", "sub_mchid", "district_code", "lot_code", "zone_code")


def _text(value: Any) -> ColumnElement[str]:
    return func.coalesce(value, literal("", String))


def _entries(kinds: tuple[str, ...], start: datetime, end: datetime) -> Any:
    """The day's entries of some kinds with their debit line (each kind here has one)."""
    return (
        select(
            LedgerEntryRow.id,
            LedgerEntryRow.kind,
            LedgerEntryRow.reference,
            LedgerPostingRow.debit_fen.label("amount_fen"),
        )
        .join(LedgerPostingRow, LedgerPostingRow.entry_id == LedgerEntryRow.id)
        .where(
            LedgerEntryRow.kind.in_(kinds),
            LedgerEntryRow.created_at >= start,
            LedgerEntryRow.created_at < end,
            LedgerPostingRow.debit_fen > 0,
        )
        .subquery()
    )


def _row(
    entry: Any,
    channel: ColumnElement[str],
    operator: Any,
    sub_mchid: Any,
    places: tuple[Any, Any, Any],
) -> list[ColumnElement[Any]]:
    """One entry's columns; `places` holds the lot, zone and district codes (or None)."""
    flow = case(
        *((entry.c.kind == kind, literal(flow.value)) for kind, flow in FLOW_OF_ENTRY.items())
    )
    lot, zone, district = places
    return [
        _text(operator).label("operator_code"),
        _text(sub_mchid).label("sub_mchid"),
        _text(district).label("district_code"),
        _text(lot).label("lot_code"),
        _text(zone).label("zone_code"),
        cast(channel, String).label("channel"),
        cast(flow, String).label("flow"),
        entry.c.amount_fen,
    ]


def _stay_places(query: Select[Any], stay: Any) -> tuple[Select[Any], Any, Any, Any, Any]:
    lot, zone, district, operator = (
        aliased(LotRow),
        aliased(ZoneRow),
        aliased(DistrictRow),
        aliased(OperatorRow),
    )
    query = (
        query.outerjoin(lot, lot.id == stay.lot_id)
        .outerjoin(zone, zone.id == stay.zone_id)
        .outerjoin(district, district.id == func.coalesce(lot.district_id, zone.district_id))
        .outerjoin(operator, operator.id == stay.operator_id)
    )
    return query, lot, zone, district, operator


def _paid_channel(payment: Any, stay: Any, start: datetime) -> ColumnElement[str]:
    """A stay's WeChat payment: arrears recovered when the street stay ended before the day."""
    return case(
        (and_(stay.lot_id.is_(None), stay.exited_at < start), literal(Channel.ARREARS.value)),
        (payment.channel.in_(AUTO_DEDUCT_PAYMENTS), literal(Channel.AUTO_DEDUCT.value)),
        else_=literal(Channel.SCAN.value),
    )


def _stay_payments(start: datetime, end: datetime) -> Select[Any]:
    entry = _entries(("payment_settled", "payment_refunded"), start, end)
    refund, payment, stay = aliased(RefundRow), aliased(PaymentRow), aliased(StayRow)
    trade_no = func.coalesce(refund.out_trade_no, entry.c.reference)
    query = (
        select(entry)
        .outerjoin(refund, refund.out_refund_no == entry.c.reference)
        .outerjoin(payment, payment.out_trade_no == trade_no)
        .outerjoin(stay, stay.ref == payment.stay_ref)
    )
    query, lot, zone, district, _ = _stay_places(query, stay)
    channel = _paid_channel(payment, stay, start)
    places = (lot.code, zone.code, district.code)
    columns = _row(entry, channel, payment.operator_code, payment.sub_mchid, places)
    return query.with_only_columns(*columns)


def _stay_settlements(start: datetime, end: datetime) -> Select[Any]:
    """Cash, stored value and waivers: the stay is named by a receipt or is the reference."""
    kinds = ("cash_received", "stored_value_spent", "fee_waived")
    entry = _entries(kinds, start, end)
    taking, stay = aliased(ShiftTakingRow), aliased(StayRow)
    query = (
        select(entry)
        .outerjoin(taking, taking.receipt_no == entry.c.reference)
        .outerjoin(stay, stay.ref == func.coalesce(taking.stay_ref, entry.c.reference))
    )
    query, lot, zone, district, operator = _stay_places(query, stay)
    channel = case(*((entry.c.kind == k, literal(CHANNEL_OF_ENTRY[k].value)) for k in kinds))
    places = (lot.code, zone.code, district.code)
    columns = _row(entry, channel, operator.code, operator.sub_mchid, places)
    return query.with_only_columns(*columns)


def _lot_sales(start: datetime, end: datetime) -> Select[Any]:
    """Passes and top-ups, sold and refunded: the order names the lot."""
    kinds = ("pass_sold", "pass_refunded", "stored_value_topped_up", "stored_value_refunded")
    entry = _entries(kinds, start, end)
    refund, payment, order = aliased(RefundRow), aliased(PaymentRow), aliased(RightOrderRow)
    lot, district = aliased(LotRow), aliased(DistrictRow)
    trade_no = func.coalesce(refund.out_trade_no, entry.c.reference)
    query = (
        select(entry)
        .outerjoin(refund, refund.out_refund_no == entry.c.reference)
        .outerjoin(payment, payment.out_trade_no == trade_no)
        .outerjoin(order, order.out_trade_no == trade_no)
        .outerjoin(lot, lot.id == order.lot_id)
        .outerjoin(district, district.id == lot.district_id)
    )
    channel = case(*((entry.c.kind == k, literal(CHANNEL_OF_ENTRY[k].value)) for k in kinds))
    places = (lot.code, None, district.code)
    columns = _row(entry, channel, payment.operator_code, payment.sub_mchid, places)
    return query.with_only_columns(*columns)


def _recognitions(start: datetime, end: datetime) -> Select[Any]:
    """Deferred pass revenue recognised: the operator is the credited revenue account's."""
    entry = _entries(("pass_revenue_recognised",), start, end)
    credit = aliased(LedgerPostingRow)
    operator = aliased(OperatorRow)
    code = func.substr(credit.account, len(_OPERATOR_REVENUE) + 1)
    query = (
        select(entry)
        .join(credit, and_(credit.entry_id == entry.c.id, credit.credit_fen > 0))
        .outerjoin(operator, operator.code == code)
    )
    channel = literal(Channel.PASS.value)
    columns = _row(entry, channel, code, operator.sub_mchid, (None, None, None))
    return query.with_only_columns(*columns)


def revenue_of_day(start: datetime, end: datetime) -> Select[Any]:
    """The day's roll-up rows: dimensions, channel, flow, entries and fen."""
    parts = union_all(
        _stay_payments(start, end),
        _stay_settlements(start, end),
        _lot_sales(start, end),
        _recognitions(start, end),
    ).subquery()
    keys = [parts.c[name] for name in (*_DIMENSIONS, "channel", "flow")]
    return select(
        *keys, func.count().label("entries"), func.sum(parts.c.amount_fen).label("amount_fen")
    ).group_by(*keys)


def ledger_total_of_day(start: datetime, end: datetime) -> Select[Any]:
    """What the ledger's money entries of the day move, to check the roll-up against."""
    entry = _entries(tuple(FLOW_OF_ENTRY), start, end)
    return select(func.coalesce(func.sum(entry.c.amount_fen), 0))
