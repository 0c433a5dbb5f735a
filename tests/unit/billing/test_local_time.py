"""Local second counts: the same instant gives the same count whatever its zone (looked up
once), and a repeated hour's two instants stay apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from core.billing.errors import NaiveDatetimeError
from core.billing.local_time import DAY, to_local


def test_one_instant_in_any_zone_is_one_local_time() -> None:
    utc = datetime(2026, 11, 24, 16, 30, 5, 900, tzinfo=UTC)
    for zone in (UTC, timezone(timedelta(hours=8)), ZoneInfo("America/New_York")):
        local, seconds = to_local(utc.astimezone(zone), "at")
        assert (local.isoformat(), seconds % DAY) == ("2026-11-25T00:30:05+08:00", 1805)


def test_the_two_instants_of_a_repeated_hour_are_an_hour_apart() -> None:
    first = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    second = first.replace(fold=1)  # equal to `first` by comparison, an hour later in fact
    assert first == second
    assert to_local(second, "at")[1] - to_local(first, "at")[1] == 3600


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        to_local(datetime(2026, 11, 25, 8, 0), "at")
