"""Shared by the lane benchmarks: a fresh PostgreSQL city with many lots, a centre process."""

from __future__ import annotations

import os
import subprocess
from decimal import Decimal

import asyncpg

from bench._server import start_server

ADMIN_URL = os.environ.get("PARKING_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def lot_code(n: int) -> str:
    """The code of the n-th extra lot."""
    return f"LOT-B{n:03d}"


async def prepare(database: str, lots: int) -> str:
    """Create, migrate and seed a database with the demo city plus `lots` lots (E1 and X1 each)."""
    from core.clock import SystemClock
    from core.store import migration
    from core.store.city import DeviceRow, LaneRow, LotRow
    from core.store.database import open_database
    from core.store.unit_of_work import UnitOfWork
    from sandbox.demo_city import load_demo_city

    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {database}")
    await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{url}/{database}"
    store = open_database(url)
    async with store.engine.begin() as connection:
        await migration.upgrade_connection(connection)
    async with UnitOfWork(store.sessions) as uow:
        await load_demo_city(uow, SystemClock())
        await uow.session.flush()
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
