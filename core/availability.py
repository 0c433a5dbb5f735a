"""Live availability: which berths are free, counted per zone and street, and its store port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BerthLive:
    """One berth as guidance sees it; `version` orders occupancy updates of the berth."""

    code: str
    zone: str
    street: str
    occupied: bool
    closed: bool
    version: int

    @property
    def free(self) -> bool:
        """Whether a driver can park there now."""
        return not (self.occupied or self.closed)


@dataclass(frozen=True, slots=True)
class OccupancyChange:
    """A berth's occupancy after a committed event; a lower version than stored is stale."""

    code: str
    occupied: bool
    version: int


@dataclass(frozen=True, slots=True)
class Counts:
    """Berths and free berths of a zone or street."""

    total: int
    free: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Free counts per zone and street and, when asked for, each berth."""

    zones: dict[str, Counts]
    streets: dict[str, Counts]
    berths: list[BerthLive]


def summarise(berths: Iterable[BerthLive], *, with_berths: bool = False) -> Snapshot:
    """Count berths and free berths per zone and per (zone, street)."""
    zones: dict[str, list[int]] = {}
    streets: dict[str, list[int]] = {}
    listed = []
    for berth in berths:
        for key, table in ((berth.zone, zones), (street_key(berth.zone, berth.street), streets)):
            counts = table.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += int(berth.free)
        if with_berths:
            listed.append(berth)
    return Snapshot(
        zones={k: Counts(*v) for k, v in sorted(zones.items())},
        streets={k: Counts(*v) for k, v in sorted(streets.items())},
        berths=sorted(listed, key=lambda b: b.code),
    )


def street_key(zone: str, street: str) -> str:
    """A street is counted per zone, since one street can cross zones."""
    return f"{zone}/{street}"


class AvailabilityStore(Protocol):
    """Holds live berth states; in-process by default, Redis when configured."""

    async def load(self, berths: Iterable[BerthLive]) -> None:
        """Add or refresh berths, keeping a newer occupancy already stored."""
        ...

    async def apply(self, change: OccupancyChange) -> bool:
        """Apply a change unless a newer one is stored; True when it changed the state."""
        ...

    async def set_closed(self, code: str, closed: bool) -> bool:
        """Mark a berth closed or reopened; True when it changed the state."""
        ...

    async def berths(self, zone: str | None = None) -> list[BerthLive]:
        """Every berth, or those of one zone."""
        ...

    def changes(self) -> AsyncIterator[BerthLive | None]:
        """None once subscribed, then berth states as they change, until the caller stops."""
        ...
