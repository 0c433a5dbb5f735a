"""A lane agent's offline rules: the lot snapshot it keeps and the gate decisions it takes alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.billing import DayCalendar, parse_tariff, quote_stay
from core.lanes import Access, Direction, LaneAction, best_access
from core.money import format_yuan

PASS_KINDS = frozenset({"monthly", "special", "owned_space", "rented_space"})
SNAPSHOT_FORMAT = 1


@dataclass(frozen=True, slots=True)
class SnapshotRight:
    """A pass, a resident's space or a stored-value card of the lot, with its plates."""

    ref: str
    kind: str
    plates: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime
    windows: str | None = None

    def valid_at(self, moment: datetime) -> bool:
        """Whether the right is in force at a moment (daily windows are the centre's business)."""
        return self.valid_from <= moment < self.valid_until


@dataclass(frozen=True, slots=True)
class LotSnapshot:
    """What the centre knew about one lot when the agent last synced: enough to run its gates."""

    lot: str
    hospital: bool
    block_refuses: bool
    devices: dict[str, tuple[str, str]]  # camera device code -> (lane code, direction)
    rights: tuple[SnapshotRight, ...]
    blocked: frozenset[str]
    tariff_code: str
    tariff_version: int
    tariff_body: dict[str, Any]
    taken_at: datetime
    _by_plate: dict[str, list[SnapshotRight]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for right in self.rights:
            for plate in right.plates:
                self._by_plate.setdefault(plate, []).append(right)

    def access_of(self, plate: str, moment: datetime) -> Access:
        """The strongest right the plate holds at a moment; none means temporary."""
        held = [r.kind for r in self._by_plate.get(plate, []) if r.valid_at(moment)]
        return best_access(held)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form the centre serves and the agent stores."""
        return {
            "format": SNAPSHOT_FORMAT,
            "lot": self.lot,
            "hospital": self.hospital,
            "block_refuses": self.block_refuses,
            "devices": {code: list(lane) for code, lane in self.devices.items()},
            "rights": [
                {
                    "ref": r.ref,
                    "kind": r.kind,
                    "plates": list(r.plates),
                    "valid_from": r.valid_from.isoformat(),
                    "valid_until": r.valid_until.isoformat(),
                    "windows": r.windows,
                }
                for r in self.rights
            ],
            "blocked": sorted(self.blocked),
            "tariff_code": self.tariff_code,
            "tariff_version": self.tariff_version,
            "tariff_body": self.tariff_body,
            "taken_at": self.taken_at.isoformat(),
        }


class SnapshotFormatError(ValueError):
    """A stored or served snapshot this agent cannot read."""


def snapshot_from_dict(data: dict[str, Any]) -> LotSnapshot:
    """Read a snapshot back; anything malformed raises SnapshotFormatError."""
    try:
        if data["format"] != SNAPSHOT_FORMAT:
            raise SnapshotFormatError(f"snapshot format {data['format']!r}")
        rights = tuple(
            SnapshotRight(
                r["ref"],
                r["kind"],
                tuple(r["plates"]),
                _aware(r["valid_from"]),
                _aware(r["valid_until"]),
                r.get("windows"),
            )
            for r in data["rights"]
        )
        parse_tariff(data["tariff_body"])  # refuse a tariff the agent could not price with
        return LotSnapshot(
            lot=str(data["lot"]),
            hospital=bool(data["hospital"]),
            block_refuses=bool(data["block_refuses"]),
            devices={str(k): (str(v[0]), str(v[1])) for k, v in data["devices"].items()},
            rights=rights,
            blocked=frozenset(data["blocked"]),
            tariff_code=str(data["tariff_code"]),
            tariff_version=int(data["tariff_version"]),
            tariff_body=dict(data["tariff_body"]),
            taken_at=_aware(data["taken_at"]),
        )
    except SnapshotFormatError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SnapshotFormatError(f"bad snapshot: {exc!r}") from exc


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {text!r}")
    return moment


@dataclass(frozen=True, slots=True)
class OfflineDecision:
    """A gate decision the agent took without the centre; kept with the event it answers."""

    action: LaneAction
    reason: str
    display_zh: str
    access: str
    fee_fen: int | None = None  # priced with `tariff_version`; None when it could not be priced
    tariff_version: int | None = None

    @property
    def opens(self) -> bool:
        """Whether the barrier lifts now."""
        return self.action is LaneAction.OPEN

    def to_dict(self) -> dict[str, Any]:
        """The JSON form journalled and resent to the centre."""
        return {
            "action": self.action.value,
            "reason": self.reason,
            "display": self.display_zh,
            "access": self.access,
            "fee_fen": self.fee_fen,
            "tariff_version": self.tariff_version,
        }


@dataclass(frozen=True, slots=True)
class OfflineRead:
    """What the agent knows about a car at a lane when it must decide alone."""

    direction: Direction
    plate: str | None
    read_at: datetime
    entered_at: datetime | None = None  # from the agent's own record of entries
    vehicle_class: str = "small"


def decide_offline(
    snapshot: LotSnapshot, read: OfflineRead, calendar: DayCalendar
) -> OfflineDecision:
    """Entry: passes and residents open, blocked plates stay out; exit: everyone leaves, priced."""
    if read.plate is None:
        # A car without plates needs the mini-program scan, which needs the centre.
        return OfflineDecision(LaneAction.HOLD, "offline_no_plate", "请按对讲呼叫工作人员", "")
    access = snapshot.access_of(read.plate, read.read_at)
    if read.direction is Direction.ENTRY:
        return _entry(snapshot, read.plate, access)
    if access.value in PASS_KINDS:
        return OfflineDecision(LaneAction.OPEN, "offline_pass", f"{read.plate} 一路顺风", access)
    if read.entered_at is None:
        # No entry on record here: let the car go and let the centre's rules settle it.
        text = f"{read.plate} 离场后请在小程序缴费"
        return OfflineDecision(LaneAction.OPEN, "offline_unpaid", text, access)
    tariff = parse_tariff(snapshot.tariff_body)
    quote = quote_stay(
        tariff,
        read.entered_at,
        max(read.read_at, read.entered_at),
        vehicle_class=read.vehicle_class,
        calendar=calendar,
    )
    version = snapshot.tariff_version
    if quote.total_fen <= 0:
        text = f"{read.plate} 一路顺风"
        return OfflineDecision(LaneAction.OPEN, "offline_free", text, access, 0, version)
    # No payment channel works without the centre: release, the fee becomes a pay-later stay.
    text = f"{read.plate} 停车费{format_yuan(quote.total_fen)}元 请离场后在小程序补缴"
    return OfflineDecision(
        LaneAction.OPEN, "offline_unpaid", text, access, quote.total_fen, version
    )


def _entry(snapshot: LotSnapshot, plate: str, access: Access) -> OfflineDecision:
    if plate in snapshot.blocked and snapshot.block_refuses and not snapshot.hospital:
        return OfflineDecision(LaneAction.REFUSE, "offline_blocked", f"{plate} 禁止入场", access)
    reason = "offline_pass" if access.reserved else "offline_temporary"
    return OfflineDecision(LaneAction.OPEN, reason, f"{plate} 欢迎光临", access)
