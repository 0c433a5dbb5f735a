"""Tariff files: loading, validation errors with field paths, canonical round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.billing import (
    CapPeriod,
    DayType,
    Tariff,
    TariffError,
    VehicleClassError,
    load_tariff_file,
    parse_tariff,
)

from .conftest import TARIFF_DIR, demo

DEMOS = ["onstreet-class1", "onstreet-class2", "onstreet-class3", "lot-standard"]


def minimal(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "t",
        "bands": [
            {"name": "day", "start": "08:00", "end": "20:00", "unit_minutes": 30, "unit_fen": 100},
            {"name": "night", "start": "20:00", "end": "08:00", "unit_minutes": 60, "unit_fen": 50},
        ],
    }
    data.update(extra)
    return data


@pytest.mark.parametrize("name", DEMOS)
def test_demo_tariffs_round_trip_through_json(name: str) -> None:
    tariff = demo(name)
    data = json.loads(json.dumps(tariff.to_dict()))
    again = parse_tariff(data)
    assert again == tariff
    assert again.to_dict() == tariff.to_dict()


@pytest.mark.parametrize("name", DEMOS)
def test_demo_tariffs_price_four_vehicle_classes(name: str) -> None:
    tariff = demo(name)
    assert {"small", "large", "new_energy", "motorcycle"} <= set(tariff.vehicle_rules)


def test_demo_values_match_the_city_plan() -> None:
    caps = [
        demo(f"onstreet-class{n}").rules_for("small").tables[DayType.WORKDAY] for n in (1, 2, 3)
    ]
    assert [table.daily_cap_fen for table in caps] == [2000, 1500, 1000]
    assert all(demo(f"onstreet-class{n}").rules_for("small").free_minutes == 30 for n in (1, 2, 3))
    lot = demo("lot-standard")
    assert lot.cap_period is CapPeriod.ROLLING_24H
    assert lot.lost_ticket_fee_fen == 5000


def test_only_class3_is_free_on_holidays() -> None:
    for n in (1, 2, 3):
        holiday = demo(f"onstreet-class{n}").rules_for("small").tables[DayType.HOLIDAY]
        assert (holiday.bands == ()) is (n == 3)


def test_json_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(minimal()), encoding="utf-8")
    assert load_tariff_file(path) == parse_tariff(minimal())


def test_unknown_suffix_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("id: t", encoding="utf-8")
    with pytest.raises(TariffError):
        load_tariff_file(path)


def test_defaults_are_written_out_canonically() -> None:
    data = parse_tariff(minimal()).to_dict()
    assert data["free_minutes"] == 0
    assert data["cap_period"] == "natural_day"
    assert data["plate_day"]["free_period"] == "first_stay"
    assert data["bands"][0]["label"] == "day"
    assert "daily_cap_fen" not in data


def _bad_band(index: int, **change: Any) -> dict[str, Any]:
    data = minimal()
    data["bands"][index].update(change)
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"bands": []}, "id"),
        (minimal(daily_cap_fen=20.0), "daily_cap_fen"),
        (minimal(daily_cap_fen=True), "daily_cap_fen"),
        (minimal(daily_cap_fen=-1), "daily_cap_fen"),
        (minimal(colour="red"), "colour"),
        (minimal(cap_period="weekly"), "cap_period"),
        (minimal(effective_from="2025-01-01T00:00:00"), "effective_from"),
        (minimal(schema=2), "schema"),
        (_bad_band(1, start="25:00"), "bands[1].start"),
        (_bad_band(1, start="8:00"), "bands[1].start"),
        (_bad_band(0, end="24:01"), "bands[0].end"),
        (_bad_band(0, unit_minutes=0), "bands[0].unit_minutes"),
        (_bad_band(0, first_unit_minutes=60), "bands[0].first_unit_fen"),
        (_bad_band(0, end="21:00"), "bands[0].end"),
        (_bad_band(1, name="day"), "bands[1].name"),
        (_bad_band(0, price=3), "bands[0].price"),
        (minimal(bands={"name": "x"}), "bands"),
        (minimal(day_types={"festival": {"free": True}}), "day_types.festival"),
        (minimal(day_types={"holiday": {"free_minutes": 60}}), "day_types.holiday.free_minutes"),
        (
            minimal(vehicle_classes={"large": {"bands": [{"name": "x", "start": "08:00"}]}}),
            "vehicle_classes.large.bands[0].end",
        ),
        (minimal(plate_day={"free_period": "twice"}), "plate_day.free_period"),
        (minimal(review={"max_stay_hours": 0}), "review.max_stay_hours"),
    ],
)
def test_errors_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(TariffError) as caught:
        parse_tariff(data)
    assert caught.value.field == field
    assert str(caught.value).startswith(field)


def test_overlap_across_midnight_is_refused() -> None:
    data = _bad_band(1, end="09:00")  # night 20:00-09:00 runs into the 08:00 day band
    with pytest.raises(TariffError, match="overlaps"):
        parse_tariff(data)


def test_gaps_between_bands_are_allowed() -> None:
    data = minimal()
    data["bands"] = data["bands"][:1]
    tariff = parse_tariff(data)
    assert len(tariff.rules_for("small").tables[DayType.WORKDAY].bands) == 1


def test_adjusted_workday_is_priced_as_workday_unless_given_its_own_block() -> None:
    weekend_free = minimal(day_types={"weekend": {"free": True}, "workday": {"daily_cap_fen": 900}})
    rules = parse_tariff(weekend_free).rules_for("small")
    assert rules.tables[DayType.ADJUSTED_WORKDAY] == rules.tables[DayType.WORKDAY]
    assert rules.tables[DayType.WORKDAY].daily_cap_fen == 900
    assert rules.tables[DayType.WEEKEND].bands == ()
    own = minimal(day_types={"workday": {"daily_cap_fen": 900}, "adjusted_workday": {"free": True}})
    rules = parse_tariff(own).rules_for("small")
    assert rules.tables[DayType.ADJUSTED_WORKDAY].bands == ()


def test_day_type_free_wins_over_vehicle_class_bands() -> None:
    large_bands = [
        {"name": "all", "start": "00:00", "end": "24:00", "unit_minutes": 60, "unit_fen": 9}
    ]
    data = minimal(
        day_types={"holiday": {"free": True}},
        vehicle_classes={
            "large": {"bands": large_bands, "day_types": {"weekend": {"daily_cap_fen": 5}}}
        },
    )
    large = parse_tariff(data).rules_for("large")
    assert large.tables[DayType.HOLIDAY].bands == ()
    assert large.tables[DayType.WORKDAY].bands[0].unit_fen == 9
    assert large.tables[DayType.WEEKEND].daily_cap_fen == 5
    assert large.tables[DayType.WORKDAY].daily_cap_fen is None


def test_unknown_vehicle_class_is_an_error() -> None:
    tariff: Tariff = parse_tariff(minimal())
    with pytest.raises(VehicleClassError):
        tariff.rules_for("bus")


def test_tariff_files_directory_holds_the_demos() -> None:
    assert {path.stem for path in TARIFF_DIR.glob("*.toml")} >= set(DEMOS)
