"""The city's late-fee rule (滞纳金): read it, or set a new version with its legal basis."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from core.late_fees import WHOLE_BP, LateFeeRule, describe
from core.services import late_fees
from core.staff import Permission
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import clock, read_unit_of_work, unit_of_work

routes = ApiRoutes("ops")


class LateFeeRuleIn(BaseModel):
    """Off by default; turning it on needs the legal basis text and the rule."""

    enabled: bool
    legal_basis: str = Field("", max_length=2000)
    start_after_days: int = Field(0, ge=0, le=3650, description="days after the car left")
    per_day_bp: int = Field(0, ge=0, le=WHOLE_BP, description="of the unpaid fee, per day")
    cap_bp: int = Field(WHOLE_BP, ge=0, le=WHOLE_BP, description="at most the unpaid fee")
    reason: str = Field(min_length=2, max_length=500)


class LateFeeRuleOut(BaseModel):
    """The rule in force and how the driver reads it."""

    enabled: bool
    legal_basis: str
    start_after_days: int
    per_day_bp: int
    cap_bp: int
    text: str


def rule_out(rule: LateFeeRule) -> LateFeeRuleOut:
    """The response shape of a rule."""
    return LateFeeRuleOut(
        enabled=rule.enabled,
        legal_basis=rule.legal_basis,
        start_after_days=rule.start_after_days,
        per_day_bp=rule.per_day_bp,
        cap_bp=rule.cap_bp,
        text=describe(rule),
    )


@routes.route(
    "GET",
    "/late-fee-rule",
    "The city's late-fee rule in force",
    response=LateFeeRuleOut,
    permission=Permission.ARREARS_READ,
)
async def show_rule(request: web.Request, _: None) -> web.Response:
    """Off unless the city turned it on."""
    async with read_unit_of_work(request) as uow:
        return json_response(rule_out(await uow.late_fees.rule()))


@routes.route(
    "PUT",
    "/late-fee-rule",
    "Turn the late fee on or off, or change it, with its legal basis (audited)",
    body=LateFeeRuleIn,
    response=LateFeeRuleOut,
    permission=Permission.TARIFFS_MANAGE,
)
async def set_rule(request: web.Request, body: LateFeeRuleIn) -> web.Response:
    """A new version; the old ones stay on record."""
    rule = LateFeeRule(
        body.enabled, body.legal_basis, body.start_after_days, body.per_day_bp, body.cap_bp
    )
    async with unit_of_work(request) as uow:
        stored = await late_fees.set_rule(
            uow, clock(request), acting_staff(request), rule, body.reason
        )
    return json_response(rule_out(stored))
