"""Staff route: issue the signed QR payload to print at an exit lane, a berth or on a notice."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from core.scan_codes import ScanCodeKind, ScanTarget
from core.services.scan_codes import issue_code
from core.staff import Permission
from server.http import ApiRoutes, json_response
from server.resources import SETTINGS_KEY, unit_of_work

routes = ApiRoutes("ops")


class ScanCodeIn(BaseModel):
    """What the code is for: an exit lane (lot and lane), a berth, or a plate."""

    kind: ScanCodeKind
    lot: str | None = Field(None, min_length=1, max_length=32)
    lane: str | None = Field(None, min_length=1, max_length=32)
    berth: str | None = Field(None, min_length=1, max_length=32)
    plate: str | None = Field(None, min_length=1, max_length=20)


class ScanCodeOut(BaseModel):
    """The payload to encode in the QR code (signed; the mini-program posts it to /mp/scan)."""

    kind: ScanCodeKind
    payload: str


@routes.route(
    "POST",
    "/scan-codes",
    "Issue a signed QR payload for an exit lane, a berth or a plate",
    body=ScanCodeIn,
    response=ScanCodeOut,
    permission=Permission.DEVICES_MANAGE,
)
async def issue(request: web.Request, body: ScanCodeIn) -> web.Response:
    """Sign a payload for a target that exists."""
    settings = request.config_dict[SETTINGS_KEY]
    target = ScanTarget(body.kind, body.lot, body.lane, body.berth, body.plate)
    async with unit_of_work(request) as uow:
        secret = settings.secret_key.get_secret_value()
        payload = await issue_code(uow, target, secret, settings.scan_code_key_version)
    return json_response(ScanCodeOut(kind=body.kind, payload=payload))
