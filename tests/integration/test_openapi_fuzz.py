"""Schemathesis against the running app's /openapi.json on SQLite and PostgreSQL: no route answers
5xx or off-schema, and (on SQLite, where a commit is visible to a watcher) no refused request
(4xx) changes the database.

The app runs on a localhost port in its own thread (schemathesis calls it with requests), on a
copy of the demo city, with the WeChat sandbox so driver routes are signed in and a demo admin's
token so staff routes get past the door.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import unused_port
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.settings import Settings
from core.clock import FrozenClock
from ops_api.commands import DEMO_PASSWORD
from sandbox.wechatpay.keys import SandboxKeys
from server.wechat import SANDBOX_APPID
from tests.conftest import START
from tests.wechat_sandbox import sandbox_keys

__all__ = ["sandbox_keys"]

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Examples per route and engine: ~96 routes x 2 engines x 12 stays within a minute or two;
# PARKING_FUZZ_EXAMPLES asks for a deeper run by hand.
EXAMPLES = int(os.environ.get("PARKING_FUZZ_EXAMPLES", "12"))
# The SSE stream never ends, so it is not a request/response route to fuzz.
SKIPPED = {"/mp/availability/stream", "/ops/support/stream"}
# A refused login counts the failure against the account (the lock-out), by design.
WRITES_WHEN_REFUSED = {"POST /ops/login"}


class RunningApp:
    """The whole app served on a port by a loop in a background thread."""

    def __init__(self, app_settings: Settings) -> None:
        self.port = app_settings.port
        self.base = f"http://127.0.0.1:{self.port}"
        self.settings = app_settings
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._runner: web.AppRunner | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        from server.app import create_app

        app = create_app(self.settings, clock=FrozenClock(START))
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def __enter__(self) -> RunningApp:
        self._thread.start()
        assert self._ready.wait(30), "the app did not start"
        return self

    def __exit__(self, *_: object) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()


@pytest.fixture
def running_app(db_url: str, sandbox_keys: tuple[SandboxKeys, Path]) -> Iterator[RunningApp]:
    """The app with the WeChat sandbox on a copy of the demo city."""
    app_settings = Settings(
        database_url=db_url,
        redis_url=None,
        mqtt_url=None,
        port=unused_port(),
        wechat_sandbox=True,
        sandbox_port=unused_port(),
        sandbox_keys_dir=str(sandbox_keys[1]),
        payments_sweep_seconds=0,
        notices_send_seconds=0,
        # The clock is frozen, so a limit's window never ends: 429s would hide the routes.
        login_rate_per_minute=1_000_000,
        plate_lookup_rate_per_minute=1_000_000,
    )
    with RunningApp(app_settings) as running:
        yield running


def driver_token(running: RunningApp) -> str:
    """Sign a driver in through the sandbox's wx.login."""
    issued = requests.post(
        f"http://127.0.0.1:{running.settings.sandbox_port}/sandbox/wechat/login",
        json={"appid": SANDBOX_APPID, "person": "fuzzer"},
        timeout=10,
    ).json()
    login = requests.post(f"{running.base}/mp/login", json={"code": issued["code"]}, timeout=10)
    assert login.status_code == 200, login.text
    token: str = login.json()["token"]
    return token


def admin_token(running: RunningApp) -> str:
    """Sign the demo admin in (every permission, city-wide)."""
    login = requests.post(
        f"{running.base}/ops/login",
        json={"username": "demo-admin", "password": DEMO_PASSWORD},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    token: str = login.json()["token"]
    return token


def commit_watcher(db_url: str) -> Callable[[], object]:
    """A probe whose value changes when another connection commits (SQLite); None elsewhere."""
    if not db_url.startswith("sqlite"):
        return lambda: None
    # PRAGMA data_version changes when another connection commits a change to the file.
    watcher = sqlite3.connect(db_url.split("///", 1)[1], check_same_thread=False)
    return lambda: watcher.execute("PRAGMA data_version").fetchone()


@dataclass
class FuzzRun:
    """One engine's run: where to send, how to see commits, and what was found."""

    base: str
    session: requests.Session
    probe: Callable[[], object]
    failures: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # method and path of every request sent


def fuzz_operation(run: FuzzRun, operation: Any, headers: dict[str, str]) -> None:
    """Send one route positive and negative cases, with and without a token."""
    cases = st.one_of(
        operation.as_strategy(),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, use_token=st.booleans())
    def fuzz(case: Any, use_token: bool) -> None:
        name = f"{case.method} {case.path}"
        run.calls.append(name)
        before = run.probe()
        response = case.call(
            base_url=run.base, session=run.session, headers=headers if use_token else {}
        )
        answer = f"{case.method} {case.formatted_path}: {response.status_code}"
        if response.status_code >= 500:
            run.failures.append(f"{answer} {response.text[:200]}")
            return
        refused = 400 <= response.status_code < 500 and name not in WRITES_WHEN_REFUSED
        if refused and run.probe() != before:
            run.failures.append(f"{answer} changed the database")
        case.validate_response(
            response,
            checks=[response_schema_conformance, status_code_conformance, content_type_conformance],
        )

    try:
        fuzz()
    except (Exception, FailureGroup) as exc:  # collect every route's problem, then fail once
        run.failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:600])


def test_every_route_answers_within_its_schema(running_app: RunningApp, db_url: str) -> None:
    driver = {"Authorization": f"Bearer {driver_token(running_app)}"}
    staff = {"Authorization": f"Bearer {admin_token(running_app)}"}
    schema = schemathesis.openapi.from_url(f"{running_app.base}/openapi.json")
    operations = [
        result.ok() for result in schema.get_all_operations() if result.ok().path not in SKIPPED
    ]
    prefixes = {op.path.split("/")[1] for op in operations}
    # The networking API is fuzzed unsigned: every case must be refused within the schema.
    assert prefixes == {"mp", "devices", "ops", "open", "network"}, prefixes
    assert len(operations) >= 90, [op.path for op in operations]
    support = {op.path for op in operations if op.path.startswith("/ops/support/")}
    assert "/ops/support/conversations/{conversation_id}/claim" in support and len(support) >= 11
    run = FuzzRun(running_app.base, requests.Session(), commit_watcher(db_url))
    for operation in operations:
        fuzz_operation(run, operation, staff if operation.path.startswith("/ops/") else driver)
    assert not run.failures, "\n".join(dict.fromkeys(run.failures))
    assert len(set(run.calls)) == len(operations) and len(run.calls) >= 5 * len(operations)
