"""Administrator pages: staff and roles, lots and zones, tariffs with a live price, devices."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from console.forms import form_of, query_of
from console.rendering import render, see_other
from console.session import page, staff_of
from core.billing import SHANGHAI
from core.device_health import attention_reasons, is_online
from core.errors import DomainError
from core.services import device_ops
from core.services import staff as staff_service
from core.staff import ROLE_NAMES_ZH, Permission, Role, parse_scope
from miniprogram_api.availability import snapshot
from miniprogram_api.prices import PricePreviewQuery, quote_planned_stay
from ops_api.onstreet import health_policy
from server.resources import clock, read_unit_of_work, unit_of_work

routes = web.RouteTableDef()
P = Permission


class StaffForm(BaseModel):
    """A new account as typed: scope as `kind:code` words separated by spaces."""

    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=10, max_length=128)
    role: Role
    display_name: str | None = Field(None, max_length=64)
    scope: str = Field("", max_length=2000)
    merchant_code: str | None = Field(None, max_length=32)
    reason: str = Field(min_length=2, max_length=500)


class PreviewForm(BaseModel):
    """A planned stay to price: where, from when (Beijing time), how long, which vehicle."""

    place: str = Field(min_length=1, max_length=32)
    start: datetime | None = None
    minutes: int = Field(ge=1, le=60 * 24 * 31)
    vehicle_class: str = Field("small", max_length=16)


@routes.get("/admin/staff")
@page(P.STAFF_MANAGE)
async def staff_page(request: web.Request) -> web.Response:
    """Every account with its role and scope, and the form to add one."""
    async with read_unit_of_work(request) as uow:
        accounts = await staff_service.list_staff(uow, after_id=None, limit=200)
    context = {
        "accounts": accounts,
        "roles": ROLE_NAMES_ZH,
        "notice": request.query.get("done", ""),
    }
    return render(request, "admin/staff.html", context)


@routes.post("/admin/staff")
@page(P.STAFF_MANAGE)
async def add_staff(request: web.Request) -> web.Response:
    """Create an account (audited)."""
    body = await form_of(request, StaffForm)
    async with unit_of_work(request) as uow:
        account = await staff_service.create_staff(
            uow,
            clock(request),
            staff_of(request),
            username=body.username,
            password=body.password,
            role=body.role,
            scope=parse_scope(body.scope.split()),
            reason=body.reason,
            display_name=body.display_name,
            merchant_code=body.merchant_code,
        )
    return see_other(f"/console/admin/staff?done=已创建账号 {account.username}")


@routes.get("/admin/lots")
@page(P.LOTS_MANAGE)
async def lots_page(request: web.Request) -> web.Response:
    """Lots with their open stays, and zones with live free berths."""
    async with read_unit_of_work(request) as uow:
        lots = [(lot, await uow.lots.count_open(lot.id)) for lot in await uow.lot_admin.lots()]
        zones = await uow.chat.zones()
    return render(
        request, "admin/lots.html", {"lots": lots, "zones": zones, **await _live(request)}
    )


@routes.get("/admin/lots/availability")
@page(P.LOTS_MANAGE)
async def availability_fragment(request: web.Request) -> web.Response:
    """The live free-berth counts alone, for the stream's refresh."""
    return render(request, "admin/_availability.html", await _live(request))


async def _live(request: web.Request) -> dict[str, object]:
    try:
        return {"availability": await snapshot(request, None, False), "live_error": None}
    except DomainError as exc:
        return {"availability": None, "live_error": exc.message_zh}


@routes.get("/admin/tariffs")
@page(P.TARIFFS_MANAGE)
async def tariffs_page(request: web.Request) -> web.Response:
    """Tariff versions in force and published, with the price preview form."""
    async with read_unit_of_work(request) as uow:
        versions = await uow.tariffs.all_versions()
    now = clock(request).now().astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    return render(request, "admin/tariffs.html", {"versions": versions, "now": now})


@routes.get("/admin/tariffs/preview")
@page(P.TARIFFS_MANAGE)
async def price_preview(request: web.Request) -> web.Response:
    """What the billing engine charges for the planned stay (an htmx fragment)."""
    form = query_of(request, PreviewForm)
    start = form.start
    if start is not None and start.tzinfo is None:  # a datetime-local field: Beijing wall time
        start = start.replace(tzinfo=SHANGHAI)
    wanted = PricePreviewQuery(
        place=form.place, minutes=form.minutes, start=start, vehicle_class=form.vehicle_class
    )
    start, priced = await quote_planned_stay(request, wanted)
    context = {"priced": priced, "quote": priced.quote.to_dict(), "start": start}
    return render(request, "admin/_price.html", context)


@routes.get("/admin/devices")
@page(P.DEVICES_MANAGE)
async def devices_page(request: web.Request) -> web.Response:
    """Every berth sensor and camera with its health and what needs a technician."""
    now, policy = clock(request).now(), health_policy(request)
    async with read_unit_of_work(request) as uow:
        healths = await device_ops.device_healths(uow)
    rows = [(h, is_online(h, now, policy), attention_reasons(h, now, policy)) for h in healths]
    rows.sort(key=lambda row: (not row[2], row[0].code))
    return render(request, "admin/devices.html", {"rows": rows})
