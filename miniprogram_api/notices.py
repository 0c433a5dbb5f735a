"""Driver routes of subscribe-message authorisations: what wx.requestSubscribeMessage granted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.services.notices import record_grants
from miniprogram_api.session import current_driver
from server.driver_features import DRIVER_PORTS_KEY
from server.http import ApiRoutes, json_response
from server.resources import clock, unit_of_work

routes = ApiRoutes("miniprogram")


class GrantsIn(BaseModel):
    """Template ids the driver accepted ('accept' in the wx.requestSubscribeMessage result)."""

    accepted: list[str] = Field(max_length=10, description="template ids")


class GrantOut(BaseModel):
    """How many messages of a template may still be sent to the driver."""

    template_id: str
    kind: str | None = Field(description="which notice uses the template")
    remaining: int
    updated_at: datetime


class GrantsOut(BaseModel):
    """The driver's authorisations, and the templates the mini-program should ask for."""

    grants: list[GrantOut]
    templates: dict[str, str] = Field(description="notice kind -> template id to request")


async def _answer(request: web.Request, driver_id: int, accepted: list[str] | None) -> GrantsOut:
    templates = request.config_dict[DRIVER_PORTS_KEY].notices.templates
    kinds = {template: kind for kind, template in templates.items()}
    async with unit_of_work(request) as uow:
        if accepted is None:
            rows = await uow.vehicles.grants(driver_id)
        else:
            rows = await record_grants(uow, clock(request), driver_id, accepted, list(kinds))
        grants = [
            GrantOut(
                template_id=r.template_id,
                kind=kinds.get(r.template_id),
                remaining=r.remaining,
                updated_at=r.updated_at,
            )
            for r in rows
        ]
    return GrantsOut(grants=grants, templates=dict(templates))


@routes.route(
    "GET",
    "/me/subscriptions",
    "Subscribe-message authorisations left per template (driver token)",
    response=GrantsOut,
)
async def show_grants(request: web.Request, _: Any) -> web.Response:
    """List the authorisations."""
    return json_response(await _answer(request, current_driver(request), None))


@routes.route(
    "POST",
    "/me/subscriptions",
    "Record templates the driver accepted; each sends one message (driver token)",
    body=GrantsIn,
    response=GrantsOut,
)
async def add_grants(request: web.Request, body: GrantsIn) -> web.Response:
    """Count one authorisation per accepted template we use; others are ignored."""
    driver_id = current_driver(request)
    return json_response(await _answer(request, driver_id, body.accepted))
