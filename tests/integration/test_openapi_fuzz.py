"""Schemathesis against the running app's /openapi.json: no /mp/ route answers 5xx or off-schema,
and no refused request (4xx) changes the database.

The app runs on a localhost port in its own thread (schemathesis calls it with requests), on a
copy of the demo-city SQLite database, with the WeChat sandbox so driver routes are signed in.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import Iterator
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
from sandbox.wechatpay.keys import SandboxKeys
from server.wechat import SANDBOX_APPID
from tests.conftest import START
from tests.wechat_sandbox import sandbox_keys

__all__ = ["sandbox_keys"]

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 25
# The SSE stream never ends, so it is not a request/response route to fuzz.
SKIPPED = {"/mp/availability/stream"}


class RunningApp:
    """The whole app served on a port by a loop in a background thread."""

    def __init__(self, app_settings: Settings, path: Path) -> None:
        self.path = path
        self.port = app_settings.port
        self.base = f"http://127.0.0.1:{self.port}"
        self._settings = app_settings
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

        app = create_app(self._settings, clock=FrozenClock(START))
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
def running_app(
    sqlite_template: Path, tmp_path: Path, sandbox_keys: tuple[SandboxKeys, Path]
) -> Iterator[RunningApp]:
    """The app with the WeChat sandbox on a copy of the demo city."""
    path = tmp_path / "fuzz.db"
    shutil.copyfile(sqlite_template, path)
    app_settings = Settings(
        database_url=f"sqlite+aiosqlite:///{path}",
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
    with RunningApp(app_settings, path) as running:
        yield running


def driver_token(running: RunningApp, sandbox_port: int) -> str:
    """Sign a driver in through the sandbox's wx.login."""
    issued = requests.post(
        f"http://127.0.0.1:{sandbox_port}/sandbox/wechat/login",
        json={"appid": SANDBOX_APPID, "person": "fuzzer"},
        timeout=10,
    ).json()
    login = requests.post(f"{running.base}/mp/login", json={"code": issued["code"]}, timeout=10)
    assert login.status_code == 200, login.text
    token: str = login.json()["token"]
    return token


def test_mp_routes_answer_within_their_schema(running_app: RunningApp) -> None:
    sandbox_port = running_app._settings.sandbox_port
    headers = {"Authorization": f"Bearer {driver_token(running_app, sandbox_port)}"}
    schema = schemathesis.openapi.from_url(f"{running_app.base}/openapi.json")
    operations = [
        result.ok()
        for result in schema.include(path_regex="^/mp/").get_all_operations()
        if result.ok().path not in SKIPPED
    ]
    assert len(operations) >= 20, [op.path for op in operations]
    session = requests.Session()
    # PRAGMA data_version changes when another connection commits a change to the file.
    watcher = sqlite3.connect(running_app.path)
    failures: list[str] = []
    calls: list[str] = []  # method and path of every request sent

    for operation in operations:
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
            calls.append(f"{case.method} {case.path}")
            before = watcher.execute("PRAGMA data_version").fetchone()
            response = case.call(
                base_url=running_app.base, session=session, headers=headers if use_token else {}
            )
            after = watcher.execute("PRAGMA data_version").fetchone()
            if 400 <= response.status_code < 500 and after != before:
                refused = f"{case.method} {case.formatted_path}: {response.status_code}"
                failures.append(f"{refused} changed the database")
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
                return
            case.validate_response(
                response,
                checks=[
                    response_schema_conformance,
                    status_code_conformance,
                    content_type_conformance,
                ],
            )

        try:
            fuzz()
        except Exception as exc:  # collect every route's problem, then fail once
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:600])
    watcher.close()
    assert not failures, "\n".join(failures)
    assert len(set(calls)) == len(operations) and len(calls) >= 10 * len(operations)
