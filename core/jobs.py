"""Scheduled jobs: a registry of what runs once per period, and the record of a period's run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from core.billing import SHANGHAI
from core.errors import ConflictError, NotFoundError

if TYPE_CHECKING:  # the store imports this module: its types are named, not imported
    from core.bills import TradeBillSource
    from core.clock import Clock
    from core.invoice_provider import InvoiceProviders
    from core.profit_sharing import ProfitSharingGateway
    from core.services.retrying import Uows

# A run still marked running this long after it started belongs to a worker that died.
RUN_LEASE = timedelta(hours=2)

Progress = Callable[[int, int], None]  # (done, total)
JobDetail = Mapping[str, int | str]


class Period(StrEnum):
    """How often a job runs; its period date names the day, or the month's first day."""

    DAILY = "daily"
    MONTHLY = "monthly"


class RunStatus(StrEnum):
    """Where a period's run is."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class UnknownJobError(NotFoundError):
    """No job is registered under this name."""

    code = "job_not_found"
    message_zh = "没有此定时任务"


class JobTakenError(ConflictError):
    """Another worker runs this period, or it already succeeded."""

    code = "job_taken"
    message_zh = "该任务此周期已在运行或已完成"


def _no_progress(done: int, total: int) -> None:
    """Progress nobody watches."""


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job may use; ports a deployment lacks are None and the job skips that part."""

    uows: Uows
    clock: Clock
    bills: TradeBillSource | None = None
    invoice_providers: InvoiceProviders | None = None
    progress: Progress = _no_progress
    profit_sharing: ProfitSharingGateway | None = None


JobRunner = Callable[[JobContext, date], Awaitable[JobDetail]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job: its name, period, Beijing time of day it starts, and what it does for a period."""

    name: str
    period: Period
    run: JobRunner
    summary: str
    at: time = time(2, 0)

    def period_of(self, day: date) -> date:
        """The period date that covers `day`."""
        return day.replace(day=1) if self.period is Period.MONTHLY else day

    def due_period(self, now: datetime) -> date:
        """The last whole period before now: yesterday, or last month."""
        today = now.astimezone(SHANGHAI).date()
        if self.period is Period.MONTHLY:
            return (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        return today - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class JobRun:
    """One period's run of a job as recorded."""

    job: str
    period: date
    status: RunStatus
    worker: str
    attempts: int
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    detail: Mapping[str, int | str] = field(default_factory=dict)


class JobRegistry:
    """The jobs a deployment runs, by name."""

    def __init__(self, specs: tuple[JobSpec, ...] = ()) -> None:
        self._specs: dict[str, JobSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: JobSpec) -> None:
        """Add a job; names are unique."""
        if spec.name in self._specs:
            raise ValueError(f"job {spec.name} registered twice")
        self._specs[spec.name] = spec

    def get(self, name: str) -> JobSpec:
        """The job of this name, or UnknownJobError."""
        spec = self._specs.get(name)
        if spec is None:
            raise UnknownJobError(detail=name)
        return spec

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(self._specs.values())
