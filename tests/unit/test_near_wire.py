"""Near me answers plain values in its schema's shape: the same bytes the schema would give."""

from __future__ import annotations

from datetime import UTC, datetime

import pydantic_core

from core.nearby import GeoPoint, PlaceKind, PlaceSpot, PriceSummary
from core.services.nearby import NearbyPlace, NetworkNote
from miniprogram_api.nearby import NearOut, PlaceOut, place_wire

AT = datetime(2026, 11, 25, 1, 0, 7, 250000, tzinfo=UTC)
LOT = PlaceSpot(
    "lot:NET-1", PlaceKind.LOT, "NET-1", "第一医院停车场", GeoPoint(29.87, 121.55), 300, "net"
)
STREET = PlaceSpot(
    "street:HS1/中山路",
    PlaceKind.STREET,
    "HS1/中山路",
    "中山路",
    GeoPoint(29.868301, 121.544012),
    12,
    "street-a",
)
PRICE = PriceSummary(15, 30, 300, None, "前15分钟免费，每30分钟3元")
PLACES = [
    NearbyPlace(STREET, 35.4999, 3, PRICE),
    NearbyPlace(LOT, 1234.5, 42, None, NetworkNote(AT, 20, "每小时3元", "00:00-24:00")),
    NearbyPlace(LOT, 1999.99, 0, None, NetworkNote(None, None, None, "07:00-22:00")),
    NearbyPlace(LOT, 0.0, 7, PRICE),
]


def test_each_place_validates_as_its_schema_and_keeps_its_values() -> None:
    for place in PLACES:
        wire = place_wire(place)
        assert list(wire) == list(PlaceOut.model_fields)  # the schema's order, no field more
        assert PlaceOut.model_validate(wire).model_dump(
            mode="json"
        ) == pydantic_core.to_jsonable_python(wire)


def test_the_answer_is_byte_for_byte_what_the_schema_serialises() -> None:
    shaped = {"coordinate_system": "GCJ-02", "places": [place_wire(p) for p in PLACES]}
    through_schema = NearOut.model_validate(shaped).model_dump_json()
    assert pydantic_core.to_json(shaped).decode() == through_schema
