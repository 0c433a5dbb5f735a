"""The city's scheduled jobs, registered by name; another job is one more `register` line."""

from __future__ import annotations

from datetime import date, time, timedelta

from core.arrears import ReminderPolicy
from core.bills import check_bill_date, day_bounds
from core.errors import DomainError
from core.jobs import JobContext, JobDetail, JobRegistry, JobSpec, Period
from core.ledger import pass_revenue_recognised
from core.reports.periods import earned_in_month, month_bounds, next_month
from core.services.arrears import queue_reminders
from core.services.invoice_sweep import sweep_invoices
from core.services.profit_sharing import run_profit_sharing
from core.services.reconciliation import reconcile_day
from core.services.rollups import roll_up_revenue, run_rollups
from core.staff import CITY_WIDE, Role, StaffIdentity


class JobPortMissingError(DomainError):
    """The job needs a port this process lacks; the run fails, so a worker with it may retry."""

    code = "job_port_missing"
    status = 503
    message_zh = "此进程未配置该任务所需的外部服务"


# Reconciliation audits who compared the bill; a scheduled run is recorded as this account.
JOB_ACTOR = StaffIdentity(id=0, username="job:reconciliation", role=Role.FINANCE, scope=CITY_WIDE)


async def reconcile_bills(ctx: JobContext, day: date) -> JobDetail:
    """Download each sub-merchant's trade bill of the day and reconcile it (audited)."""
    if ctx.bills is None:
        raise JobPortMissingError(detail="WeChat Pay bills (run it in the server)")
    check_bill_date(day, ctx.clock.now())
    async with ctx.uows() as uow:
        merchants = await uow.city.sub_mchids()
    differences = balanced = 0
    for n, sub_mchid in enumerate(merchants):
        ctx.progress(n, len(merchants))
        report = await reconcile_day(
            ctx.uows, ctx.clock, ctx.bills, day=day, sub_mchid=sub_mchid, actor=JOB_ACTOR
        )
        differences += len(report.differences)
        balanced += report.balanced
    ctx.progress(len(merchants), len(merchants))
    return {"sub_merchants": len(merchants), "balanced": balanced, "differences": differences}


def reminders_job(policy: ReminderPolicy) -> JobSpec:
    """The arrears reminders with the deployment's policy (queueing is idempotent per stay)."""

    async def run(ctx: JobContext, _: date) -> JobDetail:
        async with ctx.uows() as uow:
            return {"queued": await queue_reminders(uow, ctx.clock, policy)}

    return JobSpec("arrears-reminders", Period.DAILY, run, "欠费催缴提醒", at=time(9, 0))


async def retry_invoices(ctx: JobContext, _: date) -> JobDetail:
    """Send, poll and reverse the invoices that are due (the sweep also runs every minute)."""
    if ctx.invoice_providers is None:
        raise JobPortMissingError(detail="invoicing providers (run it in the server)")
    return {"advanced": await sweep_invoices(ctx.uows, ctx.clock, ctx.invoice_providers)}


async def share_profits(ctx: JobContext, day: date) -> JobDetail:
    """Send the day's profit shares (分账) and take back shares of refunds; docs/settlement.md."""
    if ctx.profit_sharing is None:
        raise JobPortMissingError(detail="WeChat Pay profit sharing (run it in the server)")
    run = await run_profit_sharing(ctx.uows, ctx.clock, ctx.profit_sharing, day)
    return {
        "orders_finished": run.orders_finished,
        "shared_fen": run.shared_fen,
        "returned_fen": run.returned_fen,
        "failed": len(run.failed),
    }


async def recognise_pass_revenue(ctx: JobContext, first: date) -> JobDetail:
    """Move the part of passes a month served from deferred to operator revenue, per operator."""
    start, end = month_bounds(first)
    posted = 0
    async with ctx.uows() as uow:
        earned: dict[str, int] = {}
        for term in await uow.rollups.pass_terms(start, end):
            fen = earned_in_month(term.kept_fen, term.start, term.end, first)
            earned[term.operator_code] = earned.get(term.operator_code, 0) + fen
        for operator, fen in sorted(earned.items()):
            reference = f"DR:{operator}:{first:%Y-%m}"
            if fen <= 0 or await uow.ledger.entries_for(reference):
                continue
            # Dated in the month it belongs to, so the month's reports carry it.
            at = end - timedelta(seconds=1)
            await uow.ledger.post(pass_revenue_recognised(reference, operator, fen), at)
            posted += fen
        last_day = next_month(first) - timedelta(days=1)
        if day_bounds(last_day)[1] <= ctx.clock.now():
            await roll_up_revenue(uow, last_day)  # the day's roll-up now includes the entries
        await uow.commit()
    return {"operators": len(earned), "recognised_fen": posted}


def city_jobs(reminders: ReminderPolicy) -> JobRegistry:
    """Every job the city runs; the scheduler and `parking jobs run` read this one list."""
    return JobRegistry(
        (
            JobSpec("rollups", Period.DAILY, run_rollups, "报表日汇总", at=time(1, 0)),
            JobSpec(
                "reconciliation", Period.DAILY, reconcile_bills, "下载账单并对账", at=time(10, 30)
            ),
            reminders_job(reminders),
            JobSpec("invoice-retries", Period.DAILY, retry_invoices, "发票重试", at=time(3, 0)),
            JobSpec("profit-sharing", Period.DAILY, share_profits, "分账", at=time(11, 0)),
            JobSpec(
                "deferred-revenue",
                Period.MONTHLY,
                recognise_pass_revenue,
                "月卡递延收入确认",
                at=time(1, 30),
            ),
        )
    )
