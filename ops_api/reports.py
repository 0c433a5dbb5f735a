"""Staff routes of the reports (JSON, CSV, XLSX, SVG chart) and of the scheduled jobs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from core.reports.charts import as_svg
from core.reports.exports import as_csv, as_dict, as_xlsx
from core.reports.periods import DateRange
from core.reports.tables import Cell, Report
from core.services.reports import build_chart, build_report
from core.staff import Permission
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import read_unit_of_work
from server.scheduler import JOBS_KEY

routes = ApiRoutes("ops")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_NAME = r"^[a-z-]{1,32}$"


class ReportQuery(BaseModel):
    """The Beijing days a report covers (both included) and, for revenue, what it groups by."""

    model_config = ConfigDict(populate_by_name=True)

    first: date = Field(alias="from")
    last: date = Field(alias="to")
    by: str | None = Field(None, pattern=r"^[a-z_]{1,16}$")


class ExportQuery(ReportQuery):
    """A report's range and the file format wanted."""

    format: Literal["csv", "xlsx"] = "xlsx"


class ColumnOut(BaseModel):
    """A column: key in the rows, Chinese header, kind (text, count, fen, ratio)."""

    key: str
    header: str
    kind: str


class ReportOut(BaseModel):
    """A report; money in fen, ratios from 0 to 1."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    name: str
    title: str
    first: str = Field(alias="from")
    last: str = Field(alias="to")
    columns: list[ColumnOut]
    rows: list[dict[str, Cell]]
    totals: dict[str, Cell] | None
    summary: dict[str, Cell]


async def _report(request: web.Request, query: ReportQuery) -> Report:
    name = request.match_info["name"]
    period = DateRange(query.first, query.last)
    async with read_unit_of_work(request) as uow:
        return await build_report(uow, name, period, acting_staff(request).scope, by=query.by)


def _file_name(report: Report, suffix: str) -> str:
    return f"{report.name}_{report.first}_{report.last}.{suffix}"


@routes.route(
    "GET",
    "/reports/{name}",
    "A report from the daily roll-ups (revenue, occupancy, arrears-ageing, passes, ...)",
    query=ReportQuery,
    response=ReportOut,
    permission=Permission.REPORTS_READ,
)
async def show_report(request: web.Request, query: ReportQuery) -> web.Response:
    """The report as JSON, limited to the caller's scope."""
    report = await _report(request, query)
    return json_response(ReportOut.model_validate(as_dict(report)))


@routes.route(
    "GET",
    "/reports/{name}/export",
    "A report as CSV or XLSX with Chinese headers and yuan amounts",
    query=ExportQuery,
    permission=Permission.REPORTS_READ,
)
async def export_report(request: web.Request, query: ExportQuery) -> web.Response:
    """The report as a file a finance clerk opens."""
    report = await _report(request, query)
    body, content_type = (
        (as_csv(report), "text/csv") if query.format == "csv" else (as_xlsx(report), XLSX)
    )
    disposition = f'attachment; filename="{_file_name(report, query.format)}"'
    return web.Response(
        body=body, content_type=content_type, headers={"Content-Disposition": disposition}
    )


@routes.route(
    "GET",
    "/reports/{name}/chart",
    "A report's chart as SVG",
    query=ReportQuery,
    permission=Permission.REPORTS_READ,
)
async def chart_report(request: web.Request, query: ReportQuery) -> web.Response:
    """The chart; Chinese text rendered by the viewer's fonts."""
    period = DateRange(query.first, query.last)
    async with read_unit_of_work(request) as uow:
        report = await build_chart(
            uow, request.match_info["name"], period, acting_staff(request).scope, by=query.by
        )
    return web.Response(body=as_svg(report), content_type="image/svg+xml")


class JobsQuery(BaseModel):
    """Which runs to list."""

    job: str | None = Field(None, pattern=_NAME)
    limit: int = Field(50, ge=1, le=500)


class JobOut(BaseModel):
    """A registered job and when it starts (Beijing time)."""

    name: str
    period: str
    at: str
    summary: str


class RunOut(BaseModel):
    """One period's run: who ran it, how it ended, what it did."""

    job: str
    period: date
    status: str
    worker: str
    attempts: int
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    detail: dict[str, int | str]


class JobsOut(BaseModel):
    """The registered jobs and their latest runs, newest first."""

    jobs: list[JobOut]
    runs: list[RunOut]


@routes.route(
    "GET",
    "/jobs",
    "Scheduled jobs and their recent runs and failures",
    query=JobsQuery,
    response=JobsOut,
    permission=Permission.REPORTS_READ,
)
async def list_jobs(request: web.Request, query: JobsQuery) -> web.Response:
    """What is scheduled and how its runs went."""
    registry = request.config_dict[JOBS_KEY]
    jobs = [
        JobOut(name=s.name, period=s.period.value, at=f"{s.at:%H:%M}", summary=s.summary)
        for s in registry
    ]
    async with read_unit_of_work(request) as uow:
        runs = await uow.jobs.recent(job=query.job, limit=query.limit)
    out = [
        RunOut(
            job=r.job,
            period=r.period,
            status=r.status.value,
            worker=r.worker,
            attempts=r.attempts,
            started_at=r.started_at,
            finished_at=r.finished_at,
            error=r.error,
            detail=dict(r.detail),
        )
        for r in runs
    ]
    return json_response(JobsOut(jobs=jobs, runs=out))
