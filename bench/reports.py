"""Benchmark the reports over a month of a 2,000-lot city: `python -m bench.reports`.

Target (issue 21): a month of a 2,000-lot city (about a million stays) reports in under 2 s
on PostgreSQL, from the daily roll-ups. A PostgreSQL database gets the demo city, 2,000 more
lots, and `--stays` closed stays over November 2026 written in SQL, each with its charge and,
for nine in ten, its settlement in the ledger (scan, 无感支付 or stored value)
and a payment row. The daily roll-up job then runs for each of the 30 days (timed), and every
report over the whole month is built `--rounds` times (p50 and worst printed, beside the
target), then written once as XLSX (timed apart: openpyxl's own speed, not the roll-ups').
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import date, timedelta

import asyncpg

from bench._lane_centre import drop, percentile, prepare
from bench._server import machine_speed

TARGET_S = 2.0
MONTH = date(2026, 11, 1)
DAYS = 30

CITY = """
INSERT INTO lots (code, name, kind, district_id, operator_id, tariff_code, capacity, lat, lng)
SELECT 'LOT-R' || lpad(n::text, 4, '0'), '压测停车场' || n, 'public',
       (SELECT id FROM districts ORDER BY id LIMIT 1 OFFSET n % 2),
       (SELECT id FROM operators ORDER BY id LIMIT 1 OFFSET n % 2),
       'lot-standard', 50 + n % 400, 29.87, 121.55
FROM generate_series(1, $1::int) AS n;

CREATE TEMP TABLE bench_lots AS
SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, operator_id FROM lots WHERE code LIKE 'LOT-R%';

CREATE TEMP TABLE bench_stays AS
SELECT s, 'RS' || s AS ref,
       '浙' || substr('ABCDEFGHJK', 1 + s % 10, 1) || lpad((s % 99991)::text, 5, '0') AS plate,
       l.id AS lot_id, o.code AS operator_code, o.sub_mchid,
       timestamptz '2026-11-01 06:00+08' + (s % $2::int) * interval '1 day'
         + ((s::bigint * 7919) % 960) * interval '1 minute' AS entered_at,
       20 + (s::bigint * 104729) % 220 AS minutes,
       100 + ((s::bigint * 7907) % 20) * 100 AS fee_fen,
       s % 10 AS kind
FROM generate_series(1, $3::int) AS s
JOIN bench_lots AS l ON l.n = s % $1::int
JOIN operators AS o ON o.id = l.operator_id;

INSERT INTO stays (ref, plate, operator_id, lot_id, vehicle_class, status, entered_at, exited_at,
                   fee_fen)
SELECT b.ref, b.plate, o.id, b.lot_id, 'small', 'closed', b.entered_at,
       b.entered_at + b.minutes * interval '1 minute', b.fee_fen
FROM bench_stays AS b JOIN operators AS o ON o.code = b.operator_code;

-- kinds 0-5 scan, 6-7 无感支付, 8 stored value, 9 unpaid
INSERT INTO payments (out_trade_no, channel, purpose, stay_ref, settled_stay_ref, plate,
                      operator_code, sub_mchid, appid, payer_openid, amount_fen, status,
                      transaction_id, created_at, paid_at, refunded_fen, version)
SELECT 'PKR' || s, CASE WHEN kind < 6 THEN 'wechat_jsapi' ELSE 'wechat_parking' END, 'stay',
       ref, ref,
       plate, operator_code, sub_mchid, 'wx-bench', 'o-bench', fee_fen, 'paid', 'TR' || s,
       entered_at + minutes * interval '1 minute', entered_at + minutes * interval '1 minute', 0, 1
FROM bench_stays WHERE kind < 8;

CREATE TEMP TABLE bench_entries AS
SELECT 'stay_charged' AS kind, ref AS reference, entered_at + minutes * interval '1 minute' AS at,
       'driver_receivable:' || plate AS debit, 'operator_revenue:' || operator_code AS credit,
       fee_fen
FROM bench_stays
UNION ALL
SELECT 'payment_settled', 'PKR' || s, entered_at + minutes * interval '1 minute',
       'wechat_clearing:' || sub_mchid, 'driver_receivable:' || plate, fee_fen
FROM bench_stays WHERE kind < 8
UNION ALL
SELECT 'stored_value_spent', ref, entered_at + minutes * interval '1 minute',
       'stored_value:SV-' || s, 'driver_receivable:' || plate, fee_fen
FROM bench_stays WHERE kind = 8;

ALTER TABLE bench_entries ADD COLUMN id bigserial;

INSERT INTO ledger_entries (id, kind, reference, created_at)
SELECT id + (SELECT coalesce(max(id), 0) FROM ledger_entries), kind, reference, at
FROM bench_entries;

CREATE TEMP TABLE bench_offset AS
SELECT max(id) - (SELECT count(*) FROM bench_entries) AS top FROM ledger_entries;

INSERT INTO ledger_postings (entry_id, account, debit_fen, credit_fen)
SELECT e.id + m.top, e.debit, e.fee_fen, 0 FROM bench_entries AS e, bench_offset AS m
UNION ALL
SELECT e.id + m.top, e.credit, 0, e.fee_fen FROM bench_entries AS e, bench_offset AS m;

SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), (SELECT max(id) FROM ledger_entries))
"""


async def load(url: str, lots: int, stays: int) -> None:
    """Add the lots, stays, payments and ledger entries in SQL, then statistics."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with connection.transaction():
            for statement in CITY.split(";\n"):
                if statement.strip():
                    args = [lots, DAYS, stays]
                    count = sum(f"${n}" in statement for n in (1, 2, 3))
                    await connection.execute(statement, *args[:count])
        await connection.execute("ANALYZE")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


async def roll_up(url: str) -> list[float]:
    """Run the daily roll-up job for every day of the month; seconds per day."""
    from core.clock import SystemClock
    from core.jobs import JobContext
    from core.services.rollups import run_rollups
    from core.store.database import open_database
    from core.store.unit_of_work import UnitOfWork

    store = open_database(url)
    ctx = JobContext(uows=lambda: UnitOfWork(store.sessions), clock=SystemClock())
    spent = []
    try:
        for n in range(DAYS):
            start = time.perf_counter()
            await run_rollups(ctx, MONTH + timedelta(days=n))
            spent.append(time.perf_counter() - start)
    finally:
        await store.dispose()
    return spent


async def measure(url: str, rounds: int) -> list[tuple[str, list[float], float]]:
    """Seconds to build each report over the month (`rounds` times after a warm-up), and to
    write it once as XLSX."""
    from core.reports.exports import as_xlsx
    from core.reports.periods import DateRange
    from core.services.reports import REPORTS, build_report
    from core.staff import CITY_WIDE
    from core.store.database import open_database
    from core.store.report_repository import REVENUE_KEYS
    from core.store.unit_of_work import UnitOfWork

    store = open_database(url)
    month = DateRange(MONTH, MONTH + timedelta(days=DAYS - 1))
    asked: list[tuple[str, str | None]] = [(name, None) for name in REPORTS]
    asked += [("revenue", by) for by in REVENUE_KEYS if by != "day"] + [("occupancy", "hour")]
    results = []
    try:
        for name, by in asked:
            spent = []
            for n in range(rounds + 1):
                start = time.perf_counter()
                async with UnitOfWork(store.sessions, read_only=True) as uow:
                    report = await build_report(uow, name, month, CITY_WIDE, by=by)
                if n:
                    spent.append(time.perf_counter() - start)
            start = time.perf_counter()
            as_xlsx(report)
            xlsx = time.perf_counter() - start
            label = f"{name} by {by}" if by else name
            results.append((f"{label} ({len(report.rows)} rows)", spent, xlsx))
    finally:
        await store.dispose()
    return results


async def run(args: argparse.Namespace) -> int:
    database = f"bench_reports_{uuid.uuid4().hex[:8]}"
    url = await prepare(database, 0)
    try:
        start = time.perf_counter()
        await load(url, args.lots, args.stays)
        print(
            f"loaded {args.stays:,} stays in {args.lots:,} lots over {DAYS} days in"
            f" {time.perf_counter() - start:.1f} s",
            flush=True,
        )
        days = await roll_up(url)
        print(
            f"daily roll-up job: {sum(days):.1f} s for {DAYS} days"
            f" (p50 {percentile(days, 0.5):.2f} s, worst {max(days):.2f} s a day)",
            flush=True,
        )
        probe = machine_speed()
        results = await measure(url, args.rounds)
        print(f"machine speed probe: {probe:.0f} µs before, {machine_speed():.0f} µs after")
        worst = 0.0
        for name, spent, xlsx in results:
            worst = max(worst, max(spent))
            print(
                f"{name:44} p50 {percentile(spent, 0.5):6.3f} s  worst {max(spent):6.3f} s"
                f"  as XLSX {xlsx:6.3f} s"
            )
        print(f"worst report built / target {TARGET_S:.0f} s = {worst / TARGET_S:.2f}")
    finally:
        await drop(database)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lots", type=int, default=2000)
    parser.add_argument("--stays", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
