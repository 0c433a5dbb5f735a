"""Guidance signs (停车诱导屏) as pure rules: the lines a sign shows and when to push them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

# Downlink topics, outside the device uplink prefix (like lane commands).
SIGN_ROOT = "parking-signs/v1"


def sign_topic(code: str) -> str:
    """The MQTT topic a sign (or its network gateway) subscribes to."""
    return f"{SIGN_ROOT}/{code}"


class TargetKind(StrEnum):
    """What a line of a sign counts: a gated lot or an on-street zone."""

    LOT = "lot"
    ZONE = "zone"


@dataclass(frozen=True, slots=True)
class SignTarget:
    """One line of a sign: a lot or zone and the label painted or shown beside its count."""

    kind: TargetKind
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class SignConfig:
    """A sign as configured: its lines, its format, how it is reached and how often."""

    code: str
    transport: str  # mqtt or http
    address: str  # topic or URL
    format: str
    targets: tuple[SignTarget, ...]
    min_interval_seconds: int = 5
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SignLine:
    """A line as shown: the label and the free spaces of its target (None: not known)."""

    label: str
    free: int | None
    total: int | None


@dataclass(frozen=True, slots=True)
class SignMessage:
    """The bytes a sign (or its controller) takes, and their media type over HTTP."""

    body: bytes
    content_type: str


class SignFormat(Protocol):
    """A vendor's display format: lines in, the controller's message out."""

    def render(self, sign: SignConfig, lines: tuple[SignLine, ...]) -> SignMessage:
        """The message that makes the sign show these lines."""
        ...


class SignTransport(Protocol):
    """Carries a message to a sign (MQTT or HTTP); raises on failure."""

    async def send(self, sign: SignConfig, message: SignMessage) -> None:
        """Deliver one message."""
        ...


class UnknownSignFormatError(ValueError):
    """A sign names a format no port implements."""


Counts = Mapping[str, tuple[int, int]]  # target code -> (free, total)


def sign_lines(sign: SignConfig, lots: Counts, zones: Counts) -> tuple[SignLine, ...]:
    """The lines of a sign from the free counts of lots and zones."""
    lines = []
    for target in sign.targets:
        found = (lots if target.kind is TargetKind.LOT else zones).get(target.code)
        free, total = found if found is not None else (None, None)
        lines.append(SignLine(target.label, free, total))
    return tuple(lines)


@dataclass(slots=True)
class _Sent:
    lines: tuple[SignLine, ...]
    at: datetime


class SignPacer:
    """Pushes only changed lines, and to each sign at most once per its minimum interval."""

    def __init__(self) -> None:
        self._sent: dict[str, _Sent] = {}

    def due(self, sign: SignConfig, lines: tuple[SignLine, ...], now: datetime) -> bool:
        """Whether these lines should go out now (a change held back goes out later)."""
        last = self._sent.get(sign.code)
        if last is None:
            return True
        if last.lines == lines:
            return False
        return now - last.at >= timedelta(seconds=sign.min_interval_seconds)

    def sent(self, sign: SignConfig, lines: tuple[SignLine, ...], now: datetime) -> None:
        """Note what the sign shows now."""
        self._sent[sign.code] = _Sent(lines, now)

    def forget(self, codes: set[str]) -> None:
        """Drop signs no longer configured (a re-added sign gets its lines at once)."""
        for code in set(self._sent) - codes:
            del self._sent[code]


def line_text(line: SignLine) -> str:
    """How a line reads on a sign: the label and 余位 count, 已满 when full, -- when unknown."""
    if line.free is None:
        return f"{line.label} --"
    return f"{line.label} 已满" if line.free <= 0 else f"{line.label} 余位{line.free}"
