"""The lane controllers' commands for a decision: LED frames and the voice, in their formats.

Kept apart from the decision (called after it, from the transport) so the hot path stays lean.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from core.lane_display import LaneDisplayProfile, LaneTexts, lane_texts, profile_of
from core.services.lanes import LaneOutcome
from device_bridge.formats import onbon_bx


@dataclass(frozen=True, slots=True)
class LaneControls:
    """What the lane shows and says, and the LED controller's frames for it."""

    profile: LaneDisplayProfile
    texts: LaneTexts
    frames: tuple[bytes, ...]

    def serial_data(self) -> list[dict[str, Any]]:
        """Vzenith's `serialData` items: each frame base64-encoded for the RS-485 port."""
        return [
            {
                "serialChannel": self.profile.serial_channel,
                "data": base64.b64encode(frame).decode("ascii"),
                "dataLen": len(frame),
            }
            for frame in self.frames
        ]


def controls_for(outcome: LaneOutcome) -> LaneControls | None:
    """The controls of an outcome with a decision; None for an offline record."""
    if outcome.decision is None:
        return None
    profile = profile_of(outcome.display)
    texts = lane_texts(outcome.decision, profile)
    return LaneControls(profile, texts, led_frames(texts, profile))


def led_frames(texts: LaneTexts, profile: LaneDisplayProfile) -> tuple[bytes, ...]:
    """The LED controller's frames for the lines (none without a configured LED)."""
    if profile.led != "onbon_bx":
        return ()
    style = onbon_bx.AreaStyle(
        width=profile.led_width,
        height=profile.led_height,
        single_line=1 if len(texts.lines) == 1 else 2,
    )
    return (onbon_bx.frame("\n".join(texts.lines), style, profile.led_address),)
