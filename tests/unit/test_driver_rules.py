"""Pure rules of the driver features: VINs, plate limits, scan codes, distances, price briefs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import scan_codes
from core.billing import load_tariff_file
from core.nearby import (
    GeoPoint,
    OutsideServiceAreaError,
    PlaceKind,
    PlaceSpot,
    box_around,
    checked_point,
    distance_m,
    nearest,
    summarise_tariff,
)
from core.scan_codes import InvalidScanCodeError, ScanCodeKind, ScanTarget
from core.vehicles import PlateLimitReachedError, check_plate_limit, is_valid_vin, with_check_digit

TARIFFS = Path(__file__).resolve().parents[2] / "tariffs"
SECRET = "unit-test-secret"


def test_vin_check_digit() -> None:
    assert is_valid_vin("1M8GDM9AXKP042788")  # the textbook example, check digit X
    assert not is_valid_vin("1M8GDM9A1KP042788")
    assert not is_valid_vin("1M8GDM9AXKP04278")  # 16 characters
    assert not is_valid_vin("IM8GDM9AXKP042788")  # I is never used
    assert is_valid_vin(with_check_digit("LSVAU2180N2183294"))


def test_plate_limit() -> None:
    check_plate_limit(4, 5)
    with pytest.raises(PlateLimitReachedError):
        check_plate_limit(5, 5)


@given(
    st.sampled_from(list(ScanCodeKind)),
    st.text(min_size=1, max_size=12),
    st.text(min_size=1, max_size=12),
)
def test_scan_codes_round_trip(kind: ScanCodeKind, a: str, b: str) -> None:
    target = ScanTarget(kind, lot=a, lane=b, berth=a, plate=b)
    payload = scan_codes.issue(target, SECRET)
    assert scan_codes.read(payload, SECRET) == target
    with pytest.raises(InvalidScanCodeError):
        scan_codes.read(payload, "another-secret")


@given(st.text(max_size=600))
def test_any_text_is_a_code_or_a_clean_refusal(text: str) -> None:
    with pytest.raises(InvalidScanCodeError):
        scan_codes.read(text, SECRET)


def test_scan_code_versions_rotate() -> None:
    target = ScanTarget(ScanCodeKind.BERTH, berth="HS1-001")
    old = scan_codes.issue(target, SECRET, version=1)
    new = scan_codes.issue(target, SECRET, version=2)
    assert old != new
    assert scan_codes.read(new, SECRET, frozenset({1, 2})) == target
    with pytest.raises(InvalidScanCodeError):
        scan_codes.read(old, SECRET, frozenset({2}))


def test_distance_and_box() -> None:
    tianyi, gulou = GeoPoint(29.868210, 121.554830), GeoPoint(29.876540, 121.546210)
    assert 1200 < distance_m(tianyi, gulou) < 1260  # about 1.23 km on the map
    box = box_around(tianyi, 1000)
    north = GeoPoint(tianyi.lat + 1000 / 111_195, tianyi.lng)
    assert box.holds(north) and distance_m(tianyi, north) == pytest.approx(1000, abs=1)
    with pytest.raises(OutsideServiceAreaError):
        checked_point(51.5, -0.12)


def test_nearest_filters_sorts_and_limits() -> None:
    center = GeoPoint(29.87, 121.55)

    def spot(key: str, dlat: float) -> PlaceSpot:
        point = GeoPoint(center.lat + dlat, center.lng)
        return PlaceSpot(key, PlaceKind.LOT, key, key, point, 10, "t")

    spots = [spot("c", 0.005), spot("a", 0.001), spot("far", 0.05), spot("b", 0.001)]
    assert [s.key for s, _ in nearest(spots, center, 1000, 10)] == ["a", "b", "c"]
    assert [s.key for s, _ in nearest(spots, center, 1000, 2)] == ["a", "b"]


def test_price_brief_of_a_class_one_street() -> None:
    brief = summarise_tariff(load_tariff_file(TARIFFS / "onstreet-class1.toml"))
    assert (brief.free_minutes, brief.daily_cap_fen) == (30, 2000)
    assert brief.text.startswith("前30分钟免费") and brief.text.endswith("每日封顶20元")
