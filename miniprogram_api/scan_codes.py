"""Driver route: resolve a scanned QR code (exit lane, berth, pay for my plate)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from core import scan_codes
from core.services.scan_codes import resolve_code
from core.services.stays import PayableStay, StayView
from core.services.vehicles import record_scans
from miniprogram_api.session import current_driver
from server.http import ApiRoutes, json_response
from server.rate_limits import limit_plate_lookups
from server.resources import CALENDAR_KEY, SETTINGS_KEY, clock, unit_of_work

routes = ApiRoutes("miniprogram")


class ScanIn(BaseModel):
    """The text of the scanned code."""

    payload: str = Field(min_length=1, max_length=512)


class ScanStayOut(BaseModel):
    """A stay to pay, shown as paying needs it: the plate masked, the fee and the place."""

    ref: str
    plate: str = Field(description="masked unless the code was for this plate")
    status: str
    place: str | None = Field(description="null on a plate's code: anyone may scan one")
    entered_at: datetime | None
    exited_at: datetime | None
    fee_fen: int | None = Field(description="on a plate's code: what is still due")
    payable: bool = Field(description="closed with a fee: POST /mp/stays/{ref}/payments")


class CodeScanOut(BaseModel):
    """What to show after a scan."""

    kind: scan_codes.ScanCodeKind
    action: str = Field(description="pay, in_progress, start or nothing_due")
    place: str
    message: str
    stays: list[ScanStayOut]


def accepted_versions(current: int) -> frozenset[int]:
    """The current key version and the one before, so printed codes survive a rotation."""
    return frozenset({current, current - 1} - {0})


def _stay(view: StayView, show_plate: bool) -> ScanStayOut:
    plate = view.plate if show_plate else view.plate[:2] + "***" + view.plate[-2:]
    return ScanStayOut(
        ref=view.ref,
        plate=plate,
        status=view.status,
        place=view.place,
        entered_at=view.entered_at,
        exited_at=view.exited_at,
        fee_fen=view.fee_fen,
        payable=view.status == "closed" and bool(view.fee_fen),
    )


def _due(due: PayableStay) -> ScanStayOut:
    return ScanStayOut(
        ref=due.ref,
        plate=due.plate,
        status="closed",
        place=None,
        entered_at=None,
        exited_at=None,
        fee_fen=due.due_fen,
        payable=True,
    )


@routes.route(
    "POST", "/scan", "Resolve a scanned parking QR code", body=ScanIn, response=CodeScanOut
)
async def scan(request: web.Request, body: ScanIn) -> web.Response:
    """Check the code's signature and say what the driver should see."""
    await limit_plate_lookups(request)  # a plate's code answers what the plate owes
    settings = request.config_dict[SETTINGS_KEY]
    target = scan_codes.read(
        body.payload,
        settings.secret_key.get_secret_value(),
        accepted_versions(settings.scan_code_key_version),
    )
    # Signed in, the scan of a stay's berth or exit lane counts towards verifying by payment.
    driver_id = current_driver(request) if "Authorization" in request.headers else None
    async with unit_of_work(request) as uow:
        result = await resolve_code(uow, clock(request), request.config_dict[CALENDAR_KEY], target)
        if driver_id is not None and result.kind is not scan_codes.ScanCodeKind.PLATE:
            await record_scans(uow, clock(request), driver_id, [v.ref for v in result.stays])
    show_plate = result.kind is scan_codes.ScanCodeKind.PLATE
    return json_response(
        CodeScanOut(
            kind=result.kind,
            action=result.action,
            place=result.place,
            message=result.message,
            stays=[_stay(v, show_plate) for v in result.stays] + [_due(d) for d in result.dues],
        )
    )
