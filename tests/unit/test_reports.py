"""Report rules: hourly occupancy, pass revenue earned by month, ageing buckets, exports."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from core.billing import SHANGHAI
from core.jobs import (
    JobRegistry,
    JobSpec,
    Period,
    UnknownJobError,
)
from core.reports import catalog
from core.reports.ageing import bucket_of
from core.reports.charts import as_svg
from core.reports.exports import as_csv, as_dict
from core.reports.occupancy import HourUse, Span, hourly_use, occupancy_rate, turnover
from core.reports.periods import DateRange, ReportRangeError, earned_by, earned_in_month, next_month

DAY = date(2026, 11, 20)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def test_a_stay_across_hours_counts_its_seconds_in_each_and_arrives_once() -> None:
    use = hourly_use([Span("HS1", at(8, 30), at(10, 15))], DAY, at(23))
    assert use == {
        ("HS1", 8): HourUse(1, 1800),
        ("HS1", 9): HourUse(0, 3600),
        ("HS1", 10): HourUse(0, 900),
    }


def test_a_stay_from_the_day_before_or_still_open_counts_only_within_the_day() -> None:
    overnight = Span("LOT", at(23, 0, DAY - timedelta(days=1)), at(1, 0))
    still_there = Span("LOT", at(22, 30), None)
    use = hourly_use([overnight, still_there], DAY, at(23, 0))
    assert use[("LOT", 0)] == HourUse(0, 3600)  # arrived the day before: no arrival today
    assert use[("LOT", 22)] == HourUse(1, 1800)
    assert ("LOT", 23) not in use  # open stays run to now, not past it


def test_occupancy_rate_and_turnover() -> None:
    assert occupancy_rate(3600 * 5, berths=10, hours=1) == 0.5
    assert turnover(arrivals=60, berths=10, days=2) == 3.0
    assert occupancy_rate(0, 0, 1) == turnover(5, 0, 1) == 0.0


@pytest.mark.parametrize("amount", [1, 99, 30000, 123457])
def test_a_pass_is_earned_month_by_month_to_the_fen(amount: int) -> None:
    start, end = at(12, 0, date(2026, 11, 16)), at(0, 0, date(2027, 2, 16))
    months = [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]
    shares = [earned_in_month(amount, start, end, m) for m in months]
    assert sum(shares) == amount
    assert all(s >= 0 for s in shares) and shares[1] >= shares[0]
    assert earned_in_month(amount, start, end, date(2027, 3, 1)) == 0
    assert earned_by(amount, start, end, start - timedelta(days=1)) == 0


def test_months_roll_over_the_year() -> None:
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert next_month(date(2026, 1, 31)) == date(2026, 2, 1)


@pytest.mark.parametrize(
    ("age", "bucket"),
    [(0, "0-7"), (7, "0-7"), (8, "8-30"), (31, "31-90"), (91, "91-180"), (400, "181+")],
)
def test_ageing_buckets(age: int, bucket: str) -> None:
    assert bucket_of(age) == bucket


def test_a_range_must_run_forwards_and_not_too_long() -> None:
    assert DateRange(DAY, DAY).days == 1
    with pytest.raises(ReportRangeError):
        DateRange(DAY, DAY - timedelta(days=1))
    with pytest.raises(ReportRangeError):
        DateRange(DAY, DAY + timedelta(days=400))


ROWS = [
    (date(2026, 11, 20), "scan", "collected", 3, 1500),
    (date(2026, 11, 20), "cash", "collected", 1, 500),
    (date(2026, 11, 20), "scan", "refunded", 1, 100),
    (date(2026, 11, 20), "waiver", "waived", 1, 800),
    (date(2026, 11, 20), "top_up", "collected", 1, 5000),
    (date(2026, 11, 21), "arrears_recovered", "collected", 2, 1200),
]


def test_revenue_puts_channels_in_columns_and_refunds_and_waivers_apart() -> None:
    report = catalog.revenue(DateRange(DAY, DAY + timedelta(days=1)), "day", ROWS)
    first, second = report.rows
    assert (first["scan"], first["cash"], first["collected"]) == (1500, 500, 2000)
    assert (first["refunded"], first["waived"], first["net"]) == (100, 800, 1900)
    assert second["arrears_recovered"] == second["collected"] == 1200
    totals = report.totals or {}
    assert (totals["key"], totals["collected"], totals["net"]) == ("合计", 3200, 3100)
    assert "top_up" not in first  # stored value sold is owed, not earned


def test_csv_has_a_bom_chinese_headers_and_yuan() -> None:
    report = catalog.revenue(DateRange(DAY, DAY + timedelta(days=1)), "day", ROWS)
    text = as_csv(report).decode("utf-8")
    assert text.startswith("\ufeff营收报表（按日期）")
    lines = text.splitlines()
    assert lines[1].startswith("日期,扫码支付（元）,无感支付（元）,现金（元）")
    assert lines[2].split(",")[:4] == ["2026-11-20", "15.00", "0.00", "5.00"]
    assert lines[-1].startswith("合计,15.00")
    assert as_dict(report)["totals"]["collected"] == 3200


def test_the_chart_is_svg_with_the_chinese_title_and_series() -> None:
    report = catalog.revenue(DateRange(DAY, DAY + timedelta(days=1)), "day", ROWS)
    svg = as_svg(report).decode("utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "营收报表（按日期）" in svg and "扫码支付（元）" in svg


def test_the_arrears_report_gives_the_recovery_rate() -> None:
    report = catalog.arrears_ageing(
        DateRange(DAY, DAY), [("0-7", 3, 3000), ("181+", 1, 1000)], recovered_fen=4000
    )
    assert [r["due"] for r in report.rows] == [3000, 0, 0, 0, 1000]
    assert report.summary == {"recovered_fen": 4000, "outstanding_fen": 4000, "recovery_rate": 0.5}


async def _nothing(ctx: object, period: date) -> dict[str, int]:
    return {}


def test_a_registry_refuses_a_name_twice_and_names_it_does_not_know() -> None:
    spec = JobSpec("rollups", Period.DAILY, _nothing, "报表日汇总")
    registry = JobRegistry((spec,))
    with pytest.raises(ValueError, match="twice"):
        registry.register(spec)
    with pytest.raises(UnknownJobError):
        registry.get("profit-sharing")
    assert [s.name for s in registry] == ["rollups"]


def test_due_periods_are_yesterday_and_last_month() -> None:
    now = at(1, 0, date(2026, 12, 1))
    daily = JobSpec("d", Period.DAILY, _nothing, "")
    monthly = JobSpec("m", Period.MONTHLY, _nothing, "")
    assert daily.due_period(now) == date(2026, 11, 30)
    assert monthly.due_period(now) == date(2026, 11, 1)
    assert monthly.period_of(date(2026, 11, 17)) == date(2026, 11, 1)
