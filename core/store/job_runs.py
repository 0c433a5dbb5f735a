"""The job_runs table: one row per job and period, claimed by one worker at a time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, String, Text, UniqueConstraint, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.jobs import RUN_LEASE, JobDetail, JobRun, RunStatus
from core.store.base import Base


class JobRunRow(Base):
    """A job's run for one period; the unique key is the lock that lets one worker run it."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job", "period"),
        CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(48))
    period: Mapped[date]
    status: Mapped[str] = mapped_column(String(12))
    worker: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]]


def _run(row: JobRunRow) -> JobRun:
    return JobRun(
        job=row.job,
        period=row.period,
        status=RunStatus(row.status),
        worker=row.worker,
        attempts=row.attempts,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        detail=dict(row.detail),
    )


class JobRunRepository:
    """Claims, finishes and lists job runs; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(
        self, job: str, period: date, worker: str, now: datetime, *, force: bool = False
    ) -> bool:
        """Mark the period running for `worker`; False when another worker holds or did it.

        The insert is ON CONFLICT DO NOTHING and the take-over a compare-and-set, so of
        several workers claiming at once exactly one gets the row, on SQLite and PostgreSQL.
        """
        dialect: Any = (
            postgresql if self._session.get_bind().dialect.name == "postgresql" else sqlite
        )
        values = {
            "job": job,
            "period": period,
            "status": RunStatus.RUNNING.value,
            "worker": worker,
            "attempts": 1,
            "started_at": now,
            "detail": {},
        }
        inserted = await self._session.execute(
            dialect.insert(JobRunRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["job", "period"])
        )
        if getattr(inserted, "rowcount", 0) == 1:
            return True
        claimable = [
            JobRunRow.status == RunStatus.FAILED.value,
            and_(
                JobRunRow.status == RunStatus.RUNNING.value,
                JobRunRow.started_at < now - RUN_LEASE,
            ),
        ]
        if force:
            claimable.append(JobRunRow.status == RunStatus.SUCCEEDED.value)
        taken = await self._session.execute(
            update(JobRunRow)
            .where(JobRunRow.job == job, JobRunRow.period == period, or_(*claimable))
            .values(
                status=RunStatus.RUNNING.value,
                worker=worker,
                attempts=JobRunRow.attempts + 1,
                started_at=now,
                finished_at=None,
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
        return getattr(taken, "rowcount", 0) == 1

    async def finish(
        self,
        job: str,
        period: date,
        worker: str,
        now: datetime,
        *,
        error: str | None = None,
        detail: JobDetail | None = None,
    ) -> None:
        """Record the end of the worker's run: succeeded, or failed with the error."""
        status = RunStatus.FAILED if error is not None else RunStatus.SUCCEEDED
        await self._session.execute(
            update(JobRunRow)
            .where(JobRunRow.job == job, JobRunRow.period == period, JobRunRow.worker == worker)
            .values(status=status.value, finished_at=now, error=error, detail=dict(detail or {}))
            .execution_options(synchronize_session=False)
        )

    async def get(self, job: str, period: date) -> JobRun | None:
        """The run of one period, if any."""
        row = await self._session.scalar(
            select(JobRunRow).where(JobRunRow.job == job, JobRunRow.period == period)
        )
        return None if row is None else _run(row)

    async def recent(self, *, job: str | None = None, limit: int = 50) -> list[JobRun]:
        """The latest runs first, of one job or all."""
        query = select(JobRunRow).order_by(JobRunRow.started_at.desc(), JobRunRow.id.desc())
        if job is not None:
            query = query.where(JobRunRow.job == job)
        return [_run(row) for row in await self._session.scalars(query.limit(limit))]
