"""Use case: run one job for one period, once, whichever of several workers gets there first."""

from __future__ import annotations

import logging
from datetime import date

from core.jobs import JobContext, JobRun, JobSpec, JobTakenError

log = logging.getLogger(__name__)


async def run_job(
    ctx: JobContext, spec: JobSpec, period: date, *, worker: str, force: bool = False
) -> JobRun:
    """Claim the period, run it, record success or failure; JobTakenError if not claimed.

    The claim commits before the work starts, so a second worker sees the run and stays out;
    a failure is recorded (with its error) and may be claimed again by the next attempt.
    """
    period = spec.period_of(period)
    async with ctx.uows() as uow:
        claimed = await uow.jobs.claim(spec.name, period, worker, ctx.clock.now(), force=force)
        await uow.commit()
    if not claimed:
        raise JobTakenError(detail=f"{spec.name} {period}")
    error: str | None = None
    detail = {}
    try:
        detail = dict(await spec.run(ctx, period))
    except Exception as exc:  # any failure is the run's outcome, shown at /ops/jobs
        log.exception("job %s for %s failed", spec.name, period)
        error = f"{type(exc).__name__}: {exc}"[:2000]
    async with ctx.uows() as uow:
        await uow.jobs.finish(
            spec.name, period, worker, ctx.clock.now(), error=error, detail=detail
        )
        await uow.commit()
        run = await uow.jobs.get(spec.name, period)
    assert run is not None  # claimed above and never deleted
    return run
