"""`parking serve --workers 2`: /metrics adds up both workers; JSON log lines with request ids."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp

from tests.conftest import free_port
from tests.metrics_text import parse_samples, value

CLI = [sys.executable, "-m", "server.cli"]


async def _healthz(base: str, tries: int) -> dict[str, str]:
    """Request id sent -> pid of the worker that answered, one new connection each."""
    answered: dict[str, str] = {}
    async with aiohttp.ClientSession() as session:
        for _ in range(tries):
            sent = f"probe-{uuid.uuid4().hex}"
            headers = {"Connection": "close", "X-Request-Id": sent}
            async with session.get(f"{base}/healthz", headers=headers) as answer:
                assert answer.status == 200
                assert answer.headers["X-Request-Id"] == sent
                answered[sent] = str((await answer.json())["worker"])
    return answered


async def test_two_workers_metrics_are_added_up_and_their_logs_are_json(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    stale = metrics_dir / "counter_1.db"  # left by an earlier run: must not be counted
    stale.write_bytes(b"")
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'served.db'}",
        "PARKING_PORT": str(port),
        "PARKING_WORKERS": "2",
        "PARKING_LOG_FORMAT": "json",
        "PARKING_ACCESS_LOG": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    for name in ("MQTT_URL", "REDIS_URL", "PARKING_WECHAT_SANDBOX"):
        env.pop(name, None)
    await asyncio.to_thread(
        subprocess.run, [*CLI, "migrate"], env=env, check=True, capture_output=True
    )
    log_file = (tmp_path / "serve.log").open("wb")  # a pipe left unread would fill and block
    server = subprocess.Popen(  # noqa: ASYNC220
        [*CLI, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log_file
    )
    base = f"http://127.0.0.1:{port}"
    answered: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 180  # spawned workers import everything anew: slow
        while time.monotonic() < deadline:
            try:
                answered |= await _healthz(base, 20)
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
                continue
            if len(set(answered.values())) == 2:
                break
        assert len(set(answered.values())) == 2, "both workers should have answered"
        assert not stale.exists()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/metrics") as scrape:
                assert scrape.status == 200
                samples = parse_samples(await scrape.text())
            lookup = {"X-Request-Id": "plate-lookup-0001"}
            async with session.get(f"{base}/mp/plates/浙B12345/stays", headers=lookup) as seen:
                assert seen.status == 200
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, timeout=30)
        log_file.close()
    errors = (tmp_path / "serve.log").read_bytes()
    assert server.returncode == 0, errors.decode()
    # Each worker counts only what it answered; the scrape adds up every worker's files.
    healthz = {"route": "/healthz", "method": "GET", "status": "200"}
    assert value(samples, "parking_http_request_seconds_count", **healthz) == len(answered)

    lines = [json.loads(line) for line in errors.decode().splitlines() if line.strip()]
    access = {line.get("request_id"): line for line in lines if line["logger"] == "aiohttp.access"}
    for sent, pid in answered.items():  # the access line of each request, by the worker
        assert "GET /healthz" in access[sent]["message"]
        assert str(access[sent]["process"]) == pid
    assert "/mp/plates/浙B***45/stays" in access["plate-lookup-0001"]["message"]
    assert b"B12345" not in errors and b"%E6%B5%99B12345" not in errors
