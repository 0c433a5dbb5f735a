"""Every report over a seeded simulated week, its sums checked against the ledger to the fen."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from core.bills import day_bounds
from core.clock import FrozenClock
from core.jobs import JobContext
from core.reports.exports import as_xlsx
from core.reports.periods import DateRange
from core.reports.tables import ColumnKind, Report
from core.services.daily_jobs import recognise_pass_revenue
from core.services.reports import REPORTS, build_report
from core.services.rollups import run_rollups
from core.staff import CITY_WIDE, Scope
from core.store.activity import LedgerEntryRow, LedgerPostingRow
from core.store.unit_of_work import UnitOfWork
from tests.integration.reports.week import DAYS, FIRST, HEARD_HOURS, LAST, Expected, seed_week

WEEK = DateRange(FIRST, LAST)
Uows = Callable[[], UnitOfWork]


async def _ledger_fen(uows: Uows, kinds: tuple[str, ...], first: date, last: date) -> int:
    """What the ledger's entries of these kinds moved in the days, read straight from it."""
    start, end = day_bounds(first)[0], day_bounds(last)[1]
    async with uows() as uow:
        total = await uow.session.scalar(
            select(func.coalesce(func.sum(LedgerPostingRow.debit_fen), 0))
            .join(LedgerEntryRow, LedgerEntryRow.id == LedgerPostingRow.entry_id)
            .where(
                LedgerEntryRow.kind.in_(kinds),
                LedgerEntryRow.created_at >= start,
                LedgerEntryRow.created_at < end,
            )
        )
    return int(total or 0)


@pytest.fixture
async def week(uow_factory: Uows, clock: FrozenClock) -> Expected:
    """The week seeded and rolled up by the daily job, one day at a time."""
    async with uow_factory() as uow:
        expected = await seed_week(uow)
        await uow.commit()
    ctx = JobContext(uows=uow_factory, clock=clock)
    for n in range(DAYS):
        await run_rollups(ctx, FIRST + timedelta(days=n))
    return expected


async def _report(uows: Uows, name: str, by: str | None = None, scope: Scope = CITY_WIDE) -> Report:
    async with uows() as uow:
        return await build_report(uow, name, WEEK, scope, by=by)


@pytest.mark.parametrize("by", ["day", "lot", "zone", "district", "operator", "sub_merchant"])
async def test_revenue_by_each_dimension_sums_to_the_ledger(
    week: Expected, uow_factory: Uows, by: str
) -> None:
    report = await _report(uow_factory, "revenue", by)
    totals = report.totals or {}
    collected = ("payment_settled", "cash_received", "stored_value_spent", "pass_sold")
    assert totals["collected"] == await _ledger_fen(uow_factory, collected, FIRST, LAST)
    refunded = await _ledger_fen(uow_factory, ("payment_refunded", "pass_refunded"), FIRST, LAST)
    assert totals["refunded"] == refunded > 0
    assert totals["waived"] == await _ledger_fen(uow_factory, ("fee_waived",), FIRST, LAST) > 0
    assert totals["net"] == int(totals["collected"]) - refunded
    for channel in ("scan", "auto_deduct", "cash", "stored_value", "arrears_recovered", "pass"):
        assert int(totals[channel]) > 0, channel
    cash = await _ledger_fen(uow_factory, ("cash_received",), FIRST, LAST)
    stored = await _ledger_fen(uow_factory, ("stored_value_spent",), FIRST, LAST)
    assert (totals["cash"], totals["stored_value"]) == (cash, stored)
    assert sum(int(r["collected"]) for r in report.rows) == totals["collected"]


async def test_revenue_by_day_has_each_day_and_a_scope_sees_its_own(
    week: Expected, uow_factory: Uows
) -> None:
    report = await _report(uow_factory, "revenue")
    assert [r["key"] for r in report.rows] == [d.isoformat() for d in WEEK.each_day()]
    city = await _report(uow_factory, "revenue", "operator")
    hospital = await _report(uow_factory, "revenue", "lot", Scope(lots=frozenset({"LOT-HOSP"})))
    assert [r["key"] for r in hospital.rows] == ["LOT-HOSP"]
    by_lot = {r["key"]: r for r in (await _report(uow_factory, "revenue", "lot")).rows}
    assert hospital.rows[0]["collected"] == by_lot["LOT-HOSP"]["collected"]
    assert (city.totals or {})["collected"] == int((hospital.totals or {})["collected"]) + sum(
        int(r["collected"]) for k, r in by_lot.items() if k != "LOT-HOSP"
    )


async def test_passes_and_top_ups_sum_to_the_ledger_and_pass_revenue_is_recognised(
    week: Expected, uow_factory: Uows, clock: FrozenClock
) -> None:
    report = await _report(uow_factory, "passes")
    totals = report.totals or {}
    assert totals["pass_sold"] == await _ledger_fen(uow_factory, ("pass_sold",), FIRST, LAST)
    assert totals["top_up"] == await _ledger_fen(
        uow_factory, ("stored_value_topped_up",), FIRST, LAST
    )
    assert totals["top_up_refunded"] == 2000
    assert totals["recognised"] == 0
    clock.set(datetime(2026, 12, 2, 9, tzinfo=clock.now().tzinfo))
    ctx = JobContext(uows=uow_factory, clock=clock)
    november = await recognise_pass_revenue(ctx, date(2026, 11, 1))
    again = await recognise_pass_revenue(ctx, date(2026, 11, 1))
    assert again["recognised_fen"] == 0  # the month's entry exists: nothing posted twice
    async with uow_factory() as uow:
        month = DateRange(FIRST, date(2026, 11, 30))
        nov = await build_report(uow, "passes", month, CITY_WIDE)
    recognised = await _ledger_fen(
        uow_factory, ("pass_revenue_recognised",), FIRST, date(2026, 11, 30)
    )
    assert nov.rows[0]["recognised"] == recognised == november["recognised_fen"]
    assert recognised > 0
    clock.set(datetime(2027, 1, 2, 9, tzinfo=clock.now().tzinfo))
    december = await recognise_pass_revenue(ctx, date(2026, 12, 1))
    # Every pass ends within December: the two months recognise exactly what was kept.
    assert int(november["recognised_fen"]) + int(december["recognised_fen"]) == week.pass_kept_fen


async def test_occupancy_arrears_shifts_devices_and_invoices(
    week: Expected, uow_factory: Uows
) -> None:
    places = await _report(uow_factory, "occupancy")
    assert (places.totals or {})["arrivals"] == week.arrivals
    assert all(0 < float(r["occupancy"]) <= 1 for r in places.rows)
    hours = await _report(uow_factory, "occupancy", "hour")
    assert (hours.totals or {})["arrivals"] == week.arrivals
    assert {r["key"] for r in hours.rows} <= {f"{h:02d}:00" for h in range(24)}
    assert all(0 <= float(r["occupancy"]) <= 1 for r in hours.rows)
    # The city's hours weigh each place by its berths: the same seconds over all berths.
    busiest = max(hours.rows, key=lambda r: float(r["occupancy"]))
    assert 0 < float(busiest["occupancy"]) < max(float(r["occupancy"]) for r in places.rows) * 24
    ageing = await _report(uow_factory, "arrears-ageing")
    assert (ageing.totals or {})["due"] == week.unpaid_street_fen > 0
    recovered = ageing.summary["recovered_fen"]
    assert recovered == ((await _report(uow_factory, "revenue")).totals or {})["arrears_recovered"]
    assert ageing.summary["recovery_rate"] == round(
        int(recovered) / (int(recovered) + week.unpaid_street_fen), 4
    )
    shifts = await _report(uow_factory, "cashier-shifts")
    totals = shifts.totals or {}
    assert (totals["shifts"], totals["expected"], totals["counted"]) == (
        week.shifts,
        week.expected_cash_fen,
        week.counted_cash_fen,
    )
    assert totals["difference"] == week.counted_cash_fen - week.expected_cash_fen
    devices = await _report(uow_factory, "device-uptime")
    sensors = [r for r in devices.rows if r["kind"] == "berth_sensor"]
    heard = sum(float(r["uptime"]) * int(r["devices"]) for r in sensors) * 24 * DAYS
    assert round(heard) == len(week.heartbeating) * HEARD_HOURS * DAYS
    invoices = await _report(uow_factory, "invoices")
    assert (invoices.totals or {})["issued_fen"] == week.invoiced_fen


async def test_rolling_a_day_up_again_changes_nothing(
    week: Expected, uow_factory: Uows, clock: FrozenClock
) -> None:
    before = await _report(uow_factory, "revenue", "lot")
    await run_rollups(JobContext(uows=uow_factory, clock=clock), FIRST + timedelta(days=3))
    after = await _report(uow_factory, "revenue", "lot")
    assert after.rows == before.rows and after.totals == before.totals


@pytest.mark.parametrize("name", sorted(REPORTS))
async def test_each_xlsx_opens_with_chinese_headers_and_its_totals(
    week: Expected, uow_factory: Uows, name: str
) -> None:
    report = await _report(uow_factory, name)
    sheet = load_workbook(io.BytesIO(as_xlsx(report))).active
    assert sheet is not None
    assert sheet["A1"].value == report.title_zh
    headers = [cell.value for cell in sheet[2]]
    assert headers == [
        c.header_zh + ("（元）" if c.kind is ColumnKind.FEN else "") for c in report.columns
    ]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in str(h)) for h in headers)
    assert sheet.max_row == 2 + len(report.rows) + 1
    last = [cell for cell in sheet[sheet.max_row]]
    assert last[0].value == "合计"
    for cell, column in zip(last, report.columns, strict=True):
        total = (report.totals or {})[column.key]
        if column.kind is ColumnKind.FEN and total != "":
            assert Decimal(str(cell.value)) == Decimal(int(total)) / 100
            assert cell.number_format == "#,##0.00"
        elif column.kind is ColumnKind.COUNT and total != "":
            assert cell.value == total
