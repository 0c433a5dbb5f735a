"""Mainland Chinese licence plates: normalising, validating and WeChat plate colours."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from core.errors import ValidationFailedError

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "A-HJ-NP-Z"  # I and O are never issued: they read as 1 and 0
_ALNUM = "A-HJ-NP-Z0-9"
_SUFFIXES = "学警领挂港澳试超"

_STANDARD = re.compile(rf"^[{PROVINCES}][{_LETTER}][{_ALNUM}]{{4}}[{_ALNUM}{_SUFFIXES}]$")
_NEW_ENERGY_SMALL = re.compile(rf"^[{PROVINCES}][{_LETTER}][DF][{_ALNUM}][0-9]{{4}}$")
_NEW_ENERGY_LARGE = re.compile(rf"^[{PROVINCES}][{_LETTER}][0-9]{{5}}[DF]$")
_EMBASSY = re.compile(r"^使[0-9]{6}$|^[0-9]{6}使$")
_ARMED_POLICE = re.compile(rf"^WJ[{PROVINCES}]?[0-9]{{4}}[0-9XTHJBSD]$")
_SEPARATORS = re.compile(r"[\s·•\-_.]")


class PlateColour(StrEnum):
    """Plate colours as WeChat Pay's vehicle parking service names them."""

    BLUE = "BLUE"
    GREEN = "GREEN"
    YELLOW = "YELLOW"
    BLACK = "BLACK"
    WHITE = "WHITE"
    LIMEGREEN = "LIMEGREEN"


class InvalidPlateError(ValidationFailedError):
    """The text is not a mainland licence plate."""

    code = "invalid_plate"
    message_zh = "车牌号格式不正确"


@dataclass(frozen=True, slots=True)
class Plate:
    """A validated, normalised plate number."""

    number: str

    @property
    def is_new_energy(self) -> bool:
        """Whether the plate is an 8-character new-energy plate."""
        return bool(_NEW_ENERGY_SMALL.match(self.number) or _NEW_ENERGY_LARGE.match(self.number))

    def default_colour(self) -> PlateColour:
        """The colour a plate of this shape usually has."""
        if _NEW_ENERGY_SMALL.match(self.number):
            return PlateColour.GREEN
        if _NEW_ENERGY_LARGE.match(self.number):
            return PlateColour.LIMEGREEN
        if _EMBASSY.match(self.number) or self.number[-1] in "港澳领":
            return PlateColour.BLACK
        if self.number.startswith("WJ") or self.number.endswith("警"):
            return PlateColour.WHITE
        if self.number[-1] in "学挂":
            return PlateColour.YELLOW
        return PlateColour.BLUE

    def masked(self) -> str:
        """The plate as logs may show it: province, letter and the last two characters."""
        return self.number[:2] + "*" * (len(self.number) - 4) + self.number[-2:]

    def __str__(self) -> str:
        return self.number


def normalise_plate_text(text: str) -> str:
    """Fold full-width characters, drop separators and upper-case the letters."""
    folded = unicodedata.normalize("NFKC", text)
    return _SEPARATORS.sub("", folded).upper()


def parse_plate(text: str) -> Plate:
    """Return the plate for a typed or read text, or raise InvalidPlateError."""
    number = normalise_plate_text(text)
    if not is_valid_plate_number(number):
        raise InvalidPlateError(detail=f"not a plate: {text!r}")
    return Plate(number)


def is_valid_plate_number(number: str) -> bool:
    """Whether an already normalised text is a mainland plate."""
    patterns = (_STANDARD, _NEW_ENERGY_SMALL, _NEW_ENERGY_LARGE, _EMBASSY, _ARMED_POLICE)
    return any(pattern.match(number) for pattern in patterns)


def parse_plate_colour(text: str | None, plate: Plate) -> PlateColour:
    """Return the WeChat colour named by text, or the plate's usual colour when absent."""
    if not text:
        return plate.default_colour()
    try:
        return PlateColour(text.upper())
    except ValueError:
        raise ValidationFailedError("车牌颜色不正确", detail=f"unknown colour {text!r}") from None


# A driver typing in chat mixes the letters never issued (I, O) with the digits they look like.
_SERIAL_FOLD = str.maketrans({"O": "0", "I": "1"})
_CANDIDATE_LENGTHS = (8, 7)  # a new-energy plate first, so its eighth character is not lost


@dataclass(frozen=True, slots=True)
class PlateFinding:
    """Plates found in a sentence and the normalised text around them."""

    plates: tuple[Plate, ...]
    rest: str


def find_plates(text: str) -> PlateFinding:
    """Every plate typed anywhere in a sentence (full-width, spaces, lower case, O for 0)."""
    folded = normalise_plate_text(text)
    plates: list[Plate] = []
    rest: list[str] = []
    i = 0
    while i < len(folded):
        found = _plate_at(folded, i) if folded[i] in PROVINCES or folded[i] in "使W" else None
        if found is None:
            rest.append(folded[i])
            i += 1
            continue
        if found not in plates:
            plates.append(found)
        i += len(found.number)
    return PlateFinding(tuple(plates), "".join(rest))


def _plate_at(text: str, start: int) -> Plate | None:
    for length in _CANDIDATE_LENGTHS:
        chunk = text[start : start + length]
        if len(chunk) < length:
            continue
        candidate = chunk[:2] + chunk[2:].translate(_SERIAL_FOLD)
        if is_valid_plate_number(candidate) and not _runs_on(text, start + length):
            return Plate(candidate)
    return None


def _runs_on(text: str, end: int) -> bool:
    """Whether more plate characters follow (then the chunk is part of a longer number)."""
    return end < len(text) and text[end].isascii() and text[end].isalnum()
