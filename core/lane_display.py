"""What a lane's LED and speaker say for a decision, per the lane's display profile."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from core.lanes import Decision

LED_FORMATS = ("none", "onbon_bx")
FAREWELL = "一路顺风"


@dataclass(frozen=True, slots=True)
class LaneDisplayProfile:
    """A lane's LED controller (behind the camera's RS-485) and voice settings."""

    led: str = "none"  # one of LED_FORMATS
    led_address: int = 1
    led_width: int = 64
    led_height: int = 32
    serial_channel: int = 0  # the camera's RS-485 port the LED hangs on
    voice: bool = True
    volume: int = 100
    farewell: str = FAREWELL

    def to_dict(self) -> dict[str, Any]:
        """The stored form."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LaneTexts:
    """The LED's lines and the voice prompt (None: the lane stays silent)."""

    lines: tuple[str, ...]
    voice: str | None


_KNOWN = {f.name for f in fields(LaneDisplayProfile)}


def profile_of(stored: Mapping[str, Any] | None) -> LaneDisplayProfile:
    """The profile a lane row holds; keys a newer version wrote are ignored."""
    if not stored:
        return LaneDisplayProfile()
    return LaneDisplayProfile(**{k: v for k, v in stored.items() if k in _KNOWN})


def lane_texts(decision: Decision, profile: LaneDisplayProfile) -> LaneTexts:
    """Plate on the first line, the rest below; the lane's own farewell replaces 一路顺风."""
    text = decision.display_zh
    if profile.farewell and profile.farewell != FAREWELL:
        text = text.replace(FAREWELL, profile.farewell)
    first, _, rest = text.partition(" ")
    lines = (first, rest) if rest else (text,)
    return LaneTexts(lines, text if profile.voice else None)
