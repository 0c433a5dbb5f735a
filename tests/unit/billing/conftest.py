"""Shared helpers for billing tests: demo tariffs, local times and tariff variants."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.billing import Tariff, load_tariff_file, parse_tariff

SH = ZoneInfo("Asia/Shanghai")
TARIFF_DIR = Path(__file__).resolve().parents[3] / "tariffs"


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A Shanghai local time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SH)


def demo(name: str) -> Tariff:
    """One of the demo tariffs in tariffs/."""
    return load_tariff_file(TARIFF_DIR / f"{name}.toml")


def variant(name: str, **changes: Any) -> Tariff:
    """A demo tariff with top-level fields replaced (None removes a field)."""
    data = demo(name).to_dict()
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return parse_tariff(data)


@pytest.fixture(scope="session")
def class1() -> Tariff:
    return demo("onstreet-class1")


@pytest.fixture(scope="session")
def class2() -> Tariff:
    return demo("onstreet-class2")


@pytest.fixture(scope="session")
def class3() -> Tariff:
    return demo("onstreet-class3")


@pytest.fixture(scope="session")
def lot() -> Tariff:
    return demo("lot-standard")
