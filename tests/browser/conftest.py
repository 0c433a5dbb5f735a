"""The console in Debian's chromium: one server and one browser for the whole session."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web

from config.settings import Settings
from core.appeals import Category
from core.chat import HandoffReason
from core.clock import FrozenClock
from core.services import appeals, chat
from core.store.database import open_database
from core.store.unit_of_work import UnitOfWork
from ops_api.commands import DEMO_PASSWORD
from sandbox.wechatpay.keys import SandboxKeys
from server.wechat import SANDBOX_KEY, SANDBOX_OA_APPID
from tests.conftest import START, free_port, run_blocking, service_missing
from tests.wechat_sandbox import bind_plate, sandbox_keys, street_stay

__all__ = ["sandbox_keys"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The pictures in docs/console/ are refreshed only when asked, so a test run leaves the tree clean.
DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
TABLET = {"width": 1024, "height": 768}


@dataclass
class Scenario:
    """What the demo city holds beyond its seed, for each role's task."""

    officer_stays: list[str] = field(default_factory=list)
    support_plate: str = "浙B33333"
    support_stay: str = ""
    appeal_id: int = 0
    cash_plate: str = "浙B44444"
    code_plate: str = "浙B66666"  # pays with a payment code (付款码)
    lost_ticket_plate: str = "浙B55555"
    driver_id: int = 0


@dataclass
class Console:
    """The running app: its address, its clock and the seeded scenario."""

    url: str
    clock: FrozenClock
    scenario: Scenario


async def _seed(url: str, clock: FrozenClock, scenario: Scenario) -> None:
    database = open_database(url)
    try:
        now = clock.now()
        scenario.officer_stays = [
            await street_stay(
                database,
                plate=plate,
                fee_fen=fee,
                exited_at=now - timedelta(days=days),
                berth_code=berth,
                hours=1,
            )
            for plate, fee, days, berth in (
                ("浙B11111", 300, 10, "HS1-001"),
                ("浙B22222", 2000, 3, "HS2-001"),
            )
        ]
        plate = scenario.support_plate
        scenario.support_stay = await street_stay(
            database,
            plate=plate,
            fee_fen=5000,
            exited_at=now - timedelta(days=2),
            berth_code="HS1-002",
            hours=3,
        )
        async with UnitOfWork(database.sessions) as uow:
            owner, _ = await bind_plate(uow, clock, plate)
        scenario.driver_id = owner
        async with UnitOfWork(database.sessions) as uow:
            case = await appeals.file_appeal(
                uow,
                clock,
                owner,
                scenario.support_stay,
                Category.WRONG_FEE,
                "我只停了一个小时，收费不对",
                [],
                7,
            )
            scenario.appeal_id = case.id
    finally:
        await database.dispose()


async def _seed_chat(url: str, clock: FrozenClock, openid: str, driver_id: int) -> None:
    """The driver, a follower of the Official Account, asks for a person."""
    database = open_database(url)
    try:
        async with UnitOfWork(database.sessions) as uow:
            found = await chat.identify(uow, clock, SANDBOX_OA_APPID, None, openid, wrote=True)
            identity = chat.ChatIdentity(found.appid, found.openid, driver_id)
            await chat.request_handoff(
                uow, clock, identity, HandoffReason.COMPLAINT, "停车费扣错了，我要找人工"
            )
    finally:
        await database.dispose()


class ServerThread(threading.Thread):
    """Serves an app on its own event loop, so synchronous browser tests can drive it."""

    def __init__(self, app: web.Application, port: int) -> None:
        super().__init__(name="console-server", daemon=True)
        self.app, self.port = app, port
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop, self.stopping = asyncio.get_running_loop(), asyncio.Event()
        runner = web.AppRunner(self.app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.ready.set()
        await self.stopping.wait()
        await runner.cleanup()

    def start(self) -> None:
        super().start()
        assert self.ready.wait(60), "the console server did not start"

    def stop(self) -> None:
        assert self.loop is not None and self.stopping is not None
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.join(30)


# Module scope, not session: Playwright's sync API keeps its event loop marked running in this
# thread while it is open, so every later test that starts a loop would fail; the browser must
# close before the (randomly ordered) other modules run.
@pytest.fixture(scope="module")
def console(
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    sandbox_keys: tuple[SandboxKeys, Path],
) -> Iterator[Console]:
    """The whole app with the WeChat sandbox inside, on a frozen clock, in a thread."""
    from server.app import create_app

    path = tmp_path_factory.mktemp("console") / "parking.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    clock = FrozenClock(START)
    scenario = Scenario()
    run_blocking(_seed(url, clock, scenario))
    port = free_port()
    settings = Settings(
        database_url=url,
        redis_url=None,
        mqtt_url=None,
        wechat_sandbox=True,
        sandbox_port=0,
        sandbox_keys_dir=str(sandbox_keys[1]),
        port=port,
    )
    app = create_app(settings, clock=clock)
    server = ServerThread(app, port)
    server.start()
    console = Console(f"http://127.0.0.1:{port}", clock, scenario)
    follow = {"appid": SANDBOX_OA_APPID, "person": "console-driver"}
    sandbox = app[SANDBOX_KEY].base_url
    openid = requests.post(f"{sandbox}/sandbox/wechat/follow", json=follow, timeout=30).json()
    run_blocking(_seed_chat(url, clock, str(openid["openid"]), scenario.driver_id))
    _drive_lanes(console)
    yield console
    server.stop()


def _read(console: Console, lane: str, plate: str, event_id: str) -> dict[str, Any]:
    body = {
        "event_id": event_id,
        "device": f"LOT-HOSP-{lane}-anpr_camera",
        "device_time": console.clock.now().isoformat(),
        "plate": plate,
    }
    response = requests.post(f"{console.url}/devices/lanes/reads", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _drive_lanes(console: Console) -> None:
    """Two cars that entered the hospital lot wait at the exit to pay; one exits with no entry."""
    scenario = console.scenario
    for number, plate in enumerate((scenario.cash_plate, scenario.code_plate)):
        _read(console, "E1", plate, f"console-in-{number}")
    console.clock.advance(timedelta(hours=2))
    for number, plate in enumerate((scenario.cash_plate, scenario.code_plate)):
        out = _read(console, "X1", plate, f"console-out-{number}")
        assert out["fee_fen"] > 0, out  # waits at the exit to pay
        console.clock.advance(timedelta(minutes=1))
    _read(console, "X1", scenario.lost_ticket_plate, "console-out-lost")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright; skipped loudly outside CI when it is missing."""
    if not CHROMIUM.exists():
        service_missing("chromium (apt-get install chromium)", FileNotFoundError(str(CHROMIUM)))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_of(browser: Any, console: Console) -> Iterator[Any]:
    """Make a tablet-sized page logged in as a demo account; every console error fails."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(username: str, password: str = DEMO_PASSWORD) -> Any:
        context = browser.new_context(viewport=TABLET, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{console.url}/console/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/console/login" not in page.url, page.content()[:500]
        return page

    yield make
    for context in contexts:
        context.close()
    # A CSP violation or a script error shows up here: the pages must run clean.
    assert not [e for e in errors if not re.search(r"status of 4\d\d|Error Code 4\d\d", e)], errors


def screenshot(page: Any, name: str) -> None:
    """Take a picture of a main page; into docs/console/ with PARKING_SCREENSHOTS=1."""
    folder = DOC_SCREENSHOTS if os.environ.get("PARKING_SCREENSHOTS") == "1" else _scratch()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _scratch() -> Path:
    return Path(tempfile.gettempdir()) / "parking-console-screenshots"
