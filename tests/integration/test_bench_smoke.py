"""Every benchmark of bench/ still runs end to end, at tiny sizes, with no figure checked.

The benches are run as `make bench` runs them (`python -m bench.NAME`), each in its own
process, one after another (started all at once, on a busy two-core machine some centres
did not come up within their benches' start-up wait). What is checked is that each ran to its
end, printing its figures and its last lines; exit 1, which a bench uses for a missed target,
is accepted where it means only that, never where it means a wrong decision or a failed
request.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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
        ["batches", "machine speed probe after"],
    ),
    (
        "arrears_list",
        ["--unpaid", "2000", "--paid", "500", "--rounds", "2"],
        {0},
        ["baseline", "machine speed probe"],
    ),
    (
        "bot",
        ["--people", "1", "--rounds", "1"],
        {0, 1},
        ["all intents", "machine speed probe after"],
    ),
    ("network", ["--lots", "5", "--seconds", "5"], {0}, ["statuses", "machine speed probe"]),
    (
        "reports",
        ["--lots", "5", "--stays", "500", "--rounds", "1"],
        {0, 1},
        ["worst report built", "machine speed probe"],
    ),
    (
        "beside",
        [
            *("--lanes", "4", "--history", "100", "--unpaid", "2000", "--paid", "500"),
            *("--rounds", "2", "--people", "1", "--bot-rounds", "1", "--lane-seconds", "20"),
        ],
        {0, 1},
        ["bot reply p99", "arrears first page p99", "machine speed probe"],
    ),
]


@pytest.fixture(scope="module")
def _servers() -> None:
    """PostgreSQL and Redis answer (sensor_events starts a Mosquitto of its own)."""
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError as exc:
            service_missing(name, exc)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize(("name", "args", "codes", "lines"), CASES, ids=[c[0] for c in CASES])
def test_the_bench_runs_at_a_tiny_size(
    _servers: None, name: str, args: list[str], codes: set[int], lines: list[str]
) -> None:
    # The app's own settings stay out of it (a bench sets what its centre needs); its server
    # addresses (PARKING_BENCH_PG_URL) do not.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PARKING_") or k.startswith("PARKING_BENCH_")
    }
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode in codes, output[-3000:]
    for line in lines:
        assert line in done.stdout, f"{line!r} not printed:\n{output[-3000:]}"
