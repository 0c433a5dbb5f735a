"""Finance pages: payments and refunds, approvals waiting, invoices, reconciliation differences."""

from __future__ import annotations

from aiohttp import web

from console.forms import form_of, query_of
from console.rendering import render
from console.session import page, staff_of
from core.appeals import ApprovalStatus
from core.invoices import InvoiceStatus
from core.payments import IN_FLIGHT_REFUNDS, RefundStatus
from core.services import appeal_decisions
from core.services.reconciliation import reconcile_day
from core.staff import Permission, covers
from ops_api.appeals import ApprovalDecisionIn, approval_id, refund_ports
from ops_api.invoices import InvoiceQuery
from ops_api.payments import ReconcileIn
from server.resources import clock, read_unit_of_work, unit_of_work
from server.wechat import wechat

routes = web.RouteTableDef()
REPORTS = Permission.REPORTS_READ
PAGE_ROWS = 50


@routes.get("/finance/payments")
@page(REPORTS)
async def payments_page(request: web.Request) -> web.Response:
    """The newest payments in scope, and refunds not yet settled or gone wrong."""
    scope = staff_of(request).scope
    async with read_unit_of_work(request) as uow:
        payments = await uow.payments.recent(limit=PAGE_ROWS)
        refunds = [
            refund
            for status in (*sorted(IN_FLIGHT_REFUNDS), RefundStatus.ABNORMAL)
            for refund in await uow.payments.refunds_in(status, limit=PAGE_ROWS)
        ]
    mine = [p for p in payments if covers(scope, operator_code=p.operator_code)]
    return render(request, "finance/payments.html", {"payments": mine, "refunds": refunds})


@routes.get("/finance/approvals")
@page(REPORTS, Permission.APPEALS_APPROVE)
async def approvals_page(request: web.Request) -> web.Response:
    """Waivers and refunds over their requester's limit, waiting for a second person."""
    async with read_unit_of_work(request) as uow:
        rows = await uow.appeals.approvals(ApprovalStatus.PENDING, PAGE_ROWS)
    return render(request, "finance/approvals.html", {"approvals": rows})


@routes.post("/finance/approvals/{id}/{verdict:approve|reject}")
@page(REPORTS, Permission.APPEALS_APPROVE)
async def decide_approval(request: web.Request) -> web.Response:
    """Approve and apply (never one's own), or refuse; answers the outcome fragment."""
    staff = staff_of(request)
    body = await form_of(request, ApprovalDecisionIn)
    if request.match_info["verdict"] == "approve":
        done = await appeal_decisions.approve(
            lambda: unit_of_work(request),
            clock(request),
            refund_ports(request),
            staff,
            approval_id(request),
            body.note,
        )
    else:
        done = await appeal_decisions.reject_approval(
            lambda: unit_of_work(request), clock(request), staff, approval_id(request), body.note
        )
    return render(request, "_done.html", {"message": f"申诉 {done.appeal_id}：{done.status.value}"})


@routes.get("/finance/invoices")
@page(REPORTS, Permission.INVOICES_MANAGE)
async def invoices_page(request: web.Request) -> web.Response:
    """Invoices by state, oldest first, in the account's scope."""
    query = query_of(request, InvoiceQuery)
    async with read_unit_of_work(request) as uow:
        found = await uow.invoices.listed(
            status=None if query.status is None else InvoiceStatus(query.status),
            sub_mchid=query.sub_mchid,
            limit=query.limit,
            after_id=query.after_id,
        )
    scope = staff_of(request).scope
    invoices = [v for _, v in found if covers(scope, operator_code=v.operator_code)]
    return render(request, "finance/invoices.html", {"invoices": invoices, "status": query.status})


@routes.get("/finance/reconcile")
@page(REPORTS)
async def reconcile_page(request: web.Request) -> web.Response:
    """The form to reconcile a sub-merchant's day against WeChat Pay's trade bill."""
    return render(request, "finance/reconcile.html", {"report": None})


@routes.post("/finance/reconcile")
@page(REPORTS)
async def reconcile(request: web.Request) -> web.Response:
    """Download the day's bill and show every difference from our books (audited)."""
    body = await form_of(request, ReconcileIn)
    report = await reconcile_day(
        lambda: unit_of_work(request),
        clock(request),
        wechat(request).bills,
        day=body.date,
        sub_mchid=body.sub_mchid,
        actor=staff_of(request),
    )
    return render(request, "finance/reconcile.html", {"report": report})
