"""Every benchmark of bench/ still runs end to end, at tiny sizes, with no figure checked.

The benches are run as `make bench` runs them (`python -m bench.NAME`), each in its own
process, all at once (each makes its own database and ports). What is checked is that each
finished without a traceback and printed its figures and the machine speed probe; exit 1,
which a bench uses for a missed target, is accepted where it means only that, never where it
means a wrong decision or a failed request.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import service_missing

ROOT = Path(__file__).resolve().parents[2]

# name, arguments, exit codes that mean "it ran", lines its output must hold
CASES = [
    ("billing", ["--quick", "--repeat", "1"], {0, 1}, ["2-hour stay", "machine speed probe"]),
    ("lane_cpu", ["--reads", "10"], {0}, ["entry: CPU", "exit: CPU", "machine speed probe"]),
    (
        "lane_exit",
        ["--lanes", "4", "--seconds", "5", "--history", "100"],
        {0},
        ["exit p99", "machine speed probe"],
    ),
    ("lot_day", ["--lots", "1", "--cars", "8"], {0}, ["reads/s", "machine speed probe"]),
    (
        "nearby",
        ["--lots", "20", "--berths-per-lot", "5", "--queries", "10", "--requests", "40"],
        {0, 1},
        ["spaces near me [redis]", "GET /mp/spaces/near [sql]", "machine speed probe"],
    ),
    (
        "sensor_events",
        [
            *("--events", "40", "--single-events", "10", "--batch", "10", "--warmup", "20"),
            *("--berths", "20", "--concurrency", "4"),
        ],
        {0, 1},
        ["batches", "machine speed probe"],
    ),
    (
        "arrears_list",
        ["--unpaid", "2000", "--paid", "500", "--rounds", "2"],
        {0},
        ["baseline", "machine speed probe"],
    ),
    ("bot", ["--people", "1", "--rounds", "1"], {0, 1}, ["all intents", "machine speed probe"]),
]


@pytest.fixture(scope="module")
def _servers() -> None:
    """PostgreSQL and Redis answer (sensor_events starts a Mosquitto of its own)."""
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError as exc:
            service_missing(name, exc)


@pytest.fixture(scope="module")
def runs(
    _servers: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[subprocess.Popen[bytes], Path]]]:
    """Every bench started at once, so the module takes about as long as the slowest one."""
    # The app's own settings stay out of it (a bench sets what its centre needs); its server
    # addresses (PARKING_BENCH_PG_URL) do not.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PARKING_") or k.startswith("PARKING_BENCH_")
    }
    folder = tmp_path_factory.mktemp("bench")
    started = {}
    for name, args, _, _ in CASES:
        out = folder / f"{name}.out"
        with out.open("wb") as stdout, (folder / f"{name}.err").open("wb") as stderr:
            command = [sys.executable, "-m", f"bench.{name}", *args]
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
        started[name] = (process, out)
    yield started
    for process, _ in started.values():
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize(("name", "codes", "lines"), [(c[0], c[2], c[3]) for c in CASES])
def test_the_bench_runs_at_a_tiny_size(
    runs: dict[str, tuple[subprocess.Popen[bytes], Path]],
    name: str,
    codes: set[int],
    lines: list[str],
) -> None:
    process, out = runs[name]
    code = process.wait(timeout=180)
    stdout = out.read_text(encoding="utf-8")
    output = stdout + out.with_suffix(".err").read_text(encoding="utf-8", errors="replace")
    assert code in codes, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    for line in lines:
        assert line in stdout, f"{line!r} not printed:\n{output[-3000:]}"
