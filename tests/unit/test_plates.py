"""Plate normalising, validation and WeChat colours."""

import pytest

from core.plates import InvalidPlateError, PlateColour, parse_plate, parse_plate_colour


@pytest.mark.parametrize(
    ("text", "number", "colour"),
    [
        ("浙B12345", "浙B12345", PlateColour.BLUE),
        ("浙b·1234５", "浙B12345", PlateColour.BLUE),
        (" 沪A-D12345 ", "沪AD12345", PlateColour.GREEN),
        ("粤B12345F", "粤B12345F", PlateColour.LIMEGREEN),
        ("京A1234学", "京A1234学", PlateColour.YELLOW),
        ("粤Z1234港", "粤Z1234港", PlateColour.BLACK),
        ("苏A1234警", "苏A1234警", PlateColour.WHITE),
    ],
)
def test_valid_plates_are_normalised(text: str, number: str, colour: PlateColour) -> None:
    plate = parse_plate(text)
    assert plate.number == number
    assert plate.default_colour() is colour


@pytest.mark.parametrize(
    "text",
    ["", "浙B1234", "浙B123456", "XB12345", "浙BI2345", "浙B12O45", "浙1B2345", "浙BA12345"],
)
def test_malformed_plates_are_refused(text: str) -> None:
    with pytest.raises(InvalidPlateError) as raised:
        parse_plate(text)
    assert raised.value.code == "invalid_plate"
    assert raised.value.message_zh == "车牌号格式不正确"


def test_eight_character_plates_are_new_energy() -> None:
    assert parse_plate("浙AD12345").is_new_energy
    assert not parse_plate("浙A12345").is_new_energy


def test_explicit_colour_wins_and_unknown_colour_is_refused() -> None:
    plate = parse_plate("浙B12345")
    assert parse_plate_colour("yellow", plate) is PlateColour.YELLOW
    assert parse_plate_colour(None, plate) is PlateColour.BLUE
    with pytest.raises(Exception, match="purple"):
        parse_plate_colour("purple", plate)


def test_masked_plate_hides_the_middle() -> None:
    assert parse_plate("浙B12345").masked() == "浙B***45"
