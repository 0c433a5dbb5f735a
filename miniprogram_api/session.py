"""Driver sign-in: wx.login code in, session token out; the token authenticates later calls."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from core import driver_tokens
from core.errors import AuthenticationError
from core.services.drivers import add_phone, log_in
from server.http import ApiRoutes, json_response
from server.resources import SETTINGS_KEY, clock, unit_of_work
from server.wechat import wechat

routes = ApiRoutes("miniprogram")


class LoginIn(BaseModel):
    """The code wx.login gave the mini-program."""

    code: str = Field(min_length=1, max_length=128)


class LoginOut(BaseModel):
    """A session token to send as `Authorization: Bearer <token>`."""

    token: str
    token_type: str = "Bearer"
    expires_at: datetime
    driver_id: int
    new_driver: bool


class PhoneIn(BaseModel):
    """The code the getPhoneNumber button gave the mini-program."""

    code: str = Field(min_length=1, max_length=128)


class PhoneOut(BaseModel):
    """The phone number kept for the driver, masked."""

    phone: str = Field(description="masked, e.g. 138****5678")


def current_driver(request: web.Request) -> int:
    """The driver id of the request's `Authorization: Bearer` session token, or a 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(detail="missing driver token")
    secret = request.config_dict[SETTINGS_KEY].secret_key.get_secret_value()
    return driver_tokens.decode(token.strip(), clock(request).now(), secret)


@routes.route(
    "POST", "/login", "Sign in with a wx.login code (code2session)", body=LoginIn, response=LoginOut
)
async def login(request: web.Request, body: LoginIn) -> web.Response:
    """Exchange the code, find or create the driver, answer a session token."""
    settings = request.config_dict[SETTINGS_KEY]
    services = wechat(request)
    async with unit_of_work(request) as uow:
        signed_in = await log_in(
            uow,
            clock(request),
            services.miniprogram,
            body.code,
            secret=settings.secret_key.get_secret_value(),
            token_minutes=settings.driver_token_minutes,
        )
    return json_response(
        LoginOut(
            token=signed_in.token.token,
            expires_at=signed_in.token.expires_at,
            driver_id=signed_in.driver_id,
            new_driver=signed_in.new_driver,
        )
    )


@routes.route(
    "POST",
    "/me/phone",
    "Keep the driver's phone number from a getPhoneNumber code (driver token)",
    body=PhoneIn,
    response=PhoneOut,
)
async def set_phone(request: web.Request, body: PhoneIn) -> web.Response:
    """Exchange the code and store the number."""
    driver_id = current_driver(request)
    async with unit_of_work(request) as uow:
        phone = await add_phone(uow, wechat(request).miniprogram, driver_id, body.code)
    return json_response(PhoneOut(phone=mask_phone(phone)))


def mask_phone(phone: str) -> str:
    """Show the first three and last four digits only."""
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:] if len(phone) > 7 else "***"
