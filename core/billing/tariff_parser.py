"""Parse and validate tariff definitions from TOML/JSON mappings into Tariff objects."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from core.billing.day_calendar import DayType
from core.billing.errors import TariffError
from core.billing.tariff import (
    DAY_SECONDS,
    Band,
    CapPeriod,
    FirstUnitScope,
    FreePeriodSharing,
    PlateDayRules,
    PriceTable,
    ReviewLimits,
    Tariff,
    VehicleRules,
)

SCHEMA_VERSION = 1
DEFAULT_CLASS_LABELS = {
    "small": "小型车",
    "large": "大型车",
    "new_energy": "新能源车",
    "motorcycle": "摩托车",
}
_E = TypeVar("_E", bound=StrEnum)


class _Reader:
    """Reads typed fields from one table, remembering which keys were used."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise TariffError(path or "tariff", "must be a table")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.used: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        self.used.add(key)
        return self.data.get(key)

    def integer(self, key: str, minimum: int = 0, maximum: int | None = None) -> int | None:
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
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise TariffError(self.at(key), "must be a non-empty string")
        return value.strip()

    def flag(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise TariffError(self.at(key), "must be true or false")
        return value

    def choice(self, key: str, kind: type[_E], default: _E) -> _E:
        value = self.raw(key)
        if value is None:
            return default
        try:
            return kind(value)
        except ValueError:
            options = ", ".join(member.value for member in kind)
            raise TariffError(self.at(key), f"must be one of {options}") from None

    def finish(self) -> None:
        for key in self.data:
            if key not in self.used:
                raise TariffError(self.at(str(key)), "unknown field")


def _clock(reader: _Reader, key: str, allow_24: bool) -> tuple[int, str]:
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
    reader = _Reader(data, path)
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


def _bands(value: object, path: str) -> tuple[tuple[Band, ...], list[dict[str, Any]]]:
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


def _layer(
    data: object, path: str, allowed: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read an override block; returns (typed fields, canonical mapping)."""
    reader = _Reader(data, path)
    typed: dict[str, Any] = {}
    canonical: dict[str, Any] = {}
    if "label" in allowed and (label := reader.text("label")) is not None:
        typed["label"] = canonical["label"] = label
    for key in ("free_minutes", "stay_cap_fen", "minimum_charge_fen", "daily_cap_fen"):
        if key in allowed and (number := reader.integer(key)) is not None:
            typed[key] = canonical[key] = number
    if (free := reader.flag("free")) is not None:
        typed["free"] = canonical["free"] = free
    if reader.has("bands"):
        typed["bands"], canonical["bands"] = _bands(reader.raw("bands"), reader.at("bands"))
    if "day_types" in allowed and reader.has("day_types"):
        typed["day_types"], canonical["day_types"] = _day_types(
            reader.raw("day_types"), reader.at("day_types")
        )
    reader.finish()
    return typed, canonical


_DAY_LAYER = frozenset({"daily_cap_fen"})
_CLASS_LAYER = frozenset(
    {"label", "free_minutes", "stay_cap_fen", "minimum_charge_fen", "daily_cap_fen", "day_types"}
)


def _day_types(
    data: object, path: str
) -> tuple[dict[DayType, dict[str, Any]], dict[str, dict[str, Any]]]:
    reader = _Reader(data, path)
    typed: dict[DayType, dict[str, Any]] = {}
    canonical: dict[str, dict[str, Any]] = {}
    for kind in DayType:
        if reader.has(kind.value):
            typed[kind], canonical[kind.value] = _layer(
                reader.raw(kind.value), reader.at(kind.value), _DAY_LAYER
            )
    reader.finish()
    return typed, canonical


def _day_layer(layers: Mapping[DayType, dict[str, Any]], kind: DayType) -> dict[str, Any]:
    """An adjusted workday (调休) is priced as a workday unless it has its own block."""
    if kind is DayType.ADJUSTED_WORKDAY and kind not in layers:
        return layers.get(DayType.WORKDAY, {})
    return layers.get(kind, {})


def _table(base: dict[str, Any], layers: list[dict[str, Any]]) -> PriceTable:
    bands: tuple[Band, ...] = base["bands"]
    cap: int | None = base.get("daily_cap_fen")
    free = False
    for layer in layers:
        if "bands" in layer:
            bands, free = layer["bands"], False
        if "free" in layer:
            free = layer["free"]
        if "daily_cap_fen" in layer:
            cap = layer["daily_cap_fen"]
    # A free day keeps its cap: a night band begun the day before may still charge into it.
    return PriceTable(bands=() if free else bands, daily_cap_fen=cap)


def _vehicle_rules(
    name: str, base: dict[str, Any], layer: dict[str, Any], day_layers: dict[DayType, Any]
) -> VehicleRules:
    own_days: dict[DayType, dict[str, Any]] = layer.get("day_types", {})
    tables = {
        kind: _table(base, [layer, _day_layer(day_layers, kind), _day_layer(own_days, kind)])
        for kind in DayType
    }
    return VehicleRules(
        vehicle_class=name,
        label=layer.get("label", DEFAULT_CLASS_LABELS.get(name, name)),
        free_minutes=layer.get("free_minutes", base["free_minutes"]),
        stay_cap_fen=layer.get("stay_cap_fen", base.get("stay_cap_fen")),
        minimum_charge_fen=layer.get("minimum_charge_fen", base["minimum_charge_fen"]),
        tables=tables,
        uniform=len(set(tables.values())) == 1,
        overhang_seconds=max(
            (
                band.start_seconds + band.length_seconds - DAY_SECONDS
                for table in tables.values()
                for band in table.bands
            ),
            default=0,
        ),
    )


def _effective_from(reader: _Reader) -> tuple[datetime | None, str | None]:
    value = reader.raw("effective_from")
    if value is None:
        return None, None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise TariffError(reader.at("effective_from"), "must be an ISO 8601 datetime") from None
    if not isinstance(value, datetime):
        raise TariffError(reader.at("effective_from"), "must be an ISO 8601 datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise TariffError(reader.at("effective_from"), "must carry a UTC offset")
    return value, value.isoformat()


def parse_tariff(mapping: Mapping[str, object]) -> Tariff:
    """Validate a TOML/JSON mapping and build a Tariff; errors name the field path."""
    reader = _Reader(mapping, "")
    schema = reader.integer("schema", minimum=SCHEMA_VERSION, maximum=SCHEMA_VERSION)
    tariff_id = reader.text("id")
    if tariff_id is None:
        raise TariffError("id", "is required")
    effective, effective_text = _effective_from(reader)
    base: dict[str, Any] = {
        "free_minutes": reader.integer("free_minutes", maximum=1440) or 0,
        "minimum_charge_fen": reader.integer("minimum_charge_fen") or 0,
    }
    for key in ("daily_cap_fen", "stay_cap_fen"):
        if (number := reader.integer(key)) is not None:
            base[key] = number
    base_bands, bands_canonical = (
        _bands(reader.raw("bands"), "bands") if reader.has("bands") else ((), [])
    )
    base["bands"] = base_bands
    day_layers, day_canonical = (
        _day_types(reader.raw("day_types"), "day_types") if reader.has("day_types") else ({}, {})
    )
    class_reader = _Reader(reader.raw("vehicle_classes") or {}, "vehicle_classes")
    class_layers: dict[str, dict[str, Any]] = {}
    class_canonical: dict[str, dict[str, Any]] = {}
    for name in sorted(class_reader.data):
        class_layers[name], class_canonical[name] = _layer(
            class_reader.raw(name), class_reader.at(name), _CLASS_LAYER
        )
    class_reader.finish()
    base_class = reader.text("base_vehicle_class") or "small"
    names = sorted({base_class, *class_layers})
    rules = {
        name: _vehicle_rules(name, base, class_layers.get(name, {}), day_layers) for name in names
    }
    plate_reader = _Reader(reader.raw("plate_day") or {}, "plate_day")
    plate_day = PlateDayRules(
        free_period=plate_reader.choice(
            "free_period", FreePeriodSharing, FreePeriodSharing.FIRST_STAY
        ),
        continue_within_minutes=plate_reader.integer("continue_within_minutes", maximum=1440) or 0,
        cap_across_stays=_default(plate_reader.flag("cap_across_stays"), True),
    )
    plate_reader.finish()
    review_reader = _Reader(reader.raw("review") or {}, "review")
    review = ReviewLimits(
        max_stay_minutes=_hours(review_reader.integer("max_stay_hours", minimum=1)),
        max_fee_fen=review_reader.integer("max_fee_fen", minimum=1),
    )
    review_reader.finish()
    canonical: dict[str, Any] = {
        "schema": schema or SCHEMA_VERSION,
        "id": tariff_id,
        "name": reader.text("name") or tariff_id,
        "version": reader.text("version") or "1",
    }
    if effective_text is not None:
        canonical["effective_from"] = effective_text
    if (description := reader.text("description")) is not None:
        canonical["description"] = description
    free_when_exceeded = _default(reader.flag("free_when_exceeded"), False)
    first_unit_scope = reader.choice("first_unit_scope", FirstUnitScope, FirstUnitScope.STAY)
    cap_period = reader.choice("cap_period", CapPeriod, CapPeriod.NATURAL_DAY)
    lost_ticket = reader.integer("lost_ticket_fee_fen")
    grace = _default(reader.integer("grace_minutes", maximum=1440), 15)
    reader.finish()
    canonical.update(
        {
            "free_minutes": base["free_minutes"],
            "free_when_exceeded": free_when_exceeded,
            "first_unit_scope": first_unit_scope.value,
            "cap_period": cap_period.value,
            "minimum_charge_fen": base["minimum_charge_fen"],
            "grace_minutes": grace,
            "base_vehicle_class": base_class,
            "bands": bands_canonical,
            "day_types": day_canonical,
            "vehicle_classes": class_canonical,
            "plate_day": {
                "free_period": plate_day.free_period.value,
                "continue_within_minutes": plate_day.continue_within_minutes,
                "cap_across_stays": plate_day.cap_across_stays,
            },
            "review": {},
        }
    )
    for key in ("daily_cap_fen", "stay_cap_fen"):
        if key in base:
            canonical[key] = base[key]
    if lost_ticket is not None:
        canonical["lost_ticket_fee_fen"] = lost_ticket
    if review.max_stay_minutes is not None:
        canonical["review"]["max_stay_hours"] = review.max_stay_minutes // 60
    if review.max_fee_fen is not None:
        canonical["review"]["max_fee_fen"] = review.max_fee_fen
    return Tariff(
        canonical=canonical,
        id=tariff_id,
        name=canonical["name"],
        version=canonical["version"],
        effective_from=effective,
        free_when_exceeded=free_when_exceeded,
        first_unit_scope=first_unit_scope,
        cap_period=cap_period,
        lost_ticket_fee_fen=lost_ticket,
        grace_minutes=grace,
        base_vehicle_class=base_class,
        vehicle_rules=rules,
        plate_day=plate_day,
        review=review,
    )


_T = TypeVar("_T")


def _default(value: _T | None, default: _T) -> _T:
    return default if value is None else value


def _hours(value: int | None) -> int | None:
    return None if value is None else value * 60


def load_tariff_file(path: str | Path) -> Tariff:
    """Read a .toml or .json tariff file and parse it."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix == ".toml":
        with file.open("rb") as handle:
            data: object = tomllib.load(handle)
    elif suffix == ".json":
        data = json.loads(file.read_text(encoding="utf-8"))
    else:
        raise TariffError(str(file), "tariff files end in .toml or .json")
    if not isinstance(data, Mapping):
        raise TariffError(str(file), "must hold a table")
    return parse_tariff(data)
