"""Drivers buying passes and topping up cards in the mini-program: products, quotes, orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core import payments
from core.clock import Clock
from core.errors import NotFoundError, ValidationFailedError
from core.lanes import vehicle_class
from core.passes import (
    PassProduct,
    PassProductNotFoundError,
    PassTerm,
    check_months,
    check_sellable,
    check_top_up,
    pass_term,
)
from core.payment_gateway import PaymentGateway
from core.payments import Payment, PaymentPurpose, PaymentStatus
from core.plates import PlateColour, parse_plate
from core.services.payments import (
    CHANNEL_WECHAT_JSAPI,
    PaymentSetup,
    StartedPayment,
    open_reserved,
    payer_openid,
)
from core.services.retrying import Uows, retrying
from core.store.city import LotRow
from core.store.pass_sales import PassProductRow, RightOrderRow
from core.store.unit_of_work import UnitOfWork
from core.vehicles import PlateNotBoundError


class LotNotFoundError(NotFoundError):
    """No lot has this code."""

    code = "lot_not_found"
    message_zh = "停车场不存在"


@dataclass(frozen=True, slots=True)
class PassQuote:
    """What an order of a product for a plate would cost and give, as of now."""

    lot_code: str
    product: PassProduct
    plate: str
    months: int
    amount_fen: int
    term: PassTerm


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A driver's order: a pass (product and months) or a top-up (amount) for a plate."""

    driver_id: int
    lot_code: str
    plate: str
    idempotency_key: str
    product_code: str | None = None
    months: int = 0
    amount_fen: int = 0

    @property
    def purpose(self) -> PaymentPurpose:
        """A pass when a product is named, else a top-up."""
        return PaymentPurpose.PASS if self.product_code else PaymentPurpose.TOP_UP


async def list_products(uow: UnitOfWork, lot_code: str) -> list[PassProduct]:
    """What a lot sells, online or at its office."""
    lot = await _lot(uow, lot_code)
    return [_product(row) for row in await uow.pass_sales.products(lot.id)]


async def quote_pass(
    uow: UnitOfWork, clock: Clock, driver_id: int, lot_code: str, code: str, plate: str, months: int
) -> PassQuote:
    """Price an order and say the term it gives: a renewal extends the pass in force."""
    lot = await _lot(uow, lot_code)
    row = await _sellable(uow, lot, driver_id, code, plate, months)
    now = clock.now()
    current = await uow.pass_sales.pass_in_force(lot.id, plate, now)
    span = (current.valid_from, current.valid_until) if current is not None else None
    product = _product(row)
    term = pass_term(months, now, span)
    return PassQuote(lot.code, product, plate, months, product.month_fen * months, term)


async def start_order(
    uows: Uows, clock: Clock, gateway: PaymentGateway, setup: PaymentSetup, request: OrderRequest
) -> StartedPayment:
    """Record an order and its payment (once per idempotency key), then open it at WeChat Pay."""
    key = f"{request.driver_id}:{request.idempotency_key}"
    payment = await retrying(lambda: _reserve(uows, clock, setup, request, key))
    async with uows() as uow:
        lot = await _lot(uow, request.lot_code)
        order = await uow.pass_sales.order(payment.out_trade_no)
        product = await _product_of(uow, order)
    if order is None or order.lot_id != lot.id or not _same(order, product, request):
        raise ValidationFailedError("该幂等键已用于其他订单", detail=key)
    return await open_reserved(uows, clock, gateway, setup, payment)


async def _reserve(
    uows: Uows, clock: Clock, setup: PaymentSetup, request: OrderRequest, key: str
) -> Payment:
    """The payment of this idempotency key, with its order, recorded before WeChat Pay is called."""
    async with uows() as uow:
        await uow.payments.lock_for_write()
        existing = await uow.payments.by_idempotency_key(key)
        if existing is not None:
            return existing
        lot = await _lot(uow, request.lot_code)
        product, amount = await _price(uow, lot, request)
        operator = await uow.city.operator(lot.operator_id)
        now = clock.now()
        payment = Payment(
            out_trade_no=payments.new_out_trade_no(now),
            channel=CHANNEL_WECHAT_JSAPI,
            stay_ref=None,
            plate=request.plate,
            operator_code=operator.code,
            sub_mchid=operator.sub_mchid,
            amount_fen=amount,
            payer_openid=await payer_openid(uow, setup, request.driver_id),
            appid=setup.appid,
            status=PaymentStatus.CREATED,
            created_at=now,
            purpose=request.purpose,
        )
        await uow.payments.add(payment, driver_id=request.driver_id, idempotency_key=key)
        order = RightOrderRow(
            out_trade_no=payment.out_trade_no,
            kind=request.purpose.value,
            driver_id=request.driver_id,
            lot_id=lot.id,
            plate=request.plate,
            product_id=product.id if product else None,
            months=request.months if product else None,
            amount_fen=amount,
            created_at=now,
        )
        await uow.pass_sales.add(order)
        await uow.commit()
        return payment


async def _price(
    uow: UnitOfWork, lot: LotRow, request: OrderRequest
) -> tuple[PassProductRow | None, int]:
    """The product (for a pass) and the amount to pay, after every check."""
    if request.product_code is None:
        check_top_up(request.amount_fen)
        await _bound_colour(uow, request.driver_id, request.plate)
        return None, request.amount_fen
    row = await _sellable(
        uow, lot, request.driver_id, request.product_code, request.plate, request.months
    )
    return row, row.month_fen * request.months


async def _sellable(
    uow: UnitOfWork, lot: LotRow, driver_id: int, code: str, plate: str, months: int
) -> PassProductRow:
    """The lot's product, checked for sale online to this bound plate for these months."""
    row = await uow.pass_sales.product(lot.id, code)
    if row is None:
        raise PassProductNotFoundError(detail=f"{lot.code}/{code}")
    colour = await _bound_colour(uow, driver_id, plate)
    check_sellable(_product(row), vehicle_class(parse_plate(plate), colour, None))
    check_months(_product(row), months)
    return row


async def _bound_colour(uow: UnitOfWork, driver_id: int, plate: str) -> PlateColour:
    """The colour of a plate the driver has bound; orders are only for bound plates."""
    found = await uow.vehicles.binding(driver_id, plate)
    if found is None:
        raise PlateNotBoundError(detail=f"driver {driver_id}")
    return PlateColour(found[1].plate_colour)


def _same(order: RightOrderRow, product: PassProductRow | None, request: OrderRequest) -> bool:
    """Whether a recorded order is the one requested again under the same key."""
    code = product.code if product is not None else None
    wanted = (request.purpose.value, request.plate, request.product_code)
    if (order.kind, order.plate, code) != wanted:
        return False
    if code is None:
        return order.amount_fen == request.amount_fen
    return order.months == request.months


async def _product_of(uow: UnitOfWork, order: RightOrderRow | None) -> PassProductRow | None:
    if order is None or order.product_id is None:
        return None
    return await uow.pass_sales.product_by_id(order.product_id)


async def _lot(uow: UnitOfWork, code: str) -> LotRow:
    lot = await uow.city.lot_by_code(code)
    if lot is None:
        raise LotNotFoundError(detail=code)
    return lot


def _product(row: PassProductRow) -> PassProduct:
    return PassProduct(
        row.code, row.name, row.vehicle_class, row.month_fen, row.online, row.max_months
    )


@dataclass(frozen=True, slots=True)
class HeldRight:
    """A pass or card a driver sees: of a verified plate, or one their own order made."""

    ref: str
    lot_code: str
    lot_name: str
    kind: str
    plates: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime
    balance_fen: int


async def my_rights(uow: UnitOfWork, clock: Clock, driver_id: int) -> list[HeldRight]:
    """Passes not yet ended and cards with money or time left, of the driver's plates.

    Only verified bindings show a plate's rights; an unverified one shows what the driver's own
    orders made, so binding a stranger's plate tells nothing of their pass or balance.
    """
    plates = await uow.vehicles.verified_plates(driver_id)
    ordered = await uow.pass_sales.rights_ordered_by(driver_id)
    found: dict[int, HeldRight] = {}
    for right, lot, plate in await uow.pass_sales.rights_of(plates, ordered, clock.now()):
        held = found.get(right.id)
        covered = (*held.plates, plate) if held is not None else (plate,)
        found[right.id] = HeldRight(
            right.ref,
            lot.code,
            lot.name,
            right.kind,
            covered,
            right.valid_from,
            right.valid_until,
            right.balance_fen,
        )
    return list(found.values())
