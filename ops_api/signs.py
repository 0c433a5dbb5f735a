"""Staff routes: guidance signs' configuration and lanes' LED and voice profiles."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints, model_validator

from core.errors import ValidationFailedError
from core.guidance import SignTarget, TargetKind, sign_topic
from core.lane_display import LaneDisplayProfile
from core.services.guidance import SignSettings, save_sign
from core.services.lane_display import save_lane_display, show_lane_display
from core.staff import Permission
from core.store.signs import GuidanceSignRow
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import clock, read_unit_of_work, unit_of_work

routes = ApiRoutes("ops")

CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Reason = Annotated[str, StringConstraints(min_length=2, max_length=500, strip_whitespace=True)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=32, strip_whitespace=True)]


class SignTargetIn(BaseModel):
    """One line of the sign: a lot or an on-street zone, and its label."""

    kind: TargetKind
    code: Code
    label: Label


class SignIn(BaseModel):
    """A sign's configuration; `url` only for HTTP (over MQTT the topic is fixed)."""

    name: str = Field(min_length=1, max_length=128)
    transport: Literal["mqtt", "http"]
    url: str | None = Field(None, max_length=512, pattern=r"^https?://[^\s]+$")
    format: Literal["own_json", "onbon_bx"] = "own_json"
    targets: list[SignTargetIn] = Field(min_length=1, max_length=16)
    min_interval_seconds: int = Field(5, ge=1, le=3600)
    width: int = Field(128, ge=8, le=1024, description="onbon_bx: area width in pixels")
    height: int = Field(32, ge=8, le=512, description="onbon_bx: area height in pixels")
    controller_address: int = Field(1, ge=1, le=65534, description="onbon_bx: screen address")
    enabled: bool = True
    reason: Reason

    @model_validator(mode="after")
    def _url_for_http(self) -> SignIn:
        if (self.transport == "http") != (self.url is not None):
            raise ValueError("url is required for http and not taken for mqtt")
        return self


class SignOut(BaseModel):
    """A stored sign."""

    code: str
    name: str
    transport: str
    topic: str | None
    url: str | None
    format: str
    targets: list[SignTargetIn]
    min_interval_seconds: int
    options: dict[str, Any]
    enabled: bool


class SignsOut(BaseModel):
    """Every sign, by code."""

    signs: list[SignOut]


def sign_out(row: GuidanceSignRow) -> SignOut:
    """The wire form of a sign."""
    mqtt = row.transport == "mqtt"
    return SignOut(
        code=row.code,
        name=row.name,
        transport=row.transport,
        topic=sign_topic(row.code) if mqtt else None,
        url=None if mqtt else row.address,
        format=row.format,
        targets=[SignTargetIn.model_validate(t) for t in row.targets],
        min_interval_seconds=row.min_interval_seconds,
        options=row.options,
        enabled=row.enabled,
    )


@routes.route(
    "GET",
    "/signs",
    "Guidance signs and the lots and zones each shows",
    response=SignsOut,
    permission=Permission.DEVICES_MANAGE,
)
async def list_signs(request: web.Request, _: Any) -> web.Response:
    """Every sign."""
    async with read_unit_of_work(request) as uow:
        rows = await uow.signs.listed()
    return json_response(SignsOut(signs=[sign_out(row) for row in rows]))


@routes.route(
    "PUT",
    "/signs/{code}",
    "Create or replace a guidance sign's configuration (audited)",
    body=SignIn,
    response=SignOut,
    permission=Permission.DEVICES_MANAGE,
)
async def put_sign(request: web.Request, body: SignIn) -> web.Response:
    """Store the sign; the pusher picks it up on its next reload."""
    code = request.match_info["code"]
    if not CODE_PATTERN.fullmatch(code):
        raise ValidationFailedError("诱导屏编号有误", detail=code)
    wanted = SignSettings(
        name=body.name,
        transport=body.transport,
        address=body.url or "",
        format=body.format,
        targets=tuple(SignTarget(t.kind, t.code, t.label) for t in body.targets),
        min_interval_seconds=body.min_interval_seconds,
        options={
            "width": body.width,
            "height": body.height,
            "controller_address": body.controller_address,
        },
        enabled=body.enabled,
    )
    async with unit_of_work(request) as uow:
        row = await save_sign(uow, clock(request), acting_staff(request), code, wanted, body.reason)
    return json_response(sign_out(row))


class LaneDisplayIn(BaseModel):
    """A lane's LED controller (behind the camera's RS-485 port) and its voice."""

    led: Literal["none", "onbon_bx"] = "none"
    led_address: int = Field(1, ge=1, le=65534)
    led_width: int = Field(64, ge=8, le=1024)
    led_height: int = Field(32, ge=8, le=512)
    serial_channel: int = Field(0, ge=0, le=1, description="the camera's RS-485 port")
    voice: bool = True
    volume: int = Field(100, ge=0, le=100)
    farewell: str = Field("一路顺风", min_length=1, max_length=16)


class LaneDisplayPut(LaneDisplayIn):
    """A new profile and why."""

    reason: Reason


@routes.route(
    "GET",
    "/lanes/{lot}/{lane}/display",
    "A lane's LED and voice profile",
    response=LaneDisplayIn,
    permission=Permission.DEVICES_MANAGE,
)
async def get_lane_display(request: web.Request, _: Any) -> web.Response:
    """The profile in force (the defaults when none was set)."""
    lot, lane = request.match_info["lot"], request.match_info["lane"]
    async with read_unit_of_work(request) as uow:
        profile = await show_lane_display(uow, lot, lane)
    return json_response(LaneDisplayIn(**profile.to_dict()))


@routes.route(
    "PUT",
    "/lanes/{lot}/{lane}/display",
    "Set a lane's LED and voice profile (audited)",
    body=LaneDisplayPut,
    response=LaneDisplayIn,
    permission=Permission.DEVICES_MANAGE,
)
async def put_lane_display(request: web.Request, body: LaneDisplayPut) -> web.Response:
    """Store the profile; the lane's next decision is formatted with it."""
    profile = LaneDisplayProfile(**body.model_dump(exclude={"reason"}))
    lot, lane = request.match_info["lot"], request.match_info["lane"]
    async with unit_of_work(request) as uow:
        actor = acting_staff(request)
        await save_lane_display(uow, clock(request), actor, lot, lane, profile, body.reason)
    return json_response(LaneDisplayIn(**profile.to_dict()))
