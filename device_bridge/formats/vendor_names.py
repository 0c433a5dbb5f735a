"""Plate and body colours as camera vendors name them in words (Hikvision, Dahua), lower-cased."""

from __future__ import annotations

from core.lane_events import VehicleColour
from core.plates import PlateColour

PLATE_COLOURS: dict[str, PlateColour] = {
    "blue": PlateColour.BLUE,
    "yellow": PlateColour.YELLOW,
    "white": PlateColour.WHITE,
    "black": PlateColour.BLACK,
    "green": PlateColour.GREEN,
    "yellowgreen": PlateColour.LIMEGREEN,
}
BODY_COLOURS: dict[str, VehicleColour] = {
    "white": "white",
    "silver": "silver",
    "gray": "silver",
    "yellow": "yellow",
    "pink": "pink",
    "red": "red",
    "green": "green",
    "blue": "blue",
    "brown": "brown",
    "black": "black",
}


def plate_colour(name: object) -> PlateColour | None:
    """The plate colour a vendor's word names; None when unknown."""
    return PLATE_COLOURS.get(str(name or "").lower())


def body_colour(name: object) -> VehicleColour | None:
    """The body colour a vendor's word names; None when unknown."""
    return BODY_COLOURS.get(str(name or "").lower())
