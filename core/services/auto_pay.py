"""Use cases of auto-pay: a plate's service state, entries, deductions and their results.

Entries and deductions are made by the sweep, after the stay opened or was priced, never on
the lane's or the sensor's decision path; results settle through core.services.payments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from core import auto_pay, payments
from core.auto_pay import CHANNEL_WECHAT_PARKING, ParkingState, ServiceState
from core.clock import Clock
from core.errors import DomainError
from core.lanes import LaneCommand
from core.parking_gateway import DeductionRequest, EntryRequest
from core.payment_gateway import (
    GatewayError,
    GatewayRejectedError,
    TradeState,
)
from core.payments import Payment, PaymentStatus
from core.services import vehicles
from core.services.auto_pay_exit import release_on_acceptance, tell_if_overdue
from core.services.auto_pay_results import (
    AutoPayPorts,
    apply_entry_state,
    apply_notice,
    apply_result,
    fail_deduction,
    record,
)
from core.services.payments import payer_openid, shared_by_contract, update_payment
from core.services.retrying import Uows
from core.services.stays import paid_toward
from core.store.auto_pay import PlateServiceRow, StayParkingRow
from core.store.unit_of_work import StoreConflictError

__all__ = [
    "AutoPayPorts",
    "PlateService",
    "apply_entry_state",
    "apply_notice",
    "apply_result",
    "plate_service",
    "record",
    "sweep",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlateService:
    """A plate's auto-pay state for its driver."""

    plate: str
    colour: str
    state: ServiceState
    checked_at: datetime | None


async def plate_service(
    uows: Uows, clock: Clock, ports: AutoPayPorts, driver_id: int, plate: str, *, ask: bool
) -> PlateService:
    """The stored state, asked again of WeChat Pay when `ask` or when it is stale or unknown."""
    async with uows() as uow:
        await vehicles.require_verified(uow, driver_id, plate)
        found = await uow.vehicles.binding(driver_id, plate)
        colour = found[1].plate_colour if found else "BLUE"
        row = await uow.auto_pay.service(driver_id, plate)
        openid = await payer_openid(uow, ports.setup, driver_id)
        sub_mchid = await uow.auto_pay.any_sub_mchid()
    if row is not None and not ask and auto_pay.is_fresh(row.checked_at, clock.now()):
        return PlateService(plate, colour, ServiceState(row.state), row.checked_at)
    if sub_mchid is None:
        raise GatewayError(detail="no sub-merchant to ask the parking service through")
    info = await ports.parking.find(plate, colour, openid, sub_mchid)
    state = auto_pay.service_state(info.service_state)
    return await _store_service(uows, clock, driver_id, plate, colour, openid, state)


async def _store_service(
    uows: Uows,
    clock: Clock,
    driver_id: int,
    plate: str,
    colour: str,
    openid: str,
    state: ServiceState,
) -> PlateService:
    now = clock.now()
    async with uows() as uow:
        row = await uow.auto_pay.service(driver_id, plate)
        if row is None:
            row = PlateServiceRow(driver_id=driver_id, plate=plate, plate_colour=colour)
            uow.auto_pay.add(row)
        row.openid, row.state, row.checked_at, row.plate_colour = openid, state.value, now, colour
        await record(uow, clock, "find", state.value, plate=plate, driver_id=driver_id)
        await uow.commit()
    return PlateService(plate, colour, state, now)


async def enter_open_stays(uows: Uows, clock: Clock, ports: AutoPayPorts) -> int:
    """创建停车入场 for every open stay of an authorised plate not told yet; returns how many."""
    async with uows() as uow:
        for stay, service in await uow.auto_pay.stays_to_enter():
            operator = await uow.city.operator(stay.operator_id)
            uow.auto_pay.add(_new_parking(clock, stay.ref, service, operator.sub_mchid))
        try:
            await uow.commit()
        except StoreConflictError:  # a lane's entry recorded one meanwhile: the next round
            await uow.rollback()
        entering = await uow.auto_pay.parkings_in((ParkingState.ENTERING.value,))
    told = 0
    for parking in entering:
        told += await _enter(uows, clock, ports, parking.stay_ref)
    return told


async def enter_stay(
    uows: Uows, clock: Clock, ports: AutoPayPorts, stay_ref: str, *, ended: bool = False
) -> int:
    """创建停车入场 for one stay just opened, if its plate is authorised (right after the entry).

    `ended`: the stay may have closed already (an exit that came before its entry was told).
    """
    async with uows() as uow:
        stay = await uow.stays.by_ref(stay_ref)
        if stay is None or stay.plate is None or (stay.status != "open" and not ended):
            return 0
        if await uow.auto_pay.parking(stay_ref) is not None:
            return 0  # told already (or being told by the sweep)
        service = await uow.auto_pay.authorised_for(stay.plate)
        if service is None:
            return 0
        operator = await uow.city.operator(stay.operator_id)
        uow.auto_pay.add(_new_parking(clock, stay.ref, service, operator.sub_mchid))
        try:
            await uow.commit()
        except StoreConflictError:  # the sweep recorded it first: it tells WeChat Pay
            return 0
    return await _enter(uows, clock, ports, stay_ref)


def _new_parking(
    clock: Clock, stay_ref: str, service: PlateServiceRow, sub_mchid: str
) -> StayParkingRow:
    return StayParkingRow(
        stay_ref=stay_ref,
        driver_id=service.driver_id,
        plate=service.plate,
        plate_colour=service.plate_colour,
        openid=service.openid,
        sub_mchid=sub_mchid,
        out_parking_no=auto_pay.parking_no(stay_ref),
        state=ParkingState.ENTERING.value,
        created_at=clock.now(),
    )


async def _enter(uows: Uows, clock: Clock, ports: AutoPayPorts, stay_ref: str) -> int:
    async with uows() as uow:
        parking = await uow.auto_pay.parking(stay_ref)
        stay = await uow.stays.by_ref(stay_ref)
        if parking is None or stay is None:
            return 0
        name = await uow.city.place_name(stay.berth_id, stay.lot_id)
    request = EntryRequest(
        out_parking_no=parking.out_parking_no,
        sub_mchid=parking.sub_mchid,
        plate=parking.plate,
        colour=parking.plate_colour,
        start_time=stay.entered_at,
        parking_name=name,
        free_seconds=ports.free_minutes * 60,
        notify_url=ports.setup.notify_url,
    )
    try:
        entry = await ports.parking.enter(request)
    except DomainError as exc:  # down or refused: tried again by the next sweep
        async with uows() as uow:
            await record(uow, clock, "enter", "error", stay_ref=stay_ref, code=exc.code)
            await uow.commit()
        return 0
    async with uows() as uow:
        parking = await uow.auto_pay.parking(stay_ref)
        assert parking is not None
        deductible = entry.state == "NORMAL"
        parking.parking_id = entry.parking_id
        parking.block_reason = entry.block_reason
        parking.state = (ParkingState.DEDUCTIBLE if deductible else ParkingState.BLOCKED).value
        await record(
            uow, clock, "enter", entry.state, stay_ref=stay_ref, parking_id=entry.parking_id
        )
        await uow.commit()
    return 1


async def deduct_priced_stays(
    uows: Uows, clock: Clock, ports: AutoPayPorts
) -> tuple[LaneCommand, ...]:
    """扣费受理 for every deductible stay now closed with money due; the lanes it opens."""
    async with uows() as uow:
        ready = await uow.auto_pay.parkings_in((ParkingState.DEDUCTIBLE.value,))
    commands: list[LaneCommand] = []
    for parking in ready:
        commands += await deduct_stay(uows, clock, ports, parking.stay_ref)
    return tuple(commands)


async def deduct_stay(
    uows: Uows, clock: Clock, ports: AutoPayPorts, stay_ref: str
) -> tuple[LaneCommand, ...]:
    """扣费受理 for one stay if it is deductible and priced (called right after a lot exit)."""
    async with uows() as uow:  # most exits are of plates not in the service: no lock for them
        parking = await uow.auto_pay.parking(stay_ref)
    if parking is None and await enter_stay(uows, clock, ports, stay_ref, ended=True):
        async with uows() as uow:  # a short stay whose entry was not told yet: told now
            parking = await uow.auto_pay.parking(stay_ref)
    if parking is None or parking.state != ParkingState.DEDUCTIBLE.value:
        return ()
    payment = await _reserve(uows, clock, ports, stay_ref)
    if payment is None:
        return ()
    return await _ask(uows, clock, ports, payment)


async def _reserve(uows: Uows, clock: Clock, ports: AutoPayPorts, stay_ref: str) -> Payment | None:
    """The deduction's payment, recorded before WeChat Pay is asked (so it is asked once)."""
    async with uows() as uow:
        # The stay's lock first: two sweeps (two workers) reserve one deduction, not two.
        stay = await uow.stays.by_ref(stay_ref, for_update=True)
        parking = await uow.auto_pay.parking(stay_ref)
        if parking is None or stay is None or parking.state != ParkingState.DEDUCTIBLE.value:
            return None
        if stay.status == "open" or stay.status == "review":
            return None  # not priced yet
        due = (stay.fee_fen or 0) - await paid_toward(uow, stay) if stay.status == "closed" else 0
        if due <= 0:
            parking.state = ParkingState.SKIPPED.value
            await record(uow, clock, "deduct", "nothing_due", stay_ref=stay_ref)
            await uow.commit()
            return None
        operator = await uow.city.operator(stay.operator_id)
        now = clock.now()
        payment = Payment(
            out_trade_no=payments.new_out_trade_no(now),
            channel=CHANNEL_WECHAT_PARKING,
            stay_ref=stay.ref,
            plate=parking.plate,
            operator_code=operator.code,
            sub_mchid=operator.sub_mchid,
            amount_fen=due,
            payer_openid=parking.openid,
            appid=ports.setup.appid,
            status=PaymentStatus.CREATED,
            created_at=now,
            profit_sharing=await shared_by_contract(uow, operator.code, now),
        )
        key = f"auto:{stay.ref}:{payment.out_trade_no}"
        await uow.payments.add(payment, driver_id=parking.driver_id, idempotency_key=key)
        parking.out_trade_no = payment.out_trade_no
        parking.state = ParkingState.DEDUCTING.value
        await record(
            uow, clock, "deduct", "reserved", stay_ref=stay_ref, out_trade_no=payment.out_trade_no
        )
        await uow.commit()
        return payment


async def _ask(
    uows: Uows, clock: Clock, ports: AutoPayPorts, payment: Payment
) -> tuple[LaneCommand, ...]:
    async with uows() as uow:
        parking = await uow.auto_pay.parking_of_payment(payment.out_trade_no)
        stay = await uow.stays.by_ref(payment.stay_ref or "")
        if parking is None or stay is None or parking.parking_id is None:
            return ()
        name = await uow.city.place_name(stay.berth_id, stay.lot_id)
    exited = stay.exited_at or clock.now()
    request = DeductionRequest(
        out_trade_no=payment.out_trade_no,
        sub_mchid=payment.sub_mchid,
        parking_id=parking.parking_id,
        plate=parking.plate,
        colour=parking.plate_colour,
        start_time=stay.entered_at,
        end_time=exited,
        parking_name=name,
        charging_seconds=auto_pay.charging_seconds(stay.entered_at, exited),
        device_id=f"{'lot' if stay.lot_id else 'berth'}-{stay.lot_id or stay.berth_id}",
        amount_fen=payment.amount_fen,
        description=f"停车费-{payment.plate}",
        notify_url=ports.setup.notify_url,
        attach=stay.ref,
        profit_sharing=payment.profit_sharing,
    )
    try:
        report = await ports.parking.deduct(request)
    except GatewayRejectedError as exc:
        await fail_deduction(uows, clock, payment.out_trade_no, f"refused {exc.provider_code}")
        return ()
    except DomainError as exc:  # no answer: the sweep queries it (or asks again)
        async with uows() as uow:
            await record(
                uow,
                clock,
                "deduct",
                "no_answer",
                stay_ref=stay.ref,
                out_trade_no=payment.out_trade_no,
                code=exc.code,
            )
            await uow.commit()
        return ()
    commands = await _accepted(uows, clock, payment.out_trade_no, parking.parking_id)
    if report.trade_state is not TradeState.ACCEPTED:
        commands += await apply_result(uows, clock, ports, report)
    return commands


async def _accepted(
    uows: Uows, clock: Clock, out_trade_no: str, parking_id: str
) -> tuple[LaneCommand, ...]:
    """WeChat Pay took the deduction on: created -> pending, and a waiting car may leave."""

    def accept(p: Payment) -> payments.Transition[Payment]:
        if p.status is not PaymentStatus.CREATED:
            return payments.Transition(p, False)
        return payments.attach_prepay(p, f"parking:{parking_id}")

    await update_payment(uows, out_trade_no, accept)
    async with uows() as uow:
        parking = await uow.auto_pay.parking_of_payment(out_trade_no)
        await record(
            uow,
            clock,
            "deduct",
            "accepted",
            stay_ref=parking.stay_ref if parking else None,
            out_trade_no=out_trade_no,
        )
        # Accepted is not paid, but at a gated lot the car goes now (a notify first: no car waits).
        commands = await release_on_acceptance(uow, clock, parking) if parking else []
        await uow.commit()
    return tuple(commands)


async def query_pending(uows: Uows, clock: Clock, ports: AutoPayPorts) -> tuple[LaneCommand, ...]:
    """Ask WeChat Pay about deductions without a result (a lost notify, an unanswered ask)."""
    async with uows() as uow:
        pending = await uow.auto_pay.parkings_in((ParkingState.DEDUCTING.value,))
        found = [(p, await uow.payments.get(p.out_trade_no or "")) for p in pending]
    commands: list[LaneCommand] = []
    for _, payment in found:
        if payment is None or payment.status not in payments.OPEN_STATUSES:
            continue
        try:
            report = await ports.parking.query_deduction(payment.out_trade_no, payment.sub_mchid)
        except GatewayRejectedError as exc:
            if exc.provider_code == "ORDER_NOT_EXIST":  # never reached WeChat Pay: ask again
                commands.extend(await _ask(uows, clock, ports, payment))
            await tell_if_overdue(uows, clock, payment, ports.result_minutes)
            continue
        except DomainError as exc:
            log.warning("deduction %s not queried: %s", payment.out_trade_no, exc.detail)
            await tell_if_overdue(uows, clock, payment, ports.result_minutes)
            continue
        if report.trade_state is TradeState.ACCEPTED:
            await tell_if_overdue(uows, clock, payment, ports.result_minutes)
        else:
            commands.extend(await apply_result(uows, clock, ports, report))
    return tuple(commands)


async def sweep(uows: Uows, clock: Clock, ports: AutoPayPorts) -> tuple[LaneCommand, ...]:
    """One round: tell entries, ask deductions, query those without a result."""
    await enter_open_stays(uows, clock, ports)
    opened = await deduct_priced_stays(uows, clock, ports)
    return opened + await query_pending(uows, clock, ports)
