"""Typed field reading and band parsing for tariff definitions; errors carry field paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from core.billing.errors import TariffError
from core.billing.tariff import Band

_E = TypeVar("_E", bound=StrEnum)


class FieldReader:
    """Reads typed fields from one table, remembering which keys were used."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise TariffError(path or "tariff", "must be a table")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.used: set[str] = set()

    def at(self, key: str) -> str:
        """The field path of ``key`` in this table."""
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        """Whether the table sets ``key``."""
        return key in self.data

    def raw(self, key: str) -> Any:
        """The untyped value of ``key`` (None when absent), marking it used."""
        self.used.add(key)
        return self.data.get(key)

    def integer(self, key: str, minimum: int = 0, maximum: int | None = None) -> int | None:
        """An integer within bounds, or None when absent."""
        value = self.raw(key)
        if value is None:
            return None
        # bool is an int subclass and floats would bring rounding into money: refuse both.
        if isinstance(value, bool) or not isinstance(value, int):
            raise TariffError(self.at(key), "must be an integer")
        if value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else f" and at most {maximum}"
            raise TariffError(self.at(key), f"must be at least {minimum}{upper}")
        return value

    def text(self, key: str) -> str | None:
        """A non-empty string, or None when absent."""
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise TariffError(self.at(key), "must be a non-empty string")
        return value.strip()

    def flag(self, key: str) -> bool | None:
        """A boolean, or None when absent."""
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise TariffError(self.at(key), "must be true or false")
        return value

    def choice(self, key: str, kind: type[_E], default: _E) -> _E:
        """A member of ``kind`` by value, or ``default`` when absent."""
        value = self.raw(key)
        if value is None:
            return default
        try:
            return kind(value)
        except ValueError:
            options = ", ".join(member.value for member in kind)
            raise TariffError(self.at(key), f"must be one of {options}") from None

    def finish(self) -> None:
        """Refuse any key that was never read: a typo must not silently change a price."""
        for key in self.data:
            if key not in self.used:
                raise TariffError(self.at(str(key)), "unknown field")


def _clock(reader: FieldReader, key: str, allow_24: bool) -> tuple[int, str]:
    value = reader.raw(key)
    if value is None:
        raise TariffError(reader.at(key), "is required (HH:MM)")
    text = value if isinstance(value, str) else ""
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise TariffError(reader.at(key), "must be HH:MM")
    hours, minutes = int(parts[0]), int(parts[1])
    total = hours * 60 + minutes
    if minutes > 59 or total > 1440 or (total == 1440 and not allow_24):
        raise TariffError(reader.at(key), "is not a time of day")
    return total, text


def _band(data: object, path: str) -> tuple[Band, dict[str, Any]]:
    reader = FieldReader(data, path)
    name = reader.text("name")
    if name is None:
        raise TariffError(reader.at("name"), "is required")
    label = reader.text("label") or name
    start, start_text = _clock(reader, "start", allow_24=False)
    end, end_text = _clock(reader, "end", allow_24=True)
    unit_minutes = reader.integer("unit_minutes", minimum=1, maximum=1440)
    if unit_minutes is None:
        raise TariffError(reader.at("unit_minutes"), "is required")
    unit_fen = reader.integer("unit_fen")
    if unit_fen is None:
        raise TariffError(reader.at("unit_fen"), "is required")
    first_minutes = reader.integer("first_unit_minutes", minimum=1, maximum=1440)
    first_fen = reader.integer("first_unit_fen")
    if (first_minutes is None) != (first_fen is None):
        missing = "first_unit_fen" if first_fen is None else "first_unit_minutes"
        raise TariffError(reader.at(missing), "first_unit_minutes and first_unit_fen go together")
    cap = reader.integer("cap_fen")
    reader.finish()
    band = Band(name, label, start, end, unit_minutes, unit_fen, first_minutes, first_fen, cap)
    canonical: dict[str, Any] = {
        "name": name,
        "label": label,
        "start": start_text,
        "end": end_text,
        "unit_minutes": unit_minutes,
        "unit_fen": unit_fen,
    }
    if first_minutes is not None:
        canonical["first_unit_minutes"] = first_minutes
        canonical["first_unit_fen"] = first_fen
    if cap is not None:
        canonical["cap_fen"] = cap
    return band, canonical


def parse_bands(value: object, path: str) -> tuple[tuple[Band, ...], list[dict[str, Any]]]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise TariffError(path, "must be a list of bands")
    parsed = [_band(item, f"{path}[{index}]") for index, item in enumerate(value)]
    names: set[str] = set()
    for index, (band, _) in enumerate(parsed):
        if band.name in names:
            raise TariffError(f"{path}[{index}].name", f"duplicate band name {band.name!r}")
        names.add(band.name)
    _check_overlap(path, [band for band, _ in parsed])
    ordered = tuple(sorted((band for band, _ in parsed), key=lambda band: band.start_minute))
    return ordered, [canonical for _, canonical in parsed]


def _check_overlap(path: str, bands: list[Band]) -> None:
    """Bands may leave free gaps but must not overlap anywhere on the 24-hour circle."""
    order = sorted(range(len(bands)), key=lambda i: bands[i].start_minute)
    for position, index in enumerate(order):
        band = bands[index]
        nxt = bands[order[(position + 1) % len(order)]]
        next_start = nxt.start_minute + (1440 if position + 1 == len(order) else 0)
        if band.start_minute + band.length_seconds // 60 > next_start:
            raise TariffError(f"{path}[{index}].end", f"band {band.name!r} overlaps {nxt.name!r}")
