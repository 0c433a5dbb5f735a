"""Cashier pages: open and close a shift, take cash or a payment code, free release, report."""

from __future__ import annotations

from aiohttp import web

from console.forms import form_of
from console.rendering import render, see_other
from console.session import page, staff_of
from core.services import cashier, micropay
from core.staff import Permission
from ops_api.cashier import MICROPAY_KEY, CashIn, CloseShiftIn, FreeIn, MicropayIn, OpenShiftIn
from server.lane_publishing import publish_lane_commands
from server.resources import clock, read_unit_of_work, unit_of_work

routes = web.RouteTableDef()
SHIFT = Permission.CASHIER_SHIFT


@routes.get("/cashier")
@page(SHIFT)
async def shift_page(request: web.Request) -> web.Response:
    """The open shift with the cars waiting to pay, or the form to open one."""
    staff = staff_of(request)
    async with read_unit_of_work(request) as uow:
        shift = await uow.lots.open_shift(staff.id)
        waiting, report, lot = [], None, None
        if shift is not None:
            lot = await uow.city.lot(shift.lot_id)
            waiting = [
                (stay, (stay.fee_fen or 0) - details.paid_fen)
                for stay, details in await uow.lots.awaiting_payment(shift.lot_id)
            ]
            report = await cashier.shift_report(uow, staff, shift.ref)
    context = {
        "shift": shift,
        "lot": lot,
        "waiting": waiting,
        "report": report,
        "scope_lots": sorted(staff.scope.lots),
        "notice": request.query.get("done", ""),
    }
    return render(request, "cashier/shift.html", context)


@routes.post("/cashier/open")
@page(SHIFT)
async def open_shift(request: web.Request) -> web.Response:
    """Start a shift at a lot (office or lane) with the change float."""
    body = await form_of(request, OpenShiftIn)
    async with unit_of_work(request) as uow:
        await cashier.open_shift(
            uow, clock(request), staff_of(request), body.lot, body.lane, body.opening_float_fen
        )
    return see_other("/console/cashier?done=已开班")


async def _taken(request: web.Request, result: cashier.TakingResult, what: str) -> web.Response:
    await publish_lane_commands(request, result.commands)
    context = {"result": result, "what": what}
    return render(request, "cashier/taken.html", context)


@routes.post("/cashier/cash")
@page(SHIFT)
async def take_cash(request: web.Request) -> web.Response:
    """Take exactly the amount due in cash; shows the receipt."""
    body = await form_of(request, CashIn)
    async with unit_of_work(request) as uow:
        result = await cashier.take_cash(
            uow, clock(request), staff_of(request), body.stay_ref, body.amount_fen
        )
    return await _taken(request, result, "现金收费")


@routes.post("/cashier/micropay")
@page(SHIFT)
async def take_micropay(request: web.Request) -> web.Response:
    """Charge the driver's payment code (付款码)."""
    body = await form_of(request, MicropayIn)
    result = await micropay.take_micropay(
        lambda: unit_of_work(request),
        clock(request),
        request.config_dict.get(MICROPAY_KEY),
        staff_of(request),
        body.stay_ref,
        body.auth_code,
    )
    return await _taken(request, result, "付款码收费")


@routes.post("/cashier/free")
@page(SHIFT)
async def release_free(request: web.Request) -> web.Response:
    """Release a car without payment, with the reason audited."""
    body = await form_of(request, FreeIn)
    async with unit_of_work(request) as uow:
        result = await cashier.release_free(
            uow, clock(request), staff_of(request), body.stay_ref, body.reason
        )
    return await _taken(request, result, "免费放行")


@routes.post("/cashier/close")
@page(SHIFT)
async def close_shift(request: web.Request) -> web.Response:
    """Count the drawer and hand over; then the shift report."""
    body = await form_of(request, CloseShiftIn)
    async with unit_of_work(request) as uow:
        report = await cashier.close_shift(
            uow, clock(request), staff_of(request), body.counted_cash_fen, body.explanation
        )
    return see_other(f"/console/cashier/shifts/{report.ref}")


@routes.get("/cashier/shifts/{ref}")
@page(SHIFT)
async def shift_report(request: web.Request) -> web.Response:
    """A shift's report: takings, expected against counted cash, the difference."""
    async with read_unit_of_work(request) as uow:
        report = await cashier.shift_report(uow, staff_of(request), request.match_info["ref"])
    return render(request, "cashier/report.html", {"report": report})
