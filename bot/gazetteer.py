"""The city's place names (lots, zones, streets, landmarks), looked up fuzzily by name."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.intents import fold, syllables
from core.nearby import GeoPoint, PlaceKind, PlaceSpot

DEFAULT_PLACES = Path(__file__).resolve().parents[1] / "config" / "bot_places.toml"
# Below this a name is a guess, not a match (0-100, rapidfuzz's scale).
MIN_SCORE = 72.0


@dataclass(frozen=True, slots=True)
class NamedPlace:
    """A place a driver may name: where it is, and the lot or zone it prices with."""

    name: str
    point: GeoPoint
    kind: str  # lot, street, zone or landmark
    lot: str | None = None
    zone: str | None = None
    tariff_code: str | None = None


@dataclass(frozen=True, slots=True)
class Landmark:
    """A landmark from the places file."""

    name: str
    aliases: tuple[str, ...]
    point: GeoPoint


def load_landmarks(path: Path | str = DEFAULT_PLACES) -> list[Landmark]:
    """The landmarks of a places file."""
    with Path(path).open("rb") as handle:
        data = tomllib.load(handle)
    return [
        Landmark(
            str(item["name"]),
            tuple(str(a) for a in item.get("aliases", [])),
            GeoPoint(float(item["lat"]), float(item["lng"])),
        )
        for item in data.get("landmarks", [])
    ]


def _pinyin_key(text: str) -> str:
    return " ".join(syllables(text))


class Gazetteer:
    """Every name and alias of the city's places, matched by characters and by sound."""

    def __init__(self, places: Iterable[tuple[NamedPlace, Iterable[str]]]) -> None:
        self._names: list[str] = []
        self._sounds: list[str] = []
        self._places: list[NamedPlace] = []
        for place, aliases in places:
            for name in dict.fromkeys([place.name, *aliases]):
                key = fold(name)
                if key:
                    self._names.append(key)
                    self._sounds.append(_pinyin_key(key))
                    self._places.append(place)

    @property
    def names(self) -> list[str]:
        """Every folded name (the segmenter learns them)."""
        return list(self._names)

    def lookup(self, query: str) -> NamedPlace | None:
        """The place a query names best, or None when nothing is close enough."""
        key = fold(query)
        if len(key) < 2:
            return None
        exact = [p for name, p in zip(self._names, self._places, strict=True) if name == key]
        if exact:
            return exact[0]
        # A whole name inside the query ("火车站那边") or the query inside a name ("中山东"):
        # the longest such name wins.
        inside = [
            (len(name), i)
            for i, name in enumerate(self._names)
            if len(name) >= 2 and (name in key or key in name)
        ]
        if inside:
            return self._places[max(inside)[1]]
        # Otherwise the closest spelling or sound as a whole (not a partial: 天气 is not 天一).
        by_text = process.extractOne(key, self._names, scorer=fuzz.ratio)
        by_sound = process.extractOne(_pinyin_key(key), self._sounds, scorer=fuzz.ratio)
        best = max((m for m in (by_text, by_sound) if m is not None), key=lambda m: m[1])
        return self._places[best[2]] if best[1] >= MIN_SCORE else None


def from_spots(
    spots: Iterable[PlaceSpot], zones: Iterable[tuple[str, str, str]], landmarks: Iterable[Landmark]
) -> Gazetteer:
    """A gazetteer of lots and streets (as places), zones (code, name, tariff) and landmarks."""
    entries: list[tuple[NamedPlace, Iterable[str]]] = []
    for spot in spots:
        if spot.kind is PlaceKind.LOT:
            place = NamedPlace(
                spot.name, spot.point, "lot", lot=spot.code, tariff_code=spot.tariff_code
            )
            entries.append((place, [spot.code]))
        else:
            zone, street = spot.code.split("/", 1)
            place = NamedPlace(
                spot.name, spot.point, "street", zone=zone, tariff_code=spot.tariff_code
            )
            entries.append((place, [street]))
    streets = [p for p, _ in entries if p.kind == "street"]
    for code, name, tariff in zones:
        points = [p.point for p in streets if p.zone == code]
        if points:
            centre = GeoPoint(
                sum(p.lat for p in points) / len(points), sum(p.lng for p in points) / len(points)
            )
            entries.append(
                (NamedPlace(name, centre, "zone", zone=code, tariff_code=tariff), [code])
            )
    for landmark in landmarks:
        entries.append((NamedPlace(landmark.name, landmark.point, "landmark"), landmark.aliases))
    return Gazetteer(entries)
