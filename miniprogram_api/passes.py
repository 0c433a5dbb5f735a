"""Monthly passes and stored-value top-ups bought in the mini-program, and the driver's rights."""

from __future__ import annotations

from datetime import date, datetime

from aiohttp import web
from pydantic import BaseModel, Field

from core.passes import last_day
from core.plates import parse_plate
from core.services.pass_orders import (
    OrderRequest,
    list_products,
    my_rights,
    quote_pass,
    start_order,
)
from miniprogram_api.payments import PayIn, PaymentStartOut, started_out, uows_of
from miniprogram_api.session import current_driver
from server.http import ApiRoutes, json_response
from server.resources import clock, unit_of_work
from server.wechat import wechat

routes = ApiRoutes("miniprogram")


class ProductOut(BaseModel):
    """A monthly pass a lot sells."""

    code: str
    name: str
    vehicle_class: str = Field(description="small, large or new_energy, as the lanes classify")
    month_fen: int = Field(description="price of one calendar month")
    online: bool = Field(description="false: sold at the lot office only")
    max_months: int = Field(description="most months in one order")


class ProductsOut(BaseModel):
    """What one lot sells."""

    lot: str
    products: list[ProductOut]


class PassQuoteIn(BaseModel):
    """A product, a bound plate and how many calendar months."""

    product: str = Field(min_length=1, max_length=32)
    plate: str = Field(min_length=1, max_length=16)
    months: int = Field(ge=1, le=36)


class PassOrderIn(PassQuoteIn, PayIn):
    """A pass order; the same idempotency key answers the same order."""


class PassQuoteOut(BaseModel):
    """The price and the term an order would give now."""

    lot: str
    product: str
    plate: str
    months: int
    amount_fen: int
    renewal: bool = Field(description="true: extends the pass in force from its end")
    valid_from: datetime
    valid_until: datetime = Field(description="exclusive: midnight after the last day")
    last_day: date = Field(description="the last day covered, Beijing time")


class TopUpIn(PayIn):
    """Stored value for a bound plate's card in a lot, in fen (1 to 5,000 yuan)."""

    plate: str = Field(min_length=1, max_length=16)
    amount_fen: int


class HeldRightOut(BaseModel):
    """A pass or a stored-value card of the driver's plates."""

    ref: str
    lot: str
    lot_name: str
    kind: str = Field(description="monthly or stored_value")
    plates: list[str]
    valid_from: datetime
    valid_until: datetime
    last_day: date
    balance_fen: int


class HeldRightsOut(BaseModel):
    """The driver's passes and cards."""

    rights: list[HeldRightOut]


@routes.route(
    "GET",
    "/lots/{lot}/pass-products",
    "Monthly passes a lot sells (public price list)",
    response=ProductsOut,
)
async def show_products(request: web.Request, _: None) -> web.Response:
    """List the lot's products; those not sold online say so."""
    lot = request.match_info["lot"]
    async with unit_of_work(request) as uow:
        products = await list_products(uow, lot)
    found = [
        ProductOut(
            code=p.code,
            name=p.name,
            vehicle_class=p.vehicle_class,
            month_fen=p.month_fen,
            online=p.online,
            max_months=p.max_months,
        )
        for p in products
    ]
    return json_response(ProductsOut(lot=lot, products=found))


@routes.route(
    "POST",
    "/lots/{lot}/passes/quote",
    "Price a pass for a bound plate and show its term (driver token)",
    body=PassQuoteIn,
    response=PassQuoteOut,
)
async def quote(request: web.Request, body: PassQuoteIn) -> web.Response:
    """Quote without ordering: a pass in force is extended from its end."""
    driver_id = current_driver(request)
    plate = parse_plate(body.plate).number
    async with unit_of_work(request) as uow:
        found = await quote_pass(
            uow,
            clock(request),
            driver_id,
            request.match_info["lot"],
            body.product,
            plate,
            body.months,
        )
    return json_response(
        PassQuoteOut(
            lot=found.lot_code,
            product=found.product.code,
            plate=found.plate,
            months=found.months,
            amount_fen=found.amount_fen,
            renewal=found.term.renewal,
            valid_from=found.term.valid_from,
            valid_until=found.term.valid_until,
            last_day=last_day(found.term.valid_until),
        )
    )


@routes.route(
    "POST",
    "/lots/{lot}/passes",
    "Buy or renew a monthly pass with WeChat Pay (JSAPI prepay; driver token)",
    body=PassOrderIn,
    response=PaymentStartOut,
)
async def order_pass(request: web.Request, body: PassOrderIn) -> web.Response:
    """Open the order to the lot operator's sub-merchant; the pass is given when it is paid."""
    order = OrderRequest(
        driver_id=current_driver(request),
        lot_code=request.match_info["lot"],
        plate=parse_plate(body.plate).number,
        idempotency_key=body.idempotency_key,
        product_code=body.product,
        months=body.months,
    )
    return await _start(request, order)


@routes.route(
    "POST",
    "/lots/{lot}/stored-value/top-ups",
    "Top up the stored-value card of a bound plate with WeChat Pay (JSAPI prepay; driver token)",
    body=TopUpIn,
    response=PaymentStartOut,
)
async def top_up(request: web.Request, body: TopUpIn) -> web.Response:
    """Open the top-up order; the card (opened on first top-up) is credited when it is paid."""
    order = OrderRequest(
        driver_id=current_driver(request),
        lot_code=request.match_info["lot"],
        plate=parse_plate(body.plate).number,
        idempotency_key=body.idempotency_key,
        amount_fen=body.amount_fen,
    )
    return await _start(request, order)


async def _start(request: web.Request, order: OrderRequest) -> web.Response:
    services = wechat(request)
    started = await start_order(
        uows_of(request), clock(request), services.gateway, services.setup, order
    )
    return json_response(started_out(started))


@routes.route(
    "GET",
    "/me/rights",
    "My passes and stored-value cards (driver token)",
    response=HeldRightsOut,
)
async def show_rights(request: web.Request, _: None) -> web.Response:
    """Passes and cards of the driver's verified plates and of their own orders."""
    driver_id = current_driver(request)
    async with unit_of_work(request) as uow:
        held = await my_rights(uow, clock(request), driver_id)
    rights = [
        HeldRightOut(
            ref=r.ref,
            lot=r.lot_code,
            lot_name=r.lot_name,
            kind=r.kind,
            plates=list(r.plates),
            valid_from=r.valid_from,
            valid_until=r.valid_until,
            last_day=last_day(r.valid_until),
            balance_fen=r.balance_fen,
        )
        for r in held
    ]
    return json_response(HeldRightsOut(rights=rights))
