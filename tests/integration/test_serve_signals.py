"""`parking serve` for real: a start that fails exits with one message; SIGTERM always ends it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import free_port

CLI = [sys.executable, "-m", "server.cli"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A migrated SQLite database and the sandbox keys in tmp_path, no Redis or MQTT."""
    env = os.environ | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'served.db'}",
        "PARKING_PORT": str(free_port()),
        "PARKING_SANDBOX_KEYS_DIR": str(tmp_path / "keys"),
        "PARKING_WORKERS": "1",
    }
    for name in ("MQTT_URL", "REDIS_URL", "PARKING_WECHAT_SANDBOX"):
        env.pop(name, None)
    subprocess.run([*CLI, "migrate"], env=env, check=True, capture_output=True)
    return env


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other process listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def _finish(server: subprocess.Popen[bytes], timeout: float) -> tuple[float, str]:
    began = time.monotonic()
    try:
        _, errors = server.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()
        pytest.fail(f"parking serve still running after {timeout}s")
    return time.monotonic() - began, errors.decode()


@pytest.mark.parametrize("listener", ["sandbox", "api"])
async def test_a_listener_that_cannot_bind_ends_the_start_with_one_message(
    env: dict[str, str], taken_port: int, listener: str
) -> None:
    extra = {"PARKING_WECHAT_SANDBOX": "true"}
    extra |= (
        {"PARKING_SANDBOX_PORT": str(taken_port)}
        if listener == "sandbox"
        else {"PARKING_PORT": str(taken_port), "PARKING_SANDBOX_PORT": str(free_port())}
    )
    server = subprocess.Popen([*CLI, "serve"], env=env | extra, stderr=subprocess.PIPE)  # noqa: ASYNC220
    took, errors = await asyncio.to_thread(_finish, server, 30)
    assert server.returncode == 1, errors
    assert "Traceback" not in errors
    failures = [line for line in errors.splitlines() if "could not start" in line]
    assert len(failures) == 1, errors
    assert str(taken_port) in failures[0] and "in use" in failures[0]
    if listener == "sandbox":
        assert "sandbox" in failures[0]
    assert took < 20


async def _wait_healthy(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(150):
            try:
                async with session.get(f"{base}/healthz") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail("parking serve did not answer /healthz")


async def test_sigterm_drains_and_ends_a_serving_process(env: dict[str, str]) -> None:
    env = env | {"PARKING_WECHAT_SANDBOX": "true", "PARKING_SANDBOX_PORT": str(free_port())}
    server = subprocess.Popen([*CLI, "serve"], env=env, stderr=subprocess.PIPE)  # noqa: ASYNC220
    base = f"http://127.0.0.1:{env['PARKING_PORT']}"
    try:
        await _wait_healthy(base)
        async with aiohttp.ClientSession() as session:  # a keep-alive connection stays open
            async with session.get(f"{base}/healthz") as answer:
                assert answer.status == 200
            server.send_signal(signal.SIGTERM)
            took, errors = await asyncio.to_thread(_finish, server, 30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, errors
    assert "Traceback" not in errors
    assert took < 5


async def test_sigterm_ends_a_process_serving_an_event_stream(env: dict[str, str]) -> None:
    server = subprocess.Popen([*CLI, "serve"], env=env, stderr=subprocess.PIPE)  # noqa: ASYNC220
    base = f"http://127.0.0.1:{env['PARKING_PORT']}"
    try:
        await _wait_healthy(base)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base}/mp/availability/stream") as stream,
        ):
            assert stream.status == 200
            assert (await stream.content.readline()).startswith(b"event: snapshot")
            server.send_signal(signal.SIGTERM)
            took, errors = await asyncio.to_thread(_finish, server, 30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, errors
    assert took < 5


async def test_sigterm_ends_a_process_still_starting(env: dict[str, str], tmp_path: Path) -> None:
    # A PostgreSQL that accepts the connection and never answers: the start waits on it.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        url = f"postgresql+asyncpg://parking@127.0.0.1:{port}/parking"
        server = subprocess.Popen(  # noqa: ASYNC220
            [*CLI, "serve"], env=env | {"DATABASE_URL": url}, stderr=subprocess.PIPE
        )
        # Its connection to the silent database shows it is starting (signal handlers set):
        # on a loaded machine imports alone can take longer than any fixed wait.
        silent.settimeout(60)
        connection, _ = await asyncio.to_thread(silent.accept)
        assert server.poll() is None
        server.send_signal(signal.SIGTERM)
        took, errors = await asyncio.to_thread(_finish, server, 30)
        connection.close()
    assert server.returncode == 1, errors
    assert "Traceback" not in errors
    assert took < 5
