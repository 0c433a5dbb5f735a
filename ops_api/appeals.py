"""Staff routes of fee appeals and complaints: the queue, evidence, decisions, finance approvals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.appeals import (
    Action,
    ApprovalLimits,
    ApprovalNotFoundError,
    ApprovalStatus,
    CaseNotFoundError,
    CaseStatus,
    is_overdue,
)
from core.services import appeal_decisions, appeals
from core.services.appeal_decisions import Decision, RefundPorts
from core.staff import Permission
from core.store.appeals import AppealRow, ApprovalRow
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.input_limits import INT32_MAX, parse_row_id
from server.resources import SETTINGS_KEY, clock, read_unit_of_work, unit_of_work
from server.wechat import WECHAT_SERVICES_KEY

routes = ApiRoutes("ops")


class CaseOut(BaseModel):
    """An appeal or WeChat Pay complaint in the queue."""

    id: int
    kind: str = Field(description="appeal or wechatpay_complaint")
    category: str
    status: str = Field(description="open, awaiting_approval, resolved or rejected")
    stay_ref: str | None
    plate: str | None
    reason: str
    photos: list[str] = Field(description="object-storage references of the driver's photos")
    created_at: datetime
    due_at: datetime
    overdue: bool
    outcome: str | None = Field(description="reject, waive or refund, once decided")
    outcome_fen: int | None
    outcome_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    complaint_id: str | None
    out_trade_no: str | None
    complaint_state: str | None


class CasePageOut(BaseModel):
    """One page of the queue, soonest deadline first."""

    items: list[CaseOut]


class CaseQueueQuery(BaseModel):
    """Which cases: open ones (default), every one, or the overdue ones."""

    overdue: bool = False
    all: bool = Field(False, description="decided cases too")
    limit: int = Field(50, ge=1, le=200)
    after: int | None = Field(None, ge=0, le=INT32_MAX)


class CaseSensorOut(BaseModel):
    """One berth observation near the stay."""

    at: datetime
    kind: str
    role: str
    device_code: str
    plate: str | None
    image_ref: str | None
    of_this_stay: bool


class CaseLaneReadOut(BaseModel):
    """One lane camera read of the stay."""

    at: datetime
    direction: str
    lane_code: str
    plate: str | None
    confidence: int | None
    action: str
    image_ref: str | None


class CaseStayOut(BaseModel):
    """The stay as recorded."""

    ref: str
    plate: str | None
    status: str
    entered_at: datetime
    exited_at: datetime | None
    fee_fen: int | None
    paid_fen: int
    place: str


class CaseImageOut(BaseModel):
    """A camera image of the stay."""

    at: datetime
    ref: str


class CasePaymentOut(BaseModel):
    """A payment of the stay or complaint."""

    out_trade_no: str
    amount_fen: int
    refunded_fen: int
    status: str
    paid_at: datetime | None


class CaseApprovalOut(BaseModel):
    """A waiver or refund over its requester's limit."""

    id: int
    appeal_id: int
    action: str = Field(description="waive or refund")
    target: str = Field(description="the stay ref (waive) or out_trade_no (refund)")
    amount_fen: int
    reason: str
    requested_by: str
    requester_role: str
    status: str = Field(description="pending, approved, rejected or failed")
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None


class CaseEvidenceOut(BaseModel):
    """The case with what support weighs."""

    case: CaseOut
    stay: CaseStayOut | None
    sensor_trace: list[CaseSensorOut]
    lane_reads: list[CaseLaneReadOut]
    images: list[CaseImageOut]
    payments: list[CasePaymentOut]
    approvals: list[CaseApprovalOut]


class CaseDecisionIn(BaseModel):
    """Reject with a reason, or waive/refund an amount (over the role's limit: finance approves)."""

    action: Action
    amount_fen: int | None = Field(None, gt=0, le=10_000_000)
    reason: str = Field(min_length=2, max_length=500)


class CaseDecisionOut(BaseModel):
    """Applied now, or waiting for an approver."""

    appeal_id: int
    status: str
    action: str
    amount_fen: int
    approval_id: int | None
    out_refund_no: str | None
    refund_status: str | None


class ApprovalPageOut(BaseModel):
    """Pending approvals, oldest first."""

    items: list[CaseApprovalOut]


class ApprovalQuery(BaseModel):
    """Which approvals."""

    status: ApprovalStatus = ApprovalStatus.PENDING
    limit: int = Field(50, ge=1, le=200)


class ApprovalDecisionIn(BaseModel):
    """Why the approver approves or rejects (goes into the audit log)."""

    note: str = Field(min_length=2, max_length=500)


def case_out(row: AppealRow, now: datetime) -> CaseOut:
    """The API form of a case."""
    return CaseOut(
        id=row.id,
        kind=row.kind,
        category=row.category,
        status=row.status,
        stay_ref=row.stay_ref,
        plate=row.plate,
        reason=row.reason,
        photos=list(row.photos),
        created_at=row.created_at,
        due_at=row.due_at,
        overdue=is_overdue(CaseStatus(row.status), row.due_at, now),
        outcome=row.outcome,
        outcome_fen=row.outcome_fen,
        outcome_reason=row.outcome_reason,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        complaint_id=row.complaint_id,
        out_trade_no=row.out_trade_no,
        complaint_state=row.complaint_state,
    )


def _approval_out(row: ApprovalRow) -> CaseApprovalOut:
    return CaseApprovalOut(
        id=row.id,
        appeal_id=row.appeal_id,
        action=row.action,
        target=row.target,
        amount_fen=row.amount_fen,
        reason=row.reason,
        requested_by=row.requested_by,
        requester_role=row.requester_role,
        status=row.status,
        created_at=row.created_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        note=row.note,
    )


def _decision_out(done: Decision) -> CaseDecisionOut:
    return CaseDecisionOut(
        appeal_id=done.appeal_id,
        status=done.status.value,
        action=done.action.value,
        amount_fen=done.amount_fen,
        approval_id=done.approval_id,
        out_refund_no=done.refund.out_refund_no if done.refund else None,
        refund_status=done.refund.status.value if done.refund else None,
    )


def case_id(request: web.Request) -> int:
    found = parse_row_id(request.match_info["id"])
    if found is None:
        raise CaseNotFoundError(detail=request.match_info["id"])
    return found


def approval_id(request: web.Request) -> int:
    """The approval id of the path, or its 404."""
    found = parse_row_id(request.match_info["id"])
    if found is None:
        raise ApprovalNotFoundError(detail=request.match_info["id"])
    return found


def refund_ports(request: web.Request) -> RefundPorts | None:
    """WeChat Pay's refund port, when this deployment has one."""
    services = request.config_dict.get(WECHAT_SERVICES_KEY)
    if services is None:
        return None
    return RefundPorts(services.gateway, services.setup.refund_notify_url)


def approval_limits(request: web.Request) -> ApprovalLimits:
    """The per-role limits in force."""
    configured = request.config_dict[SETTINGS_KEY].approval_limits
    return ApprovalLimits(
        {role: {str(a): fen for a, fen in limits.items()} for role, limits in configured.items()}
    )


async def case_queue(request: web.Request, query: CaseQueueQuery) -> list[AppealRow]:
    """The cases the query asks for (the console's queue shares it)."""
    async with read_unit_of_work(request) as uow:
        return await appeals.queue(
            uow,
            clock(request),
            overdue=query.overdue,
            open_only=not query.all,
            limit=query.limit,
            after=query.after,
        )


@routes.route(
    "GET",
    "/appeals",
    "The appeal and complaint queue, soonest deadline first (overdue=true: past deadline only)",
    query=CaseQueueQuery,
    response=CasePageOut,
    permission=Permission.APPEALS_HANDLE,
)
async def list_appeals(request: web.Request, query: CaseQueueQuery) -> web.Response:
    """List cases."""
    rows = await case_queue(request, query)
    now = clock(request).now()
    return json_response(CasePageOut(items=[case_out(row, now) for row in rows]))


@routes.route(
    "GET",
    "/appeals/{id}",
    "An appeal or complaint with its evidence: times, sensor trace, lane reads, images, payments",
    response=CaseEvidenceOut,
    permission=Permission.APPEALS_HANDLE,
)
async def show_appeal(request: web.Request, _: Any) -> web.Response:
    """The case and its evidence."""
    appeal_id = case_id(request)
    async with read_unit_of_work(request) as uow:
        found = await appeals.evidence(uow, clock(request), acting_staff(request), appeal_id)
    stay = found.stay
    return json_response(
        CaseEvidenceOut(
            case=case_out(found.case, clock(request).now()),
            stay=CaseStayOut(**{k: getattr(stay, k) for k in CaseStayOut.model_fields})
            if stay
            else None,
            sensor_trace=[
                CaseSensorOut(**{k: getattr(s, k) for k in CaseSensorOut.model_fields})
                for s in found.sensor_trace
            ],
            lane_reads=[
                CaseLaneReadOut(**{k: getattr(r, k) for k in CaseLaneReadOut.model_fields})
                for r in found.lane_reads
            ],
            images=[CaseImageOut(at=at, ref=ref) for at, ref in found.images],
            payments=[
                CasePaymentOut(
                    out_trade_no=p.out_trade_no,
                    amount_fen=p.amount_fen,
                    refunded_fen=p.refunded_fen,
                    status=p.status.value,
                    paid_at=p.paid_at,
                )
                for p in found.payments
            ],
            approvals=[_approval_out(a) for a in found.approvals],
        )
    )


@routes.route(
    "POST",
    "/appeals/{id}/decision",
    "Decide a case: reject, waive or refund (audited; over the role's limit it waits for finance)",
    body=CaseDecisionIn,
    response=CaseDecisionOut,
    permission=Permission.APPEALS_HANDLE,
)
async def decide_appeal(request: web.Request, body: CaseDecisionIn) -> web.Response:
    """Apply or queue the decision."""
    done = await appeal_decisions.decide(
        lambda: unit_of_work(request),
        clock(request),
        refund_ports(request),
        approval_limits(request),
        acting_staff(request),
        case_id(request),
        body.action,
        body.amount_fen,
        body.reason,
    )
    return json_response(_decision_out(done))


@routes.route(
    "GET",
    "/approvals",
    "Waivers and refunds over their requester's limit, oldest first (finance's queue)",
    query=ApprovalQuery,
    response=ApprovalPageOut,
    permission=Permission.APPEALS_APPROVE,
)
async def list_approvals(request: web.Request, query: ApprovalQuery) -> web.Response:
    """List approvals in a status."""
    async with read_unit_of_work(request) as uow:
        rows = await uow.appeals.approvals(query.status, query.limit)
    return json_response(ApprovalPageOut(items=[_approval_out(row) for row in rows]))


@routes.route(
    "POST",
    "/approvals/{id}/approve",
    "Approve and apply another person's waiver or refund (never one's own; audited)",
    body=ApprovalDecisionIn,
    response=CaseDecisionOut,
    permission=Permission.APPEALS_APPROVE,
)
async def approve_action(request: web.Request, body: ApprovalDecisionIn) -> web.Response:
    """Apply the waiting action; of two approvers at once one wins, the other gets 409."""
    done = await appeal_decisions.approve(
        lambda: unit_of_work(request),
        clock(request),
        refund_ports(request),
        acting_staff(request),
        approval_id(request),
        body.note,
    )
    return json_response(_decision_out(done))


@routes.route(
    "POST",
    "/approvals/{id}/reject",
    "Refuse another person's waiver or refund; the case returns to support (audited)",
    body=ApprovalDecisionIn,
    response=CaseDecisionOut,
    permission=Permission.APPEALS_APPROVE,
)
async def reject_action(request: web.Request, body: ApprovalDecisionIn) -> web.Response:
    """Refuse the waiting action."""
    done = await appeal_decisions.reject_approval(
        lambda: unit_of_work(request),
        clock(request),
        acting_staff(request),
        approval_id(request),
        body.note,
    )
    return json_response(_decision_out(done))
