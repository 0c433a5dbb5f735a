"""Parse and validate tariff definitions from TOML/JSON mappings into Tariff objects."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from datetime import datetime
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
from core.billing.tariff_fields import FieldReader, parse_bands

SCHEMA_VERSION = 1
DEFAULT_CLASS_LABELS = {
    "small": "小型车",
    "large": "大型车",
    "new_energy": "新能源车",
    "motorcycle": "摩托车",
}


def _layer(
    data: object, path: str, allowed: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read an override block; returns (typed fields, canonical mapping)."""
    reader = FieldReader(data, path)
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
        typed["bands"], canonical["bands"] = parse_bands(reader.raw("bands"), reader.at("bands"))
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
    reader = FieldReader(data, path)
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


def _effective_from(reader: FieldReader) -> tuple[datetime | None, str | None]:
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
    reader = FieldReader(mapping, "")
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
        parse_bands(reader.raw("bands"), "bands") if reader.has("bands") else ((), [])
    )
    base["bands"] = base_bands
    day_layers, day_canonical = (
        _day_types(reader.raw("day_types"), "day_types") if reader.has("day_types") else ({}, {})
    )
    class_reader = FieldReader(reader.raw("vehicle_classes") or {}, "vehicle_classes")
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
    plate_reader = FieldReader(reader.raw("plate_day") or {}, "plate_day")
    plate_day = PlateDayRules(
        free_period=plate_reader.choice(
            "free_period", FreePeriodSharing, FreePeriodSharing.FIRST_STAY
        ),
        continue_within_minutes=plate_reader.integer("continue_within_minutes", maximum=1440) or 0,
        cap_across_stays=_default(plate_reader.flag("cap_across_stays"), True),
    )
    plate_reader.finish()
    review_reader = FieldReader(reader.raw("review") or {}, "review")
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
