"""Staff routes that read auto-pay's steps (无感支付, 合单), for finance's reconciliation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.staff import Permission
from server.http import ApiRoutes, json_response
from server.resources import read_unit_of_work

routes = ApiRoutes("ops")


class StepOut(BaseModel):
    """One step as it happened."""

    at: datetime
    step: str = Field(description="find, enter, entry_state, deduct, result or combine")
    outcome: str
    out_trade_no: str | None
    detail: dict[str, Any]


class StepsOut(BaseModel):
    """A stay's auto-pay steps, oldest first, and where its entry stands."""

    stay_ref: str
    state: str | None = Field(
        description="entering, deductible, blocked, deducting, deducted, failed, skipped; "
        "null when the stay was never told to WeChat Pay"
    )
    steps: list[StepOut]


@routes.route(
    "GET",
    "/auto-pay/stays/{stay_ref}/steps",
    "A stay's auto-pay steps: entry, deduction asked, accepted, result (finance)",
    response=StepsOut,
    permission=Permission.REPORTS_READ,
)
async def show_steps(request: web.Request, _: None) -> web.Response:
    """Every recorded step of the stay; an unknown stay has none."""
    stay_ref = request.match_info["stay_ref"]
    async with read_unit_of_work(request) as uow:
        parking = await uow.auto_pay.parking(stay_ref)
        steps = await uow.auto_pay.steps(stay_ref)
        out = StepsOut(
            stay_ref=stay_ref,
            state=parking.state if parking else None,
            steps=[
                StepOut(
                    at=s.at,
                    step=s.step,
                    outcome=s.outcome,
                    out_trade_no=s.out_trade_no,
                    detail=s.detail,
                )
                for s in steps
            ],
        )
    return json_response(out)
