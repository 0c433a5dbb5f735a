"""Tariff versions by effective date, and the rule that picks the version pricing a stay."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime

from core.billing.errors import NaiveDatetimeError, TariffError
from core.billing.tariff import Tariff


class TariffSchedule:
    """The versions of one tariff; the version in force at the entry prices the whole stay."""

    __slots__ = ("_starts", "_versions")

    def __init__(self, versions: Sequence[Tariff]) -> None:
        if not versions:
            raise TariffError("versions", "a schedule needs at least one version")
        for index, version in enumerate(versions):
            if version.effective_from is None:
                raise TariffError(f"versions[{index}].effective_from", "is required in a schedule")
            if version.id != versions[0].id:
                raise TariffError(f"versions[{index}].id", "all versions must share one id")
        ordered = sorted(versions, key=lambda version: version.effective_from or datetime.min)
        starts = [version.effective_from for version in ordered]
        for index in range(1, len(starts)):
            if starts[index] == starts[index - 1]:
                raise TariffError(
                    f"versions[{index}].effective_from", "two versions take effect at once"
                )
        self._versions = tuple(ordered)
        self._starts = tuple(start for start in starts if start is not None)

    @property
    def versions(self) -> tuple[Tariff, ...]:
        """All versions, oldest first."""
        return self._versions

    def pick(self, entry: datetime) -> Tariff:
        """The version in force at ``entry``; a stay spanning a change keeps that version."""
        if entry.tzinfo is None or entry.utcoffset() is None:
            raise NaiveDatetimeError("entry")
        index = bisect_right(self._starts, entry)
        if index == 0:
            raise TariffError(
                "effective_from", f"no version of {self._versions[0].id} in force at {entry}"
            )
        return self._versions[index - 1]


def pick_version(versions: Sequence[Tariff], entry: datetime) -> Tariff:
    """Pick the version of a tariff that prices a stay entering at ``entry``."""
    return TariffSchedule(versions).pick(entry)
