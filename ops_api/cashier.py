"""The cashier's console (plan 3): shifts, cash with a receipt, payment codes, free releases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from core.services import cashier, micropay
from core.staff import Permission
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.lane_publishing import CommandOut, publish_lane_commands
from server.resources import clock, unit_of_work

routes = ApiRoutes("ops")

# Set by the composition root when a payment provider supports payment codes (付款码).
MICROPAY_KEY: web.AppKey[micropay.MicropayPorts] = web.AppKey("micropay_ports")

Code = Annotated[str, StringConstraints(min_length=1, max_length=32, strip_whitespace=True)]
Reason = Annotated[str, StringConstraints(min_length=2, max_length=500, strip_whitespace=True)]


class OpenShiftIn(BaseModel):
    """Where the shift is worked and the change float in the drawer."""

    lot: Code
    lane: Code | None = Field(None, description="absent: the lot office")
    opening_float_fen: int = Field(0, ge=0, le=10_000_000)


class ShiftOut(BaseModel):
    """A shift just opened."""

    ref: str
    opened_at: datetime


class CashIn(BaseModel):
    """Cash taken for a stay, in fen (exactly what is due)."""

    stay_ref: Code
    amount_fen: int = Field(gt=0, le=10_000_000)


class MicropayIn(BaseModel):
    """The driver's payment code (付款码) scanned at the lane."""

    stay_ref: Code
    auth_code: Annotated[str, StringConstraints(pattern=r"^1[0-5]\d{16}$")]


class FreeIn(BaseModel):
    """A free release needs a reason."""

    stay_ref: Code
    reason: Reason


class TakingOut(BaseModel):
    """What was taken; cash comes with the receipt text to print."""

    receipt_no: str
    amount_fen: int
    receipt_text: str | None
    commands: list[CommandOut]


class CloseShiftIn(BaseModel):
    """The counted cash; a difference from the expected amount needs an explanation."""

    counted_cash_fen: int = Field(ge=0, le=100_000_000)
    explanation: str | None = Field(None, max_length=500)


class TakingLineOut(BaseModel):
    """One taking of the shift."""

    stay_ref: str
    channel: str
    amount_fen: int
    receipt_no: str
    reason: str | None
    at: datetime


class ShiftReportOut(BaseModel):
    """Expected against counted cash, and every taking."""

    ref: str
    lot: str
    status: str
    cash_fen: int
    micropay_fen: int
    free_count: int
    expected_cash_fen: int
    counted_cash_fen: int
    difference_fen: int
    explanation: str | None
    takings: list[TakingLineOut]


def _report(report: cashier.ShiftReport) -> ShiftReportOut:
    count = report.count
    return ShiftReportOut(
        ref=report.ref,
        lot=report.lot,
        status=report.status,
        cash_fen=count.cash_fen,
        micropay_fen=count.micropay_fen,
        free_count=count.free_count,
        expected_cash_fen=count.expected_cash_fen,
        counted_cash_fen=count.counted_cash_fen,
        difference_fen=count.difference_fen,
        explanation=report.explanation,
        takings=[
            TakingLineOut(
                stay_ref=t.stay_ref,
                channel=t.channel,
                amount_fen=t.amount_fen,
                receipt_no=t.receipt_no,
                reason=t.reason,
                at=t.created_at,
            )
            for t in report.takings
        ],
    )


async def _taking(request: web.Request, result: cashier.TakingResult) -> web.Response:
    await publish_lane_commands(request, result.commands)
    commands = [CommandOut(kind=c.kind.value, text=c.text) for c in result.commands]
    return json_response(
        TakingOut(
            receipt_no=result.receipt_no,
            amount_fen=result.amount_fen,
            receipt_text=result.receipt_text,
            commands=commands,
        )
    )


@routes.route(
    "POST",
    "/cashier/shifts",
    "Open a cashier shift at a lane or the lot office",
    body=OpenShiftIn,
    response=ShiftOut,
    permission=Permission.CASHIER_SHIFT,
    status=201,
)
async def open_shift(request: web.Request, body: OpenShiftIn) -> web.Response:
    """Start the shift."""
    async with unit_of_work(request) as uow:
        shift = await cashier.open_shift(
            uow, clock(request), acting_staff(request), body.lot, body.lane, body.opening_float_fen
        )
        out = ShiftOut(ref=shift.ref, opened_at=shift.opened_at)
    return json_response(out, status=201)


@routes.route(
    "POST",
    "/cashier/cash",
    "Take cash for a stay in the open shift; answers the receipt text",
    body=CashIn,
    response=TakingOut,
    permission=Permission.CASHIER_SHIFT,
)
async def take_cash(request: web.Request, body: CashIn) -> web.Response:
    """Take cash."""
    async with unit_of_work(request) as uow:
        result = await cashier.take_cash(
            uow, clock(request), acting_staff(request), body.stay_ref, body.amount_fen
        )
    return await _taking(request, result)


@routes.route(
    "POST",
    "/cashier/micropay",
    "Charge the driver's payment code for a stay (WeChat Pay codepay); idempotent per code",
    body=MicropayIn,
    response=TakingOut,
    permission=Permission.CASHIER_SHIFT,
)
async def take_micropay(request: web.Request, body: MicropayIn) -> web.Response:
    """Charge the payment code; the same code sent again charges nothing more."""
    ports = request.config_dict.get(MICROPAY_KEY)
    result = await micropay.take_micropay(
        lambda: unit_of_work(request),
        clock(request),
        ports,
        acting_staff(request),
        body.stay_ref,
        body.auth_code,
    )
    return await _taking(request, result)


@routes.route(
    "POST",
    "/cashier/free",
    "Release a car without payment, with a reason",
    body=FreeIn,
    response=TakingOut,
    permission=Permission.CASHIER_SHIFT,
)
async def release_free(request: web.Request, body: FreeIn) -> web.Response:
    """Waive the fee and open the lane."""
    async with unit_of_work(request) as uow:
        result = await cashier.release_free(
            uow, clock(request), acting_staff(request), body.stay_ref, body.reason
        )
    return await _taking(request, result)


@routes.route(
    "POST",
    "/cashier/shifts/close",
    "Close the open shift with the counted cash",
    body=CloseShiftIn,
    response=ShiftReportOut,
    permission=Permission.CASHIER_SHIFT,
)
async def close_shift(request: web.Request, body: CloseShiftIn) -> web.Response:
    """Hand over the shift."""
    async with unit_of_work(request) as uow:
        report = await cashier.close_shift(
            uow, clock(request), acting_staff(request), body.counted_cash_fen, body.explanation
        )
        out = _report(report)
    return json_response(out)


@routes.route(
    "GET",
    "/cashier/shifts/{ref}",
    "A shift's report: takings, expected against counted cash, the difference",
    response=ShiftReportOut,
    permission=Permission.CASHIER_SHIFT,
)
async def show_shift(request: web.Request, _: None) -> web.Response:
    """Show one shift."""
    async with unit_of_work(request) as uow:
        report = await cashier.shift_report(uow, acting_staff(request), request.match_info["ref"])
        out = _report(report)
    return json_response(out)
