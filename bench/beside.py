"""The bot and the arrears list while the lanes are busy: `python -u -m bench.beside`.

Issue 20 asks that the Official Account bot's replies (p99 under 100 ms) and the officers'
arrears first page (p99 under 100 ms over 1,000,000 rows) stay within their targets while the
lane bench runs beside them. This runs `bench.bot` and `bench.arrears_list` alone first (the
baseline of this run), then again while `bench.lane_exit` drives its lanes on the same
machine, and prints each p99 alone, beside the lanes, their ratio and the target. Each bench
runs in its own process as `make bench` runs it, so "beside" means on the same machine and its
PostgreSQL server, each bench with its own centre; the arrears database is loaded once
(`--keep`) and measured again beside the lanes (`--database`).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import asyncpg

from bench._lane_centre import ADMIN_URL
from bench._server import machine_speed

TARGET_MS = 100.0
BOT_P99 = re.compile(r"all intents: p50 [\d.]+ ms, p99 ([\d.]+) ms")
ARREARS_P99 = re.compile(r"worst first-page p99 / target [\d.]+ ms = ([\d.]+)")
ARREARS_DATABASE = re.compile(r"paid street stays .* into (\w+)")
LANES_READY = "history:"  # lane_exit prints it just before its centre starts
LANES_WARM_SECONDS = 8.0  # its centre's start and warm-up ticks, before the steady load


@dataclass(frozen=True, slots=True)
class Figures:
    """One round of the two benches: each p99, and how long the round took."""

    bot_p99_ms: float
    arrears_p99_ms: float
    seconds: float


def bench(name: str, *args: str) -> str:
    """Run `python -m bench.NAME` to its end; its output (a nonzero exit is a missed target)."""
    done = subprocess.run(
        [sys.executable, "-u", "-m", f"bench.{name}", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1) or "Traceback" in done.stderr:
        raise RuntimeError(f"bench.{name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def found(pattern: re.Pattern[str], output: str, what: str) -> str:
    """The first group of `pattern` in a bench's output; a clear error when it is missing."""
    match = pattern.search(output)
    if match is None:
        raise RuntimeError(f"no {what} in:\n{output[-2000:]}")
    return match.group(1)


def measure(args: argparse.Namespace, database: str) -> Figures:
    """The bot and the arrears list on `database`, one after the other."""
    began = time.monotonic()
    bot = bench("bot", "--people", str(args.people), "--rounds", str(args.bot_rounds))
    arrears = bench("arrears_list", "--database", database, "--rounds", str(args.rounds))
    return Figures(
        float(found(BOT_P99, bot, "bot p99")),
        float(found(ARREARS_P99, arrears, "arrears p99")) * TARGET_MS,
        time.monotonic() - began,
    )


def beside_lanes(args: argparse.Namespace, database: str, seconds: float) -> tuple[Figures, str]:
    """The same round while bench.lane_exit sends for long enough to cover it; and its output."""
    lane_seconds = args.lane_seconds or int(seconds * 1.5 + LANES_WARM_SECONDS + 10)
    lanes = subprocess.Popen(
        [
            *(sys.executable, "-u", "-m", "bench.lane_exit", "--lanes", str(args.lanes)),
            *("--seconds", str(lane_seconds), "--history", str(args.history)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert lanes.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def follow() -> None:
        assert lanes.stdout is not None
        for line in lanes.stdout:
            lines.append(line)
            if line.startswith(LANES_READY):
                ready.set()
        ready.set()  # ended early: let the waiter see it

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    ready.wait(timeout=1800)
    if lanes.poll() is not None:
        raise RuntimeError("bench.lane_exit ended before its lanes ran:\n" + "".join(lines))
    time.sleep(LANES_WARM_SECONDS)
    figures = measure(args, database)
    if lanes.poll() is not None:
        print("*** the lanes ended before the round did: part of it ran alone ***")
    lanes.wait()
    reader.join()
    return figures, "".join(lines)


async def drop(database: str) -> None:
    """Drop the arrears database the first round kept."""
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    finally:
        await admin.close()


def report(alone: Figures, beside: Figures, lanes: str) -> bool:
    """Print both rounds, their ratios and the targets; whether both hold beside the lanes."""
    print("lanes beside the second round (bench.lane_exit):")
    for line in lanes.splitlines():
        if line.startswith(("exit", "entry", "centre CPU", "machine speed")) or "lanes," in line:
            print("   ", line)
    print(f"{'':24} {'alone':>10} {'beside lanes':>13} {'ratio':>6} {'target':>8}")
    rows = (
        ("bot reply p99", alone.bot_p99_ms, beside.bot_p99_ms),
        ("arrears first page p99", alone.arrears_p99_ms, beside.arrears_p99_ms),
    )
    ok = True
    for name, first, second in rows:
        ok = ok and second < TARGET_MS
        print(
            f"{name:24} {first:8.1f} ms {second:10.1f} ms {second / first:6.2f} {TARGET_MS:5.0f} ms"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run both rounds; exit 1 when a target is missed beside the lanes."""
    parser = argparse.ArgumentParser(prog="python -m bench.beside", description=__doc__)
    parser.add_argument("--lanes", type=int, default=200, help="lanes of bench.lane_exit")
    parser.add_argument("--history", type=int, default=50_000, help="its closed stays")
    parser.add_argument("--unpaid", type=int, default=1_000_000, help="arrears rows")
    parser.add_argument("--paid", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=30, help="of each arrears list")
    parser.add_argument("--people", type=int, default=10, help="bot users")
    parser.add_argument("--bot-rounds", type=int, default=10, help="of each intent a user")
    parser.add_argument(
        "--lane-seconds", type=int, default=0, help="how long the lanes send (0: long enough)"
    )
    args = parser.parse_args(argv)
    speed = machine_speed()
    loaded = bench(
        "arrears_list",
        *("--unpaid", str(args.unpaid), "--paid", str(args.paid), "--rounds", "1", "--keep"),
    )
    database = found(ARREARS_DATABASE, loaded, "arrears database")
    try:
        alone = measure(args, database)
        beside, lanes = beside_lanes(args, database, alone.seconds)
    finally:
        asyncio.run(drop(database))
    ok = report(alone, beside, lanes)
    print(f"machine speed probe: {speed:.0f} µs before, {machine_speed():.0f} µs after")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
