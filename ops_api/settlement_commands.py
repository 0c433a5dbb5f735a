"""`parking settlement ...`: a clerk's statement, write-off and hand-over files; sharing by hand."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from adapters.xlsx import to_xlsx
from config.settings import Settings
from core.clock import SystemClock
from core.errors import DomainError
from core.handovers import BatchNotFoundError, batch_sheet
from core.services.profit_sharing import run_profit_sharing
from core.services.settlement import monthly_statement
from core.settlement import month_bounds, statement_sheet
from core.sheets import Sheet, to_csv
from core.store.database import open_database
from core.store.unit_of_work import UnitOfWork
from core.write_offs import WriteOffStatus, write_offs_sheet


def _write(sheet: Sheet, out: str) -> None:
    path = Path(out)
    path.write_bytes(to_csv(sheet) if path.suffix.lower() == ".csv" else to_xlsx(sheet))
    print(f"wrote {path}")


async def statement_command(settings: Settings, operator: str, month: str, out: str) -> int:
    """Write an operator's monthly statement to a .xlsx or .csv file; 1 if not reconciled."""
    database = open_database(settings.database_url)
    try:
        async with UnitOfWork(database.sessions, read_only=True) as uow:
            found = await monthly_statement(uow, operator, date.fromisoformat(f"{month}-01"))
    except DomainError as exc:
        print(f"parking settlement statement: {exc.message_zh} ({exc.detail})", file=sys.stderr)
        return 1
    except ValueError as exc:  # a month that is not YYYY-MM
        print(f"parking settlement statement: {exc}", file=sys.stderr)
        return 1
    finally:
        await database.dispose()
    _write(statement_sheet(found), out)
    if not found.reconciled:
        print(
            f"not reconciled: net {found.net_fen} fen, ledger {found.ledger_clearing_fen} fen",
            file=sys.stderr,
        )
        return 1
    return 0


async def handover_command(settings: Settings, ref: str, out: str) -> int:
    """Write a hand-over batch to a .xlsx or .csv file."""
    database = open_database(settings.database_url)
    try:
        async with UnitOfWork(database.sessions, read_only=True) as uow:
            batch = await uow.handovers.batch(ref)
    finally:
        await database.dispose()
    if batch is None:
        print(
            f"parking settlement handover: {BatchNotFoundError.message_zh} {ref}", file=sys.stderr
        )
        return 1
    _write(batch_sheet(batch), out)
    return 0


async def share_command(settings: Settings, day: str) -> int:
    """Run the day's profit sharing (idempotent) and print what it did."""
    from server.wechat import build_services

    clock = SystemClock()
    services = build_services(settings, clock)
    if services is None:
        print("parking settlement share: WeChat Pay is not configured", file=sys.stderr)
        return 2
    database = open_database(settings.database_url)
    try:
        done = await run_profit_sharing(
            lambda: UnitOfWork(database.sessions),
            clock,
            services.profit_sharing,
            date.fromisoformat(day),
        )
    finally:
        await services.aclose()
        await database.dispose()
    print(
        f"{done.period}: {done.orders_finished} orders, {done.shared_fen} fen shared, "
        f"{done.returned_fen} fen returned, {len(done.failed)} left for the next run"
    )
    return 1 if done.failed else 0


async def write_offs_command(settings: Settings, month: str, out: str) -> int:
    """Write the month's approved write-offs (坏账核销) to a .xlsx or .csv file."""
    try:
        start, end = month_bounds(date.fromisoformat(f"{month}-01"))
    except ValueError as exc:
        print(f"parking settlement write-offs: {exc}", file=sys.stderr)
        return 1
    database = open_database(settings.database_url)
    try:
        async with UnitOfWork(database.sessions, read_only=True) as uow:
            found = await uow.write_offs.listed(WriteOffStatus.APPROVED, start, end, limit=100_000)
    finally:
        await database.dispose()
    _write(write_offs_sheet(f"{month} 坏账核销", found), out)
    return 0
