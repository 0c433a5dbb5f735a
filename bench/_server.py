"""Shared by the benchmarks: the centre in its own process(es), and the CPU time it used."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping

import aiohttp

SERVER = """
import logging, sys
from config.settings import load_settings
from server.workers import serve
settings = load_settings()
logging.basicConfig(level=settings.log_level)
settings = load_settings()
sys.exit(serve(settings.model_copy(update={"host": "127.0.0.1", "port": int(sys.argv[1])})))
"""


def start_server(port: int, env: Mapping[str, str], workers: int = 1) -> subprocess.Popen[bytes]:
    """`parking serve` as production runs it (uvloop, `workers` processes), without access log."""
    env = {
        **env,
        "PARKING_WORKERS": str(workers),
        "PARKING_ACCESS_LOG": "false",
        "PARKING_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env)


def free_port() -> int:
    """A free localhost port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_up(base: str, workers: int = 1) -> None:
    """Wait until the centre answers its health check from each of its worker processes.

    Connections are kept alive and SO_REUSEPORT places each one when it opens: lanes that
    connected before a worker listened would all stay on the others.
    """
    seen: set[str] = set()
    async with aiohttp.ClientSession() as session:
        for _ in range(2400):  # two minutes: a loaded machine has taken more than thirty seconds
            try:
                headers = {"Connection": "close"}  # a new connection each time, placed anew
                async with session.get(f"{base}/healthz", headers=headers) as response:
                    if response.status == 200:
                        seen.add(str((await response.json()).get("worker")))
                        if len(seen) >= workers:
                            return
                        continue
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"centre did not start ({len(seen)} of {workers} workers answered)")


def machine_speed() -> float:
    """Microseconds this process takes for a fixed piece of pure Python (best of 5).

    This machine's speed moves by more than half between hours; printed beside the figures,
    it tells which runs can be compared.
    """
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(50):
            sum(range(10_000))
        best = min(best, (time.perf_counter() - began) / 50)
    return best * 1e6


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process and its live children so far (Linux; NaN elsewhere)."""
    own = _stat(pid)
    if own is None:
        return float("nan")
    ticks = int(own[11]) + int(own[12])
    for entry in os.listdir("/proc"):
        child = _stat(int(entry)) if entry.isdigit() else None
        if child is not None and int(child[1]) == pid:
            ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")
