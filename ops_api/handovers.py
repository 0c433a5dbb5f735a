"""Officer routes of hand-over batches to the traffic police: make, read, export, hand over."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from adapters.traffic_police import RecordingTrafficPolice
from core.handovers import BatchNotFoundError, BatchStatus, HandoverBatch, batch_sheet
from core.services import handovers
from core.staff import Permission
from ops_api.auth import acting_staff
from ops_api.settlement import ExportFormat, sheet_file
from server.http import ApiRoutes, json_response
from server.resources import clock, read_unit_of_work, unit_of_work

routes = ApiRoutes("ops")

# The port's adapter: a recording stand-in until the traffic police offer an interface.
TRAFFIC_POLICE_KEY = web.AppKey("traffic_police", RecordingTrafficPolice)


class HandoverLineOut(BaseModel):
    """One stay of a batch."""

    stay_ref: str
    plate: str
    colour: str
    place: str
    entered_at: datetime
    exited_at: datetime
    evidence: list[str]
    amount_fen: int
    notice_served_at: datetime | None


class HandoverBatchOut(BaseModel):
    """A batch with its lines and total."""

    ref: str
    status: BatchStatus
    created_by: str
    created_at: datetime
    handed_over_at: datetime | None
    receipt: str | None
    total_fen: int
    lines: list[HandoverLineOut]


class HandoverBatchesOut(BaseModel):
    """Batch references, newest first."""

    refs: list[str]


class HandoverMakeIn(BaseModel):
    """How many escalated arrears at most go into the batch."""

    limit: int = Field(500, ge=1, le=5000)


class HandoverFormatQuery(BaseModel):
    """The file format."""

    format: ExportFormat = ExportFormat.XLSX


def batch_out(batch: HandoverBatch) -> HandoverBatchOut:
    """The response shape of a batch."""
    return HandoverBatchOut(
        ref=batch.ref,
        status=batch.status,
        created_by=batch.created_by,
        created_at=batch.created_at,
        handed_over_at=batch.handed_over_at,
        receipt=batch.receipt,
        total_fen=batch.total_fen,
        lines=[
            HandoverLineOut(
                stay_ref=line.stay_ref,
                plate=line.plate,
                colour=line.colour,
                place=line.place,
                entered_at=line.entered_at,
                exited_at=line.exited_at,
                evidence=list(line.evidence),
                amount_fen=line.amount_fen,
                notice_served_at=line.notice_served_at,
            )
            for line in batch.lines
        ],
    )


@routes.route(
    "POST",
    "/handovers",
    "Batch the escalated arrears in scope not yet handed over (audited)",
    body=HandoverMakeIn,
    response=HandoverBatchOut,
    permission=Permission.HANDOVERS_MANAGE,
    status=201,
)
async def make_batch(request: web.Request, body: HandoverMakeIn) -> web.Response:
    """A new draft batch."""
    async with unit_of_work(request) as uow:
        batch = await handovers.make_batch(uow, clock(request), acting_staff(request), body.limit)
    return json_response(batch_out(batch), status=201)


@routes.route(
    "GET",
    "/handovers",
    "Hand-over batches, newest first",
    response=HandoverBatchesOut,
    permission=Permission.HANDOVERS_MANAGE,
)
async def list_batches(request: web.Request, _: None) -> web.Response:
    """Their references."""
    async with read_unit_of_work(request) as uow:
        return json_response(HandoverBatchesOut(refs=await uow.handovers.refs()))


async def _batch(request: web.Request) -> HandoverBatch:
    ref = request.match_info["ref"]
    async with read_unit_of_work(request) as uow:
        batch = await uow.handovers.batch(ref)
    if batch is None:
        raise BatchNotFoundError(detail=ref)
    return batch


@routes.route(
    "GET",
    "/handovers/{ref}",
    "One batch with its stays",
    response=HandoverBatchOut,
    permission=Permission.HANDOVERS_MANAGE,
)
async def show_batch(request: web.Request, _: None) -> web.Response:
    """The batch."""
    return json_response(batch_out(await _batch(request)))


@routes.route(
    "GET",
    "/handovers/{ref}/export",
    "The batch as XLSX or CSV for the traffic police, with the total owed",
    query=HandoverFormatQuery,
    permission=Permission.HANDOVERS_MANAGE,
)
async def export_batch(request: web.Request, query: HandoverFormatQuery) -> web.Response:
    """A file."""
    batch = await _batch(request)
    return sheet_file(batch_sheet(batch), query.format, f"handover-{batch.ref}")


@routes.route(
    "POST",
    "/handovers/{ref}/hand-over",
    "Send the batch to the traffic police and mark it handed over (audited)",
    response=HandoverBatchOut,
    permission=Permission.HANDOVERS_MANAGE,
)
async def hand_over(request: web.Request, _: None) -> web.Response:
    """Through the port; the receipt is kept."""
    batch = await handovers.hand_over(
        lambda: unit_of_work(request),
        clock(request),
        request.config_dict[TRAFFIC_POLICE_KEY],
        acting_staff(request),
        request.match_info["ref"],
    )
    return json_response(batch_out(batch))
