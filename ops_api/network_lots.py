"""The register of networked lots: join a lot, see who is silent or faulty, rotate its keys."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from core.services import network_lots
from core.services.network_lots import IssuedKey, LotRegistration
from core.staff import Permission
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import SETTINGS_KEY, clock, read_unit_of_work, unit_of_work

routes = ApiRoutes("ops")

Code = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")


class NetworkLotIn(BaseModel):
    """A lot joining the platform; a tariff summary, or the code of a tariff in our format."""

    code: str = Code
    name: str = Field(min_length=1, max_length=128)
    kind: Literal["public", "hospital", "mall", "residential"]
    district: str = Code
    operator_code: str = Code
    operator_name: str = Field(min_length=1, max_length=128)
    sub_mchid: str = Field(min_length=8, max_length=32, pattern=r"^[0-9]+$")
    address: str = Field(min_length=1, max_length=256)
    lat: float = Field(ge=3.8, le=53.6, description="GCJ-02 latitude")
    lng: float = Field(ge=73.5, le=135.1, description="GCJ-02 longitude")
    berths: int = Field(ge=1, le=100_000)
    opening_hours: str = Field(min_length=1, max_length=128, examples=["00:00-24:00"])
    vendor: str = Field(min_length=1, max_length=64)
    contact: str = Field(min_length=1, max_length=128)
    tariff_code: str | None = Field(None, min_length=1, max_length=64)
    tariff_summary: str | None = Field(None, min_length=1, max_length=256)
    webhook_url: str | None = Field(None, max_length=512, pattern=r"^https?://[\x21-\x7e]+$")


class IssuedKeyOut(BaseModel):
    """A key, shown this once: hand it to the lot's vendor over a safe channel."""

    code: str
    app_id: str
    key_id: str
    key: str
    retiring: list[str] = Field(description="keys that stop working after the overlap")


class DayTotalsOut(BaseModel):
    """The lot's totals of its latest reported day, and what its pushes gave the platform."""

    day: date
    entries: int
    exits: int
    fee_fen: int
    paid_fen: int
    counted_entries: int = Field(description="entries the platform holds for that day")
    counted_exits: int = Field(description="exits the platform holds for that day")


class NetworkLotOut(BaseModel):
    """A lot of the register."""

    code: str
    name: str
    app_id: str
    operator_code: str
    sub_mchid: str
    vendor: str
    contact: str
    address: str
    lat: float
    lng: float
    berths: int
    opening_hours: str
    tariff_code: str | None
    tariff_summary: str | None
    webhook_url: str | None
    last_seen_at: datetime | None
    silent: bool
    free_spaces: int | None
    count_age_s: int | None
    open_faults: int
    key_ids: list[str]
    last_day: DayTotalsOut | None


class NetworkLotsOut(BaseModel):
    """The register."""

    lots: list[NetworkLotOut]


class SilentOut(BaseModel):
    """Lots newly flagged silent."""

    flagged: list[str]


def _issued(key: IssuedKey) -> IssuedKeyOut:
    return IssuedKeyOut(
        code=key.code,
        app_id=key.app_id,
        key_id=key.key.key_id,
        key=key.key.secret,
        retiring=key.retiring,
    )


def _secret(request: web.Request) -> str:
    return request.config_dict[SETTINGS_KEY].secret_key.get_secret_value()


@routes.route(
    "POST",
    "/network/lots",
    "Register a networked lot; its app id and first key are answered once (audited)",
    body=NetworkLotIn,
    response=IssuedKeyOut,
    permission=Permission.NETWORK_MANAGE,
    status=201,
)
async def register(request: web.Request, body: NetworkLotIn) -> web.Response:
    """Join the lot."""
    lot = LotRegistration(**body.model_dump())
    async with unit_of_work(request) as uow:
        issued = await network_lots.register_lot(
            uow, clock(request), _secret(request), acting_staff(request), lot
        )
    return json_response(_issued(issued), status=201)


@routes.route(
    "GET",
    "/network/lots",
    "The register of networked lots, with silence, count age and faults",
    response=NetworkLotsOut,
    permission=Permission.NETWORK_MANAGE,
)
async def list_lots(request: web.Request, _: None) -> web.Response:
    """Answer the register."""
    async with read_unit_of_work(request) as uow:
        lots = await network_lots.list_lots(uow, clock(request))
    listed = [NetworkLotOut.model_validate(lot, from_attributes=True) for lot in lots]
    return json_response(NetworkLotsOut(lots=listed))


@routes.route(
    "POST",
    "/network/lots/{code}/keys",
    "Rotate a lot's key: a new key, the old one works for 7 more days (audited)",
    response=IssuedKeyOut,
    permission=Permission.NETWORK_MANAGE,
    status=201,
)
async def rotate(request: web.Request, _: None) -> web.Response:
    """Issue a new key."""
    async with unit_of_work(request) as uow:
        issued = await network_lots.rotate_key(
            uow, clock(request), _secret(request), acting_staff(request), request.match_info["code"]
        )
    return json_response(_issued(issued), status=201)


@routes.route(
    "DELETE",
    "/network/lots/{code}/keys/{key_id}",
    "End a key now (the lot switched, or the key leaked; audited)",
    permission=Permission.NETWORK_MANAGE,
    status=204,
)
async def retire(request: web.Request, _: None) -> web.Response:
    """Retire the key."""
    async with unit_of_work(request) as uow:
        await network_lots.retire_key(
            uow,
            clock(request),
            acting_staff(request),
            request.match_info["code"],
            request.match_info["key_id"],
        )
    return web.Response(status=204)


@routes.route(
    "POST",
    "/network/silence-check",
    "Flag the lots that pushed nothing for 15 minutes now (the server also does it every minute)",
    response=SilentOut,
    permission=Permission.NETWORK_MANAGE,
)
async def check_silence(request: web.Request, _: None) -> web.Response:
    """Run the silence check."""
    async with unit_of_work(request) as uow:
        flagged = await network_lots.flag_silent_lots(uow, clock(request))
    return json_response(SilentOut(flagged=flagged))
