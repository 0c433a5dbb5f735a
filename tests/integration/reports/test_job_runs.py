"""Job runs on SQLite and PostgreSQL: one worker per period, idempotent, failures recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, time, timedelta

import pytest

from core.arrears import ReminderPolicy
from core.clock import FrozenClock
from core.jobs import RUN_LEASE, JobContext, JobDetail, JobSpec, JobTakenError, Period, RunStatus
from core.services.daily_jobs import city_jobs
from core.services.jobs import run_job
from core.store.unit_of_work import UnitOfWork

Uows = Callable[[], UnitOfWork]
DAY = date(2026, 11, 20)


class Counting:
    """A job that counts its runs and can be told to fail or to wait."""

    def __init__(self) -> None:
        self.runs = 0
        self.fail = False
        self.gate: asyncio.Event | None = None

    async def __call__(self, ctx: JobContext, period: date) -> JobDetail:
        self.runs += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("bill server down")
        return {"period": period.isoformat()}


def _spec(job: Counting, period: Period = Period.DAILY) -> JobSpec:
    return JobSpec("counting", period, job, "测试任务", at=time(1, 0))


async def test_a_period_runs_once_and_a_second_run_is_refused(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    job = Counting()
    ctx = JobContext(uows=uow_factory, clock=clock)
    run = await run_job(ctx, _spec(job), DAY, worker="w1")
    assert (run.status, run.attempts, dict(run.detail)) == (
        RunStatus.SUCCEEDED,
        1,
        {"period": "2026-11-20"},
    )
    with pytest.raises(JobTakenError):
        await run_job(ctx, _spec(job), DAY, worker="w2")
    forced = await run_job(ctx, _spec(job), DAY, worker="w2", force=True)
    assert (forced.worker, forced.attempts, job.runs) == ("w2", 2, 2)


async def test_several_workers_at_once_run_it_once(uow_factory: Uows, clock: FrozenClock) -> None:
    job = Counting()
    job.gate = asyncio.Event()
    ctx = JobContext(uows=uow_factory, clock=clock)
    tasks = [asyncio.create_task(run_job(ctx, _spec(job), DAY, worker=f"w{n}")) for n in range(4)]
    await asyncio.sleep(0.5)  # every claim has been tried while the winner's run waits
    job.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1 and job.runs == 1
    assert all(isinstance(r, JobTakenError) for r in results if r not in won)


async def test_a_failure_is_recorded_and_the_next_attempt_may_run(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    job = Counting()
    job.fail = True
    ctx = JobContext(uows=uow_factory, clock=clock)
    failed = await run_job(ctx, _spec(job), DAY, worker="w1")
    assert failed.status is RunStatus.FAILED
    assert failed.error == "RuntimeError: bill server down"
    job.fail = False
    retried = await run_job(ctx, _spec(job), DAY, worker="w2")
    assert (retried.status, retried.attempts, retried.error) == (RunStatus.SUCCEEDED, 2, None)
    async with uow_factory() as uow:
        runs = await uow.jobs.recent(job="counting")
    assert [(r.period, r.status) for r in runs] == [(DAY, RunStatus.SUCCEEDED)]


async def test_a_run_left_by_a_dead_worker_is_taken_over_after_the_lease(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        assert await uow.jobs.claim("counting", DAY, "dead", clock.now())
        await uow.commit()
    job = Counting()
    ctx = JobContext(uows=uow_factory, clock=clock)
    with pytest.raises(JobTakenError):
        await run_job(ctx, _spec(job), DAY, worker="w1")
    clock.advance(RUN_LEASE + timedelta(minutes=1))
    run = await run_job(ctx, _spec(job), DAY, worker="w1")
    assert (run.status, run.worker, run.attempts, job.runs) == (RunStatus.SUCCEEDED, "w1", 2, 1)


async def test_a_monthly_job_keys_its_run_by_the_month(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    job = Counting()
    ctx = JobContext(uows=uow_factory, clock=clock)
    run = await run_job(ctx, _spec(job, Period.MONTHLY), DAY, worker="w1")
    assert run.period == date(2026, 11, 1)
    with pytest.raises(JobTakenError):
        await run_job(ctx, _spec(job, Period.MONTHLY), date(2026, 11, 30), worker="w1")


async def test_a_job_missing_its_port_fails_so_a_server_worker_may_run_it(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    spec = city_jobs(ReminderPolicy()).get("reconciliation")
    ctx = JobContext(uows=uow_factory, clock=clock)
    run = await run_job(ctx, spec, DAY, worker="cli")
    assert run.status is RunStatus.FAILED
    assert run.error is not None and run.error.startswith("JobPortMissingError")
