"""Shared by the lane benchmarks: a fresh PostgreSQL city with many lots, a centre process."""

from __future__ import annotations

import os
import subprocess
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench._server import start_server

if TYPE_CHECKING:
    from core.store.database import Database

ADMIN_URL = os.environ.get("PARKING_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def database_url(database: str) -> str:
    """The SQLAlchemy URL of a database on the bench's server (a `?host=` socket path kept)."""
    parts = urlsplit(ADMIN_URL)
    url = urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{database}"))
    return url


def lot_code(n: int) -> str:
    """The code of the n-th extra lot."""
    return f"LOT-B{n:03d}"


async def demo_city_database(database: str) -> tuple[str, Database]:
    """Create and migrate a fresh database holding the demo city; its URL and an open engine."""
    from core.clock import SystemClock
    from core.store import migration
    from core.store.database import open_database
    from core.store.unit_of_work import UnitOfWork
    from sandbox.demo_city import load_demo_city

    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {database}")
    await admin.close()
    url = database_url(database)
    store = open_database(url)
    async with store.engine.begin() as connection:
        await migration.upgrade_connection(connection)
    async with UnitOfWork(store.sessions) as uow:
        await load_demo_city(uow, SystemClock())
        await uow.commit()
    return url, store


async def prepare(database: str, lots: int) -> str:
    """Create, migrate and seed a database with the demo city plus `lots` lots (E1 and X1 each)."""
    from core.store.city import DeviceRow, LaneRow, LotRow
    from core.store.unit_of_work import UnitOfWork

    url, store = await demo_city_database(database)
    async with UnitOfWork(store.sessions) as uow:
        model = await uow.city.lot_by_code("LOT-TIANYI")
        assert model is not None
        for n in range(lots):
            lot = LotRow(
                code=lot_code(n),
                name=f"压测停车场{n}",
                kind="mall",
                district_id=model.district_id,
                operator_id=model.operator_id,
                tariff_code=model.tariff_code,
                capacity=100000,
                lat=Decimal("29.87"),
                lng=Decimal("121.55"),
            )
            uow.session.add(lot)
            await uow.session.flush()
            for code, direction in (("E1", "entry"), ("X1", "exit")):
                lane = LaneRow(lot_id=lot.id, code=code, name=code, direction=direction)
                uow.session.add(lane)
                await uow.session.flush()
                uow.session.add(
                    DeviceRow(
                        code=f"{lot.code}-{code}-anpr_camera",
                        kind="anpr_camera",
                        vendor="own",
                        lane_id=lane.id,
                    )
                )
        await uow.commit()
    await store.dispose()
    return url


# A city that has been running: closed stays in the bench lots over the past 30 days, each with
# its lot stay, two passages, its charge and its payment (two postings each). Plates are 浙?Z + 4
# digits: the fuzzy match's patterns of the bench's plates reach some of them, as in a real lot.
HISTORY = """
CREATE TEMP TABLE history ON COMMIT DROP AS
SELECT s AS n, lots.id AS lot_id, lots.operator_id, lots.tariff_code,
       ops.code AS operator_code, ops.sub_mchid,
       (SELECT id FROM lanes WHERE lot_id = lots.id AND direction = 'entry') AS entry_lane,
       (SELECT id FROM lanes WHERE lot_id = lots.id AND direction = 'exit') AS exit_lane,
       '浙' || substr('ACEFGHJKLMNPRTUVWXY', 1 + s % 19, 1) || 'Z'
         || lpad((s % 10000)::text, 4, '0') AS plate,
       now() - (s % 43200) * interval '1 minute' - interval '3 hours' AS entered_at
FROM generate_series(1, $1::int) AS s
JOIN lots ON lots.code = 'LOT-B' || lpad((s % $2::int)::text, 3, '0')
JOIN operators AS ops ON ops.id = lots.operator_id;

INSERT INTO stays (ref, plate, operator_id, lot_id, vehicle_class, status, entered_at,
                   exited_at, fee_fen, tariff_code, tariff_version)
SELECT 'hist' || n, plate, operator_id, lot_id, 'small', 'closed', entered_at,
       entered_at + interval '2 hours', 800, tariff_code, 1
FROM history;

INSERT INTO lot_stays (stay_id, access, entry_lane_id, exit_lane_id, paid_fen, paid_at,
                       validation_fen)
SELECT stays.id, 'temporary', entry_lane, exit_lane, 800, stays.exited_at, 0
FROM history JOIN stays ON stays.ref = 'hist' || n;

INSERT INTO lane_passages (ref, dedupe_key, lane_id, direction, plate, read_at, stay_id, action,
                           reason, display, fee_fen, status, details, created_at)
SELECT 'hist' || d || n, 'hist/' || d || n, CASE d WHEN 'e' THEN entry_lane ELSE exit_lane END,
       CASE d WHEN 'e' THEN 'entry' ELSE 'exit' END, history.plate, t, stays.id, 'open',
       'temporary', '一路顺风', CASE d WHEN 'x' THEN 800 END, 'done', '{}'::jsonb, t
FROM history JOIN stays ON stays.ref = 'hist' || n,
     LATERAL (VALUES ('e', stays.entered_at), ('x', stays.exited_at)) AS p(d, t);

INSERT INTO ledger_entries (kind, reference, created_at)
SELECT k, 'hist' || n, entered_at + interval '2 hours'
FROM history, (VALUES ('stay_charged'), ('payment_settled')) AS e(k);

INSERT INTO ledger_postings (entry_id, account, debit_fen, credit_fen)
SELECT e.id, a, dr, cr
FROM history JOIN ledger_entries AS e ON e.reference = 'hist' || n,
     LATERAL (VALUES
       ('driver_receivable:' || plate, CASE e.kind WHEN 'stay_charged' THEN 800 ELSE 0 END,
        CASE e.kind WHEN 'stay_charged' THEN 0 ELSE 800 END),
       (CASE e.kind WHEN 'stay_charged' THEN 'operator_revenue:' || operator_code
                    ELSE 'wechat_clearing:' || coalesce(sub_mchid, '-') END,
        CASE e.kind WHEN 'stay_charged' THEN 0 ELSE 800 END,
        CASE e.kind WHEN 'stay_charged' THEN 800 ELSE 0 END)) AS p(a, dr, cr);
"""


async def load_history(url: str, lots: int, stays: int) -> None:
    """Fill the bench lots with `stays` closed stays, then gather statistics as autovacuum would
    and checkpoint.

    Plans are made from statistics: on empty tables PostgreSQL would plan for empty tables.
    """
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        if stays:
            async with connection.transaction():
                for statement in HISTORY.split(";\n"):
                    if statement.strip():
                        args = (stays, lots) if "$1" in statement else ()
                        await connection.execute(statement, *args)
        await connection.execute("ANALYZE")
        # The load wrote about a million rows of WAL: a checkpoint now, not during the run.
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


async def drop(database: str) -> None:
    """Drop the bench database."""
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    await admin.close()


def start_centre(url: str, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    """The centre in its own process(es), as `parking serve` runs it."""
    env = os.environ | {"DATABASE_URL": url}
    env.pop("MQTT_URL", None)
    env.pop("REDIS_URL", None)
    return start_server(port, env, workers)


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the sorted values fall (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]
