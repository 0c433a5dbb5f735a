"""`parking simulate --auto-deduct-share`: a simulated lot day where a share of plates have
WeChat Pay's auto-deduct on, driven over HTTP into the app as `make run` serves it; every
deduction settles and the day's bill reconciles with no difference."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from config.settings import Settings
from core.clock import FrozenClock
from core.services import auto_pay
from core.store.auto_pay import StayParkingRow
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from sandbox.traffic_cli import add_arguments, run_simulate
from sandbox.wechatpay.keys import SandboxKeys
from server.resources import DATABASE_KEY
from server.wechat import WECHAT_SERVICES_KEY, WeChatServices
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import quiet_app, sandbox_keys

__all__ = ["sandbox_keys"]


async def parkings_by_state(database: Database) -> dict[str, int]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(StayParkingRow.state, func.count()).group_by(StayParkingRow.state)
        )
        return {state: int(n) for state, n in rows.tuples()}


async def settled(services: WeChatServices, database: Database) -> dict[str, int]:
    """Wait for the lanes' auto-pay tasks and the sandbox's completions (0.05 s each)."""
    for _ in range(200):
        await asyncio.gather(*services.lane_tasks)
        states = await parkings_by_state(database)
        if not states.get("deducting") and not states.get("entering"):
            return states
        await asyncio.sleep(0.05)
    return await parkings_by_state(database)


async def test_a_simulated_day_with_auto_deduct_plates_reconciles_to_zero(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, sandbox = await quiet_app(
        settings, clock, sandbox_keys, aiohttp_client, sandbox_deduction_seconds=0.05
    )
    assert client.app is not None
    database = client.app[DATABASE_KEY]
    services = client.app[WECHAT_SERVICES_KEY]
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    day = (clock.now() - timedelta(days=1)).date()
    args = parser.parse_args(
        [
            *("--url", str(client.make_url("")), "--sandbox-url", sandbox),
            *("--lot", "LOT-TIANYI", "--cars", "40", "--seed", "11"),
            *("--day", day.isoformat(), "--auto-deduct-share", "0.3", "--quiet"),
        ]
    )
    assert await run_simulate(args) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert report["sent"]["tag:auto_deduct"] >= 10 and report["auto_deduct_plates"] >= 5
    assert not any(key.split(":")[1][0].isdigit() for key in report["outcomes"])  # no 4xx/5xx

    states = await settled(services, database)
    # Exits decided offline (the lane agent let the car go) are deducted by the sweep.
    await auto_pay.sweep(lambda: UnitOfWork(database.sessions), clock, services.auto_pay_ports)
    states = await settled(services, database)
    print(f"\nauto-deduct stays by state: {states}")
    assert states.get("deducted", 0) >= 5  # seed 11: 7 deducted, 1 free (nothing to deduct)
    assert set(states) <= {"deducted", "skipped", "deductible", "blocked"}
    async with UnitOfWork(database.sessions) as uow:
        deducted = [
            p
            for p in await uow.auto_pay.parkings_in(("deducted",), limit=1000)
            if p.out_trade_no is not None
        ]
        fen = 0
        for parking in deducted:
            payment = await uow.payments.get(parking.out_trade_no or "")
            assert payment is not None and payment.status == "paid"
            fen += payment.amount_fen
    sub_mchids = {p.sub_mchid for p in deducted}
    assert sub_mchids == {"1900000102"}  # OP-TIANYI's mall

    # The next day the trade bill of the day the deductions were paid has no difference.
    paid_day = clock.now().date()
    clock.advance(timedelta(days=1, hours=2))
    finance = {"Authorization": f"Bearer {await staff_token(client, 'demo-finance')}"}
    answer = await client.post(
        "/ops/payments/reconcile",
        json={"date": paid_day.isoformat(), "sub_mchid": "1900000102"},
        headers=finance,
    )
    assert answer.status == 200, await answer.text()
    bill = await answer.json()
    assert bill["differences"] == []
    assert (bill["balanced"], bill["matched_payments"], bill["matched_payment_fen"]) == (
        True,
        len(deducted),
        fen,
    )
