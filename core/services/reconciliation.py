"""Use case: reconcile one sub-merchant's day against WeChat Pay's trade bill (audited)."""

from __future__ import annotations

from datetime import date

from core.bills import TradeBillSource, check_bill_date, day_bounds
from core.clock import Clock
from core.errors import NotFoundError, PermissionDeniedError
from core.reconciliation import ReconciliationReport, reconcile
from core.services import audit
from core.services.retrying import Uows
from core.staff import StaffIdentity, covers


class SubMerchantNotFoundError(NotFoundError):
    """No operator is paid as this sub-merchant."""

    code = "sub_merchant_not_found"
    message_zh = "特约商户号不存在"


async def reconcile_day(
    uows: Uows,
    clock: Clock,
    bills: TradeBillSource,
    *,
    day: date,
    sub_mchid: str,
    actor: StaffIdentity,
) -> ReconciliationReport:
    """Fetch the day's bill, compare it with our payments and refunds, audit who looked."""
    check_bill_date(day, clock.now())
    async with uows() as uow:
        operator_code = await uow.city.operator_code_of_sub_mchid(sub_mchid)
    if operator_code is None:
        raise SubMerchantNotFoundError(detail=sub_mchid)
    if not covers(actor.scope, operator_code=operator_code):
        raise PermissionDeniedError(detail=f"{actor.actor} does not cover {operator_code}")
    # The bill is fetched outside any transaction: no database connection waits on WeChat Pay.
    bill = await bills.trade_bill(day, sub_mchid)
    start, end = day_bounds(day)
    async with uows() as uow:
        paid = await uow.payments.paid_between(sub_mchid, start, end)
        refunded = await uow.payments.refunds_accepted_between(sub_mchid, start, end)
        report = reconcile(day, sub_mchid, None if bill is None else bill.rows, paid, refunded)
        details = {
            "matched_payments": report.matched_payments,
            "matched_refunds": report.matched_refunds,
            "differences": len(report.differences),
            "bill_found": report.bill_found,
        }
        target = f"{sub_mchid}:{day.isoformat()}"
        await audit.record(uow, clock, actor, "payments_reconcile", target, "对账", details)
        await uow.commit()
    return report
