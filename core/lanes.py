"""Lane decisions of gated lots as pure rules: who enters, who leaves, who waits for a human."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.money import format_yuan
from core.plate_matching import MatchOutcome
from core.plates import Plate, PlateColour


class Direction(StrEnum):
    """Which way a lane lets cars through."""

    ENTRY = "entry"
    EXIT = "exit"


class LaneAction(StrEnum):
    """What the lane does with the car in front of it."""

    OPEN = "open"  # lift the barrier now
    REFUSE = "refuse"  # keep it down and say why
    PAY = "pay"  # show the fee and the pay QR code; open when the payment settles
    HOLD = "hold"  # keep it down; the remote attendant decides


class HoldReason(StrEnum):
    """Why a lane needs a human (the remote attendant's queue)."""

    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"
    IMPLAUSIBLE_FEE = "implausible_fee"
    STALE_STAY = "stale_stay"
    CLOCK = "clock"  # the exit read is dated before the car's entry: a device clock is wrong
    ANTI_PASSBACK = "anti_passback"
    UNREADABLE = "unreadable"
    DEVICE_FAULT = "device_fault"
    INTERCOM = "intercom"


class Access(StrEnum):
    """The right a plate holds in a lot; temporary vehicles hold none."""

    TEMPORARY = "temporary"  # 临时车
    MONTHLY = "monthly"  # 月租
    SPECIAL = "special"  # 特种/免费
    STORED_VALUE = "stored_value"  # 储值
    OWNED_SPACE = "owned_space"  # 业主产权车位
    RENTED_SPACE = "rented_space"  # 租用车位

    @property
    def reserved(self) -> bool:
        """Holders enter even when the temporary share is full (stored value is prepaid temporary
        parking, so it is not)."""
        return self not in (Access.TEMPORARY, Access.STORED_VALUE)

    @property
    def anti_passback(self) -> bool:
        """Rights bound to a plate that must alternate entry and exit."""
        return self in _PASSBACK


_PASSBACK = frozenset({Access.MONTHLY, Access.OWNED_SPACE, Access.RENTED_SPACE})


class ListAction(StrEnum):
    """What a block-list entry or arrears do at the entry lane."""

    REFUSE = "refuse"
    FLAG = "flag"


@dataclass(frozen=True, slots=True)
class LotPolicy:
    """Per-lot entry rules; hospital lots only ever flag (PRODUCT.md)."""

    hospital: bool = False
    capacity: int = 0  # spaces open to everyone (sold spaces excluded)
    temporary_capacity: int | None = None  # most temporary cars inside at once
    block_action: ListAction = ListAction.REFUSE
    arrears_threshold_fen: int | None = None
    arrears_action: ListAction = ListAction.REFUSE
    stale_after_hours: int = 24 * 30
    min_confidence: int = 0
    collect_arrears_at_exit: bool = False  # show and take the plate's city arrears at the exit

    def action(self, wanted: ListAction) -> ListAction:
        """The action this lot may take: a hospital never refuses."""
        return ListAction.FLAG if self.hospital else wanted


@dataclass(frozen=True, slots=True)
class EntryFacts:
    """What the centre knows when a car reaches an entry lane."""

    plate: str
    access: Access
    inside_already: bool  # the plate has an open stay in this lot
    open_stays: int
    open_temporary: int
    blocked: bool = False
    arrears_fen: int = 0
    confidence: int = 100


@dataclass(frozen=True, slots=True)
class Decision:
    """A lane's verdict, with the text for the display and the voice."""

    action: LaneAction
    reason: str
    display_zh: str
    hold: HoldReason | None = None
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def opens(self) -> bool:
        """Whether the barrier lifts now."""
        return self.action is LaneAction.OPEN


_WELCOME = {
    Access.TEMPORARY: "临时车",
    Access.MONTHLY: "月租车",
    Access.SPECIAL: "特种车",
    Access.STORED_VALUE: "储值车",
    Access.OWNED_SPACE: "业主车",
    Access.RENTED_SPACE: "租户车",
}


def decide_entry(policy: LotPolicy, facts: EntryFacts) -> Decision:
    """Entry rules in order: anti-passback, block list, arrears, low confidence, capacity."""
    flags: list[str] = []
    if facts.inside_already:
        if facts.access.anti_passback:
            return Decision(
                LaneAction.HOLD,
                "anti_passback_entry",
                f"{facts.plate} 未出场记录，请稍候",
                HoldReason.ANTI_PASSBACK,
            )
        flags.append("previous_stay_open")  # a missed exit; the old stay goes to review
    if facts.blocked:
        if policy.action(policy.block_action) is ListAction.REFUSE:
            return Decision(LaneAction.REFUSE, "blocked", f"{facts.plate} 禁止入场")
        flags.append("blocked")
    threshold = policy.arrears_threshold_fen
    if threshold is not None and facts.arrears_fen >= threshold:
        if policy.action(policy.arrears_action) is ListAction.REFUSE:
            return Decision(LaneAction.REFUSE, "arrears", f"{facts.plate} 有欠费，请补缴后入场")
        flags.append("arrears")
    if facts.confidence < policy.min_confidence:
        return Decision(
            LaneAction.HOLD, "low_confidence", "车牌识别不清，请稍候", HoldReason.UNREADABLE
        )
    if not facts.access.reserved:
        full = policy.capacity > 0 and facts.open_stays >= policy.capacity
        share = policy.temporary_capacity
        if full or (share is not None and facts.open_temporary >= share):
            return Decision(LaneAction.REFUSE, "lot_full", "车位已满，请勿入场")
    text = f"{facts.plate} {_WELCOME[facts.access]} 欢迎光临"
    return Decision(LaneAction.OPEN, f"entry_{facts.access.value}", text, flags=tuple(flags))


@dataclass(frozen=True, slots=True)
class ExitFacts:
    """What the centre knows when a car reaches an exit lane, after pricing."""

    plate: str
    match: MatchOutcome
    access: Access = Access.TEMPORARY
    entered_at: datetime | None = None
    read_at: datetime | None = None
    due_fen: int = 0
    settled_by: str = ""  # why nothing is due: free, grace, pass, stored_value, validation
    needs_review: bool = False
    match_flags: tuple[str, ...] = ()


def decide_exit(policy: LotPolicy, facts: ExitFacts) -> Decision:
    """Exit rules: no entry or two candidates → human; stale or implausible → human; else bill."""
    flags = facts.match_flags
    if facts.match is MatchOutcome.NONE:
        if facts.access.anti_passback:
            return Decision(
                LaneAction.HOLD,
                "anti_passback_exit",
                f"{facts.plate} 无入场记录，请稍候",
                HoldReason.ANTI_PASSBACK,
            )
        return Decision(
            LaneAction.HOLD, "no_entry", f"{facts.plate} 无入场记录，请稍候", HoldReason.NO_MATCH
        )
    if facts.match is MatchOutcome.AMBIGUOUS:
        return Decision(LaneAction.HOLD, "ambiguous", "请稍候，正在核对车牌", HoldReason.AMBIGUOUS)
    if facts.entered_at is not None and facts.read_at is not None:
        if facts.read_at < facts.entered_at:
            return Decision(
                LaneAction.HOLD, "exit_before_entry", "请稍候，正在核对停车记录", HoldReason.CLOCK
            )
        age_hours = (facts.read_at - facts.entered_at).total_seconds() / 3600
        if age_hours > policy.stale_after_hours:
            return Decision(
                LaneAction.HOLD, "stale_stay", "请稍候，正在核对停车记录", HoldReason.STALE_STAY
            )
    if facts.needs_review:
        return Decision(
            LaneAction.HOLD, "implausible_fee", "请稍候，正在核对费用", HoldReason.IMPLAUSIBLE_FEE
        )
    if facts.due_fen <= 0:
        reason = f"exit_{facts.settled_by or 'free'}"
        return Decision(LaneAction.OPEN, reason, f"{facts.plate} 一路顺风", flags=flags)
    return Decision(
        LaneAction.PAY,
        "fee_due",
        f"{facts.plate} 请缴费{format_yuan(facts.due_fen)}元",
        flags=flags,
    )


class CommandKind(StrEnum):
    """Commands the centre sends back to a lane's devices."""

    OPEN_GATE = "open_gate"
    DISPLAY = "display"
    SPEAK = "speak"


@dataclass(frozen=True, slots=True)
class LaneCommand:
    """One command to one lane; the transport picks the device (gate, LED, speaker)."""

    lane: str  # "<lot code>/<lane code>"
    kind: CommandKind
    text: str = ""
    pay_url: str | None = None


def commands_for(lane: str, decision: Decision, pay_url: str | None = None) -> list[LaneCommand]:
    """The commands that carry out a decision at a lane."""
    commands = [
        LaneCommand(lane, CommandKind.DISPLAY, decision.display_zh, pay_url),
        LaneCommand(lane, CommandKind.SPEAK, decision.display_zh),
    ]
    if decision.opens:
        commands.insert(0, LaneCommand(lane, CommandKind.OPEN_GATE))
    return commands


class LaneCommandPublisher(Protocol):
    """The port that carries commands to lanes (MQTT in production); HTTP answers carry them too."""

    async def publish(self, commands: list[LaneCommand]) -> None:
        """Send commands; a lane that cannot be reached keeps its last state."""
        ...


class RecordingPublisher:
    """A publisher that keeps what it was given: the default until an MQTT publisher exists."""

    def __init__(self) -> None:
        self.sent: list[LaneCommand] = []

    async def publish(self, commands: list[LaneCommand]) -> None:
        """Keep the commands."""
        self.sent.extend(commands)


# Which access gets which precedence when a plate holds several rights in one lot.
ACCESS_ORDER = (
    Access.SPECIAL,
    Access.OWNED_SPACE,
    Access.RENTED_SPACE,
    Access.MONTHLY,
    Access.STORED_VALUE,
)


def best_access(kinds: list[str]) -> Access:
    """The strongest right among a plate's rights; none means temporary."""
    held = {Access(kind) for kind in kinds}
    return next((access for access in ACCESS_ORDER if access in held), Access.TEMPORARY)


def vehicle_class(plate: Plate, colour: PlateColour | None, vehicle_type: str | None) -> str:
    """The tariff's vehicle class from what the camera saw (docs/lanes.md)."""
    if vehicle_type in ("bus", "truck") or (colour or plate.default_colour()) is PlateColour.YELLOW:
        return "large"
    if plate.is_new_energy:
        return "new_energy"
    return "small"
