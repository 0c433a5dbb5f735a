"""The lane agent against a real centre over HTTP: the centre goes away mid-traffic, comes back,
and the agent is restarted during the resend (断点续传)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from config.settings import Settings
from core.clock import FrozenClock
from core.lane_agent import snapshot_from_dict
from core.store.activity import LedgerEntryRow, LedgerPostingRow, StayRow
from core.store.lots import LanePassageRow
from core.store.unit_of_work import UnitOfWork
from device_bridge.agent.app import AGENT_KEY, AgentConfig, create_agent_app
from device_bridge.agent.centre import CentreAccount
from sandbox.traffic_cli import add_arguments, run_simulate
from tests.conftest import free_port

LOT = "LOT-TIANYI"
ENTRY = f"{LOT}-E1-anpr_camera"
EXIT = f"{LOT}-X1-anpr_camera"
PASS_PLATE = "浙B88888"  # a monthly pass at LOT-TIANYI (sandbox/demo_lots.py)


class Process:
    """An aiohttp app served on a fixed localhost port that the test starts and stops."""

    def __init__(self, make: Callable[[], web.Application], port: int) -> None:
        self.make = make
        self.port = port
        self.runner: web.AppRunner | None = None

    async def start(self) -> web.Application:
        self.runner = web.AppRunner(self.make())
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self.runner.app

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def centre(settings: Settings, clock: FrozenClock) -> AsyncIterator[Process]:
    from server.app import create_app

    process = Process(lambda: create_app(settings, clock=clock), free_port())
    await process.start()
    yield process
    await process.stop()


class Lanes:
    """The lot's cameras: each read goes to the agent over HTTP."""

    def __init__(self, session: aiohttp.ClientSession, clock: FrozenClock, port: int) -> None:
        self._session = session
        self._clock = clock
        self.port = port
        self.sent: list[tuple[str, str]] = []  # (device, event_id)
        self._n = 0

    async def read(self, device: str, plate: str, *, event_id: str | None = None) -> Any:
        if event_id is None:
            self._n += 1
            event_id = f"ev-{self._n:04d}"
            self.sent.append((device, event_id))
        body = {
            "event_id": event_id,
            "device": device,
            "device_time": self._clock.now().isoformat(),
            "plate": plate,
            "confidence": 96,
        }
        url = f"http://127.0.0.1:{self.port}/devices/lanes/reads"
        async with self._session.post(url, json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def _wait_drained(app: web.Application) -> None:
    agent = app[AGENT_KEY]
    for _ in range(200):
        if agent.status()["backlog"] == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"backlog not drained: {agent.status()}")


async def test_centre_down_mid_traffic_and_agent_restarted_during_resend(
    centre: Process,
    clock: FrozenClock,
    tmp_path: Path,
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    journal = tmp_path / "agent.db"
    account = CentreAccount("demo-attendant", "demo-password-2026")
    base = f"http://127.0.0.1:{centre.port}"

    def agent_app(retry: float) -> web.Application:
        # The login hashes a password (argon2): on a loaded machine it took over a second.
        config = AgentConfig(LOT, base, journal, account, timeout_seconds=5.0, retry_seconds=retry)
        return create_agent_app(config, clock=clock)

    # First life of the agent: its loop only syncs at start, the test drives the resend.
    agent_process = Process(lambda: agent_app(3600.0), free_port())
    app = await agent_process.start()
    assert await app[AGENT_KEY].refresh()
    async with aiohttp.ClientSession() as session:
        lanes = Lanes(session, clock, agent_process.port)
        # Online: five cars come in; the centre decides.
        for plate in ("浙B10001", "浙B10002", "浙B10003", "浙B10004", PASS_PLATE):
            answer = await lanes.read(ENTRY, plate)
            assert (answer["mode"], answer["gate"]) == ("online", "open")
            clock.advance(timedelta(minutes=7))
        clock.advance(timedelta(hours=2))
        online_exit = await lanes.read(EXIT, "浙B10001")
        assert (online_exit["mode"], online_exit["action"]) == ("online", "pay")

        await centre.stop()  # the centre goes away mid-traffic
        offline: dict[str, Any] = {}
        for plate in ("浙B10002", PASS_PLATE, "浙B10003"):
            clock.advance(timedelta(minutes=13))
            offline[plate] = await lanes.read(EXIT, plate)
        for plate in ("浙B20001", "浙B20002"):
            clock.advance(timedelta(minutes=3))
            offline[plate] = await lanes.read(ENTRY, plate)
        clock.advance(timedelta(minutes=10))
        offline["浙B20001-out"] = await lanes.read(EXIT, "浙B20001")
        device, event_id = lanes.sent[-1]
        retry = await lanes.read(device, "浙B20001", event_id=event_id)  # the camera retries
        assert (
            retry["outcome"] == "duplicate"
            and retry["fee_fen"] == offline["浙B20001-out"]["fee_fen"]
        )
        assert all(a["mode"] == "offline" and a["gate"] == "open" for a in offline.values())
        assert offline[PASS_PLATE]["reason"] == "offline_pass"
        assert offline["浙B10002"]["reason"] == "offline_unpaid"
        assert offline["浙B10002"]["fee_fen"] > 0
        assert offline["浙B20001-out"]["reason"] == "offline_free"  # 10 minutes: free period
        assert app[AGENT_KEY].status()["backlog"] == len(offline)

        await centre.start()  # back; the agent resends part of its backlog ...
        assert await app[AGENT_KEY].resend(limit=3) == 3
        await agent_process.stop()  # ... and is restarted during the resend
        # The crash window: the centre committed the third read but the journal never noted it.
        with sqlite3.connect(journal) as raw:
            raw.execute(
                "UPDATE events SET state = 'pending' WHERE seq ="
                " (SELECT MAX(seq) FROM events WHERE state = 'sent')"
            )
        agent_process.make = lambda: agent_app(0.05)
        app = await agent_process.start()
        await _wait_drained(app)
        assert app[AGENT_KEY].status()["events"] == {"sent": len(lanes.sent)}
        clock.advance(timedelta(minutes=1))
        after = await lanes.read(EXIT, "浙B10004")  # traffic goes on, online again
        assert after["mode"] == "online"
        await agent_process.stop()

    async with uow_factory() as uow:
        db = uow.session
        keys = list(await db.scalars(select(LanePassageRow.dedupe_key)))
        expected = [f"own:{d}:{e}" for d, e in lanes.sent]
        assert sorted(keys) == sorted(expected)  # every event stored, once
        stays: dict[str | None, StayRow] = {
            s.plate: s for s in await db.scalars(select(StayRow).where(StayRow.lot_id.is_not(None)))
        }
        assert sorted(p or "" for p in stays) == sorted(
            ["浙B10001", "浙B10002", "浙B10003", "浙B10004", PASS_PLATE, "浙B20001", "浙B20002"]
        )
        assert stays["浙B20002"].status == "open"
        closed = [s for p, s in stays.items() if p != "浙B20002"]
        assert all(s.status == "closed" and s.exited_at is not None for s in closed)
        charged: dict[str, int] = {
            ref: int(total)
            for ref, total in (
                await db.execute(
                    select(LedgerEntryRow.reference, func.sum(LedgerPostingRow.debit_fen))
                    .join(LedgerPostingRow, LedgerPostingRow.entry_id == LedgerEntryRow.id)
                    .where(LedgerEntryRow.kind == "stay_charged")
                    .group_by(LedgerEntryRow.reference)
                )
            ).all()
        }
        for stay in closed:  # every fen accounted: the ledger holds each fee once
            assert charged.get(stay.ref, 0) == (stay.fee_fen or 0), stay.plate
        for plate in ("浙B10002", "浙B10003", "浙B20001"):
            # The centre priced the offline exits with the same tariff version the agent used.
            assert (
                stays[plate].fee_fen
                == offline[plate if plate != "浙B20001" else "浙B20001-out"]["fee_fen"]
            )
        receivable: dict[str, int] = {
            account: int(total)
            for account, total in (
                await db.execute(
                    select(
                        LedgerPostingRow.account,
                        func.sum(LedgerPostingRow.debit_fen - LedgerPostingRow.credit_fen),
                    )
                    .where(LedgerPostingRow.account.like("driver_receivable:%"))
                    .group_by(LedgerPostingRow.account)
                )
            ).all()
        }
        # The offline-unpaid releases are pay-later stays: owed by the plate, not paid.
        owed = stays["浙B10002"].fee_fen
        assert owed is not None and owed > 0
        assert receivable["driver_receivable:浙B10002"] == owed
        assert stays[PASS_PLATE].fee_fen == 0


async def _login(session: aiohttp.ClientSession, base: str, username: str) -> str:
    body = {"username": username, "password": "demo-password-2026"}
    async with session.post(f"{base}/ops/login", json=body) as response:
        assert response.status == 200
        return str((await response.json())["token"])


async def test_snapshot_serves_a_lot_to_lane_control_staff_only(centre: Process) -> None:
    base = f"http://127.0.0.1:{centre.port}"
    async with aiohttp.ClientSession() as session:
        url = f"{base}/ops/lanes/{LOT}/snapshot"
        async with session.get(url) as response:
            assert response.status == 401
        viewer = await _login(session, base, "demo-viewer")
        async with session.get(url, headers={"Authorization": f"Bearer {viewer}"}) as response:
            assert response.status == 403
        token = await _login(session, base, "demo-attendant")
        headers = {"Authorization": f"Bearer {token}"}
        async with session.get(url, headers=headers) as response:
            assert response.status == 200
            body = await response.json()
        async with session.get(f"{base}/ops/lanes/NOPE/snapshot", headers=headers) as response:
            assert response.status == 404
    snapshot = snapshot_from_dict(body)
    assert snapshot.devices[ENTRY] == ("E1", "entry") and snapshot.devices[EXIT] == ("X1", "exit")
    plates = {plate for right in snapshot.rights for plate in right.plates}
    assert {PASS_PLATE, "浙B66666", "浙B77777"} <= plates and "浙B11111" not in plates  # other lot


async def test_simulate_drives_a_lot_over_http(
    centre: Process, capsys: pytest.CaptureFixture[str], uow_factory: Callable[[], UnitOfWork]
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    url = f"http://127.0.0.1:{centre.port}"
    args = parser.parse_args(
        ["--url", url, "--lot", "LOT-HOSP", "--cars", "12", "--seed", "4", "--day", "2026-11-24"]
    )
    assert await run_simulate(args) == 0
    printed = capsys.readouterr().out.splitlines()
    report = json.loads(printed[-1])
    sent = report["sent"]["lane_read"]
    assert len(printed) == sent + 1  # a line per event, then the summary
    assert not any(key.split(":")[1][0].isdigit() for key in report["outcomes"])  # no 4xx/5xx
    distinct = sent - report["sent"].get("tag:duplicate", 0)
    async with uow_factory() as uow:
        stored = await uow.session.scalar(select(func.count()).select_from(LanePassageRow))
    assert stored == distinct
