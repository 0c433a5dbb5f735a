"""`parking report NAME` and `parking jobs run|list`: reports and jobs from the console."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date
from pathlib import Path

from tqdm import tqdm

from config.settings import Settings
from core.clock import Clock, SystemClock
from core.errors import DomainError
from core.jobs import RunStatus
from core.reports.charts import as_svg
from core.reports.exports import as_csv, as_dict, as_xlsx
from core.reports.periods import DateRange
from core.reports.tables import Report
from core.services.jobs import run_job
from core.services.reports import build_chart, build_report
from core.staff import CITY_WIDE
from core.store.database import open_database
from core.store.unit_of_work import UnitOfWork
from server.scheduler import job_context, registry, with_progress, worker_name

FORMATS = ("json", "csv", "xlsx", "svg")


async def fetch_report(
    settings: Settings, name: str, period: DateRange, by: str | None, *, chart: bool
) -> Report:
    """Build a report (or the one its chart plots) city-wide from the roll-ups."""
    build = build_chart if chart else build_report
    database = open_database(settings.database_url)
    try:
        async with UnitOfWork(database.sessions, read_only=True) as uow:
            return await build(uow, name, period, CITY_WIDE, by=by)
    finally:
        await database.dispose()


def report_command(
    settings: Settings,
    name: str,
    period: DateRange,
    output: str,
    *,
    by: str | None,
    out: str | None,
) -> int:
    """Write a report to a file or standard output."""
    try:
        report = asyncio.run(fetch_report(settings, name, period, by, chart=output == "svg"))
    except DomainError as exc:
        print(f"parking report: {exc.message_zh} ({exc.detail})", file=sys.stderr)
        return 1
    if output == "json":
        body = json.dumps(as_dict(report), ensure_ascii=False, indent=2).encode("utf-8")
    elif output == "csv":
        body = as_csv(report)
    elif output == "xlsx":
        body = as_xlsx(report)
    else:
        body = as_svg(report)
    if out is None:
        sys.stdout.buffer.write(body)
    else:
        Path(out).write_bytes(body)
        print(f"{report.title_zh} -> {out}", file=sys.stderr)
    return 0


async def run_job_command(
    settings: Settings, name: str, day: date, *, force: bool, clock: Clock | None = None
) -> int:
    """Run one job for the period covering `day` by hand, with a progress bar."""
    jobs = registry(settings)
    database = open_database(settings.database_url)
    bar = tqdm(total=1, desc=name, unit="step", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = max(total, 1)
        bar.n = done
        bar.refresh()

    try:
        spec = jobs.get(name)
        ctx = with_progress(job_context(database, clock or SystemClock()), progress)
        run = await run_job(ctx, spec, day, worker=worker_name(), force=force)
    except DomainError as exc:
        print(f"parking jobs run: {exc.message_zh} ({exc.detail})", file=sys.stderr)
        return 1
    finally:
        bar.close()
        await database.dispose()
    detail = json.dumps(dict(run.detail), ensure_ascii=False)
    print(f"{run.job} {run.period}: {run.status.value} {run.error or detail}")
    return 0 if run.status is RunStatus.SUCCEEDED else 1


def list_jobs_command(settings: Settings) -> int:
    """Print the registered jobs."""
    for spec in registry(settings):
        print(f"{spec.name:20} {spec.period.value:8} {spec.at:%H:%M}  {spec.summary}")
    return 0
