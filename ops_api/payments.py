"""Staff routes for payments: a stay's payments, refunds with an audited reason, reconciliation."""

from __future__ import annotations

import datetime as dt
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from core.appeals import Action
from core.payments import Payment, Refund
from core.reconciliation import ReconciliationReport
from core.services.reconciliation import reconcile_day
from core.services.refunds import request_refund
from core.services.waivers import waive_fee
from core.staff import Permission
from ops_api.appeals import approval_limits
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import clock, unit_of_work
from server.wechat import wechat

routes = ApiRoutes("ops")


class RefundIn(BaseModel):
    """How much to give back and why (the reason goes into the audit log)."""

    amount_fen: int = Field(gt=0)
    reason: str = Field(min_length=2, max_length=200)


class RefundOut(BaseModel):
    """A refund and where it is."""

    out_refund_no: str
    out_trade_no: str
    amount_fen: int
    status: str = Field(description="requested, processing, success, closed or abnormal")
    reason: str
    requested_by: str
    created_at: datetime
    succeeded_at: datetime | None


class StaffPaymentOut(BaseModel):
    """A payment with the sub-merchant that received it and its refunds."""

    out_trade_no: str
    channel: str
    purpose: str = Field(description="stay, pass or top_up")
    stay_ref: str | None
    plate: str
    operator_code: str
    sub_mchid: str
    amount_fen: int
    status: str
    refunded_fen: int
    transaction_id: str | None
    created_at: datetime
    paid_at: datetime | None
    refunds: list[RefundOut]


class StayPaymentsOut(BaseModel):
    """Every payment of one stay."""

    stay_ref: str
    payments: list[StaffPaymentOut]


def _refund_out(refund: Refund) -> RefundOut:
    return RefundOut(
        out_refund_no=refund.out_refund_no,
        out_trade_no=refund.out_trade_no,
        amount_fen=refund.amount_fen,
        status=refund.status.value,
        reason=refund.reason,
        requested_by=refund.requested_by,
        created_at=refund.created_at,
        succeeded_at=refund.succeeded_at,
    )


def _payment_out(payment: Payment, refunds: list[Refund]) -> StaffPaymentOut:
    return StaffPaymentOut(
        out_trade_no=payment.out_trade_no,
        channel=payment.channel,
        purpose=payment.purpose.value,
        stay_ref=payment.stay_ref,
        plate=payment.plate,
        operator_code=payment.operator_code,
        sub_mchid=payment.sub_mchid,
        amount_fen=payment.amount_fen,
        status=payment.status.value,
        refunded_fen=payment.refunded_fen,
        transaction_id=payment.transaction_id,
        created_at=payment.created_at,
        paid_at=payment.paid_at,
        refunds=[_refund_out(r) for r in refunds],
    )


@routes.route(
    "GET",
    "/stays/{ref}/payments",
    "Payments of a stay with their refunds",
    response=StayPaymentsOut,
    permission=Permission.LEDGER_READ,
)
async def list_stay_payments(request: web.Request, _: None) -> web.Response:
    """List every payment of one stay."""
    stay_ref = request.match_info["ref"]
    async with unit_of_work(request) as uow:
        found = [
            _payment_out(p, await uow.payments.refunds_of(p.out_trade_no))
            for p in await uow.payments.for_stay(stay_ref)
        ]
    return json_response(StayPaymentsOut(stay_ref=stay_ref, payments=found))


@routes.route(
    "POST",
    "/payments/{out_trade_no}/refunds",
    "Refund part or all of a payment (audited; within a year of payment)",
    body=RefundIn,
    response=RefundOut,
    permission=Permission.PAYMENTS_REFUND,
)
async def refund_payment(request: web.Request, body: RefundIn) -> web.Response:
    """Record the refund with the reason, ask WeChat Pay for it, answer where it is."""
    staff = acting_staff(request)
    approval_limits(request).check_direct(staff.role.value, Action.REFUND, body.amount_fen)
    services = wechat(request)
    refund = await request_refund(
        lambda: unit_of_work(request),
        clock(request),
        services.gateway,
        services.setup.refund_notify_url,
        out_trade_no=request.match_info["out_trade_no"],
        amount_fen=body.amount_fen,
        reason=body.reason,
        actor=acting_staff(request),
    )
    return json_response(_refund_out(refund))


class ReconcileIn(BaseModel):
    """The Beijing day and sub-merchant to reconcile against WeChat Pay's trade bill."""

    date: dt.date = Field(description="yyyy-MM-DD, a past day of the last three months")
    sub_mchid: str = Field(min_length=1, max_length=32, pattern=r"^\d+$")


class DifferenceOut(BaseModel):
    """One disagreement between the bill and our books; the missing side's amount is null."""

    kind: str = Field(
        description="payment_not_ours, payment_not_in_bill, payment_amount_differs, "
        "refund_not_ours, refund_not_in_bill or refund_amount_differs"
    )
    out_trade_no: str
    out_refund_no: str | None
    bill_fen: int | None
    our_fen: int | None


class ReconciliationOut(BaseModel):
    """Matched counts and sums, and every difference; bill_found is false on a day without one."""

    date: dt.date
    sub_mchid: str
    bill_found: bool
    balanced: bool
    matched_payments: int
    matched_payment_fen: int
    matched_refunds: int
    matched_refund_fen: int
    differences: list[DifferenceOut]


def _reconciliation_out(report: ReconciliationReport) -> ReconciliationOut:
    return ReconciliationOut(
        date=report.day,
        sub_mchid=report.sub_mchid,
        bill_found=report.bill_found,
        balanced=report.balanced,
        matched_payments=report.matched_payments,
        matched_payment_fen=report.matched_payment_fen,
        matched_refunds=report.matched_refunds,
        matched_refund_fen=report.matched_refund_fen,
        differences=[
            DifferenceOut(
                kind=d.kind.value,
                out_trade_no=d.out_trade_no,
                out_refund_no=d.out_refund_no,
                bill_fen=d.bill_fen,
                our_fen=d.our_fen,
            )
            for d in report.differences
        ],
    )


@routes.route(
    "POST",
    "/payments/reconcile",
    "Reconcile a sub-merchant's day against the WeChat Pay trade bill (audited)",
    body=ReconcileIn,
    response=ReconciliationOut,
    permission=Permission.REPORTS_READ,
)
async def reconcile_payments(request: web.Request, body: ReconcileIn) -> web.Response:
    """Download the day's bill, compare it with our payments and refunds, report differences."""
    services = wechat(request)
    report = await reconcile_day(
        lambda: unit_of_work(request),
        clock(request),
        services.bills,
        day=body.date,
        sub_mchid=body.sub_mchid,
        actor=acting_staff(request),
    )
    return json_response(_reconciliation_out(report))


class WaiverIn(BaseModel):
    """How much of what is unpaid to forgo, and why (the reason goes into the audit log)."""

    amount_fen: int = Field(gt=0)
    reason: str = Field(min_length=2, max_length=200)


class WaiverOut(BaseModel):
    """The stay's fee before and after, and what is still due."""

    stay_ref: str
    waived_fen: int
    fee_before: int
    fee_after: int
    due_after: int


@routes.route(
    "POST",
    "/stays/{ref}/waivers",
    "Waive all or part of a closed stay's unpaid fee (a wrong charge, a discount; audited)",
    body=WaiverIn,
    response=WaiverOut,
    permission=Permission.PAYMENTS_REFUND,
)
async def waive_stay_fee(request: web.Request, body: WaiverIn) -> web.Response:
    """Lower the fee; the operator forgoes the amount in the ledger."""
    staff = acting_staff(request)
    approval_limits(request).check_direct(staff.role.value, Action.WAIVE, body.amount_fen)
    async with unit_of_work(request) as uow:
        done = await waive_fee(
            uow,
            clock(request),
            acting_staff(request),
            request.match_info["ref"],
            body.amount_fen,
            body.reason,
        )
    return json_response(
        WaiverOut(
            stay_ref=done.stay_ref,
            waived_fen=done.waived_fen,
            fee_before=done.fee_before,
            fee_after=done.fee_after,
            due_after=done.due_after,
        )
    )
