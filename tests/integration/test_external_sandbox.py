"""The app on a sandbox served by another process (`parking sandbox`, as compose.yaml runs it)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from server.wechat import SANDBOX_KEY, WECHAT_SERVICES_KEY
from tests.conftest import free_port
from tests.own_services import _wait_listening
from tests.wechat_sandbox import MakeClient, log_in_driver


async def test_workers_use_the_sandbox_another_process_serves(
    settings: Settings, tmp_path: Path, aiohttp_client: MakeClient
) -> None:
    from server.app import create_app

    port, keys = free_port(), tmp_path / "keys"
    env = os.environ | {"PARKING_SANDBOX_PORT": str(port), "PARKING_SANDBOX_KEYS_DIR": str(keys)}
    sandbox = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "server.cli", "sandbox"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(_wait_listening, port, sandbox, "parking sandbox")
        configured = settings.model_copy(
            update={"wechat_sandbox": True, "sandbox_url": url, "sandbox_keys_dir": str(keys)}
        )
        app = create_app(configured)
        client: TestClient[Any, Any] = await aiohttp_client(app)
        assert SANDBOX_KEY not in app  # none of its own
        headers, openid = await log_in_driver(client, url, "external-sandbox-person")
        assert openid and headers["Authorization"].startswith("Bearer ")
        gateway = app[WECHAT_SERVICES_KEY].gateway
        assert await gateway.platform_certificates_valid_until() is not None
        ready = await client.get("/readyz")
        assert ready.status == 200, await ready.text()
    finally:
        sandbox.send_signal(signal.SIGTERM)
        await asyncio.to_thread(sandbox.wait, 30)
    assert sandbox.returncode == 0
