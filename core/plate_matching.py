"""Matching an exit read to the open stays of a lot: exact first, then the documented misreads.

The rules (docs/lanes.md) rank how a read can differ from a stay's plate:

- ``EXACT``: the same text.
- ``CONFUSED``: same length and province, and every differing position is a pair of characters
  cameras confuse (0/D/Q, 8/B, 2/Z, 5/S, 6/G), at most two such positions.
- ``ONE_OFF``: same length, exactly one position differs by any other character, or only the
  province character differs (a wrong province), or the read lacks the province character.

Only the best rank with any candidate counts. One candidate there is a match; two or more are
ambiguous and go to a human: the matcher never chooses between them. When both reads carry a
vehicle type or colour (or plate colour) and they differ, a fuzzy candidate is dropped and an
exact one is kept but flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from core.plates import PROVINCES

# Pairs of characters ANPR engines confuse; each group is one confusion class.
CONFUSION_GROUPS: tuple[str, ...] = ("0DQ", "8B", "2Z", "5S", "6G")
MAX_CONFUSED_POSITIONS = 2

_GROUP_OF: dict[str, int] = {
    char: index for index, group in enumerate(CONFUSION_GROUPS) for char in group
}


class MatchRank(IntEnum):
    """How far a read is from a plate; lower is closer."""

    EXACT = 0
    CONFUSED = 1
    ONE_OFF = 2


class MatchOutcome(StrEnum):
    """What the matcher concluded."""

    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class VehicleLook:
    """What a camera saw besides the plate text; None where it said nothing."""

    plate_colour: str | None = None
    vehicle_type: str | None = None
    vehicle_colour: str | None = None

    def conflicts(self, other: VehicleLook) -> tuple[str, ...]:
        """Attributes both reads have and that differ."""
        pairs = (
            ("plate_colour", self.plate_colour, other.plate_colour),
            ("vehicle_type", self.vehicle_type, other.vehicle_type),
            ("vehicle_colour", self.vehicle_colour, other.vehicle_colour),
        )
        return tuple(name for name, a, b in pairs if a and b and a != b)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open stay the read may belong to."""

    key: str
    plate: str
    look: VehicleLook = field(default_factory=VehicleLook)


@dataclass(frozen=True, slots=True)
class Match:
    """The matcher's answer: the chosen candidate or the tied ones, and why."""

    outcome: MatchOutcome
    rank: MatchRank | None = None
    chosen: Candidate | None = None
    tied: tuple[Candidate, ...] = ()
    flags: tuple[str, ...] = ()


def _confusable(a: str, b: str) -> bool:
    group = _GROUP_OF.get(a)
    return group is not None and group == _GROUP_OF.get(b)


def rank(read: str, plate: str) -> MatchRank | None:
    """How a read relates to a plate under the misread rules, or None when it is too far."""
    if read == plate:
        return MatchRank.EXACT
    if len(read) + 1 == len(plate) and plate[0] in PROVINCES and plate[1:] == read:
        return MatchRank.ONE_OFF  # the camera dropped the province character
    if len(read) != len(plate):
        return None
    differing = [i for i, (a, b) in enumerate(zip(read, plate, strict=True)) if a != b]
    if all(_confusable(read[i], plate[i]) for i in differing):
        if len(differing) <= MAX_CONFUSED_POSITIONS:
            return MatchRank.CONFUSED
        return None
    if len(differing) == 1:
        return MatchRank.ONE_OFF
    return None


def match_read(read: str, look: VehicleLook, candidates: Iterable[Candidate]) -> Match:
    """Find the stay a read belongs to; ties at the best rank are ambiguous, never resolved."""
    by_rank: dict[MatchRank, list[Candidate]] = {}
    flags: list[str] = []
    for candidate in candidates:
        found = rank(read, candidate.plate)
        if found is None:
            continue
        conflicts = look.conflicts(candidate.look)
        if conflicts and found is not MatchRank.EXACT:
            continue  # a fuzzy text match that also looks different is another car
        by_rank.setdefault(found, []).append(candidate)
    if not by_rank:
        return Match(MatchOutcome.NONE)
    best = min(by_rank)
    tied = tuple(sorted(by_rank[best], key=lambda c: c.key))
    if len(tied) > 1:
        return Match(MatchOutcome.AMBIGUOUS, best, tied=tied)
    chosen = tied[0]
    flags.extend(f"{name}_differs" for name in look.conflicts(chosen.look))
    return Match(MatchOutcome.MATCHED, best, chosen, tied, tuple(flags))


def misread_variants(plate: str) -> Sequence[str]:
    """Texts a camera may report for a plate through one confusion; used by tests and tools."""
    variants: list[str] = []
    for i, char in enumerate(plate):
        group = _GROUP_OF.get(char)
        if group is None:
            continue
        variants.extend(plate[:i] + other + plate[i + 1 :] for other in CONFUSION_GROUPS[group])
    return [v for v in dict.fromkeys(variants) if v != plate]


def like_patterns(read: str) -> tuple[str, ...]:
    """SQL LIKE patterns (escape ``\\``) that every plate `rank` accepts for the read matches.

    A prefilter only: the patterns also match plates `rank` refuses, so the candidates they
    select still go through `match_read`, which alone decides.
    """
    chars = [c.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for c in read]
    patterns = ["_" + "".join(chars)]  # the camera dropped the province character
    for i in range(len(chars)):  # one position differs (a wrong province, a confusion)
        patterns.append("".join(chars[:i]) + "_" + "".join(chars[i + 1 :]))
    confusable = [i for i, char in enumerate(read) if char in _GROUP_OF]
    for n, i in enumerate(confusable):  # two confused positions
        for j in confusable[n + 1 :]:
            both = [*chars[:i], "_", *chars[i + 1 : j], "_", *chars[j + 1 :]]
            patterns.append("".join(both))
    return tuple(patterns)
