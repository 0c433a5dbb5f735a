"""How the bot words a networked lot's count: its age, and the lot's own price line."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.places import count_age
from core.nearby import GeoPoint, PlaceKind, PlaceSpot
from core.services.nearby import NearbyPlace, NetworkNote

AT = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
SPOT = PlaceSpot(
    "lot:NET-1",
    PlaceKind.LOT,
    "NET-1",
    "第一医院停车场",
    GeoPoint(29.87, 121.55),
    300,
    "network-NET-1",
)


def place(age: int | None, summary: str | None = "每小时3元") -> NearbyPlace:
    note = NetworkNote(AT if age is not None else None, age, summary, "00:00-24:00")
    return NearbyPlace(SPOT, 120.0, 42, None, note)


def test_a_networked_count_says_how_old_it_is() -> None:
    assert count_age(place(20)) == "（刚刚更新）"
    assert count_age(place(180)) == "（3分钟前更新）"
    assert count_age(place(7300)) == "（2小时前更新，仅供参考）"
    assert count_age(place(None)) == ""  # no count pushed yet: our own tally of its stays


def test_our_own_lots_have_no_age_and_networked_ones_their_own_price() -> None:
    ours = NearbyPlace(SPOT, 120.0, 42, None)
    assert count_age(ours) == "" and ours.price_text is None
    assert place(20).price_text == "每小时3元"
