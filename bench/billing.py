"""Benchmark the fee quote: `python -m bench.billing` prints quotes/second and the baseline ratio.

Targets (PRODUCT.md): a 2-hour stay in a tariff with a free period, two time bands and a daily
cap in under 20 µs; a 30-day stay in under 1 ms. The baseline is a trivial
`(minutes + 29) // 30 * price` computation timed in the same run, so the ratio says how the
engine compares with the cheapest possible fee formula on this machine.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from bench._server import machine_speed
from core.billing import Tariff, load_tariff_file, quote

SHANGHAI = ZoneInfo("Asia/Shanghai")
TARIFF = Path(__file__).resolve().parents[1] / "tariffs" / "onstreet-class1.toml"
TARGETS_US = {"2-hour stay": 20.0, "30-day stay": 1000.0}


def _best_seconds(call: Callable[[], object], number: int, repeat: int) -> float:
    """Best per-call time over ``repeat`` runs of ``number`` calls (least disturbed run)."""
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number


def _baseline(minutes: int) -> Callable[[], int]:
    def run() -> int:
        return (minutes + 29) // 30 * 150

    return run


def _quote_with_text(tariff: Tariff, entry: datetime, exit_at: datetime) -> str:
    return quote(tariff, entry, exit_at).explanation_zh


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per case; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.billing")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs per case")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke test)")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    speed = machine_speed()
    tariff = load_tariff_file(TARIFF)
    entry = datetime(2025, 3, 3, 9, 10, tzinfo=SHANGHAI)  # a Monday
    cases = [
        ("2-hour stay", entry + timedelta(hours=2), 20_000 // scale),
        ("30-day stay", entry + timedelta(days=30), 500 // scale),
        ("365-day stay", entry + timedelta(days=365), 50 // scale),
    ]
    baseline = _best_seconds(_baseline(120), 200_000 // scale, args.repeat)
    print(f"tariff {tariff.id} v{tariff.version}; python {sys.version.split()[0]}")
    print(f"baseline (minutes+29)//30*price: {baseline * 1e9:8.1f} ns/op")
    missed = False
    per_day: dict[str, float] = {}
    for name, exit_at, number in cases:
        seconds = _best_seconds(partial(quote, tariff, entry, exit_at), number, args.repeat)
        with_text = _best_seconds(
            partial(_quote_with_text, tariff, entry, exit_at), max(1, number // 2), args.repeat
        )
        per_day[name] = seconds
        target = TARGETS_US.get(name)
        verdict = ""
        if target is not None:
            ok = seconds * 1e6 < target
            missed |= not ok
            verdict = f"  target < {target:g} µs: {'ok' if ok else 'MISSED'}"
        print(
            f"{name:13s} {seconds * 1e6:9.2f} µs/quote  {1 / seconds:10.0f} quotes/s  "
            f"ratio to baseline {seconds / baseline:8.0f}x  "
            f"(with explanation_zh {with_text * 1e6:.2f} µs){verdict}"
        )
    growth = per_day["365-day stay"] / per_day["30-day stay"]
    print(f"365-day / 30-day time: {growth:.1f}x for 12.2x the days (grows with days, not minutes)")
    print(f"machine speed probe: {speed:.0f} µs before, {machine_speed():.0f} µs after")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
