"""Lane decisions as pure rules: entry order, hospital flags, exit holds, vehicle classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.lanes import (
    Access,
    CommandKind,
    EntryFacts,
    ExitFacts,
    HoldReason,
    LaneAction,
    ListAction,
    LotPolicy,
    best_access,
    commands_for,
    decide_entry,
    decide_exit,
    vehicle_class,
)
from core.plate_matching import MatchOutcome
from core.plates import PlateColour, parse_plate

MALL = LotPolicy(capacity=10, temporary_capacity=4, arrears_threshold_fen=5000)
HOSPITAL = LotPolicy(hospital=True, capacity=10, arrears_threshold_fen=5000)


def facts(**changes: object) -> EntryFacts:
    base: dict[str, object] = {
        "plate": "浙B12345",
        "access": Access.TEMPORARY,
        "inside_already": False,
        "open_stays": 0,
        "open_temporary": 0,
    }
    return EntryFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_a_temporary_car_enters_an_empty_lot() -> None:
    decision = decide_entry(MALL, facts())
    assert (decision.action, decision.reason) == (LaneAction.OPEN, "entry_temporary")
    assert decision.display_zh == "浙B12345 临时车 欢迎光临"


@pytest.mark.parametrize(("total", "temporary"), [(10, 0), (5, 4)])
def test_a_full_lot_or_share_refuses_temporary_cars_only(total: int, temporary: int) -> None:
    full = facts(open_stays=total, open_temporary=temporary)
    assert decide_entry(MALL, full).reason == "lot_full"
    for access in (Access.MONTHLY, Access.SPECIAL, Access.OWNED_SPACE, Access.RENTED_SPACE):
        assert decide_entry(MALL, facts(open_stays=total, access=access)).opens
    assert (
        decide_entry(
            MALL, facts(open_stays=total, open_temporary=temporary, access=Access.STORED_VALUE)
        ).reason
        == "lot_full"
    )


def test_anti_passback_holds_a_pass_but_only_flags_a_temporary_car() -> None:
    held = decide_entry(MALL, facts(access=Access.MONTHLY, inside_already=True))
    assert (held.action, held.hold) == (LaneAction.HOLD, HoldReason.ANTI_PASSBACK)
    temporary = decide_entry(MALL, facts(inside_already=True))
    assert temporary.opens and temporary.flags == ("previous_stay_open",)


def test_block_list_and_arrears_refuse_at_a_mall_and_flag_at_a_hospital() -> None:
    assert decide_entry(MALL, facts(blocked=True)).reason == "blocked"
    assert decide_entry(MALL, facts(arrears_fen=5000)).reason == "arrears"
    assert decide_entry(MALL, facts(arrears_fen=4999)).opens
    flagged = decide_entry(HOSPITAL, facts(blocked=True, arrears_fen=9000))
    assert flagged.opens and flagged.flags == ("blocked", "arrears")
    lenient = LotPolicy(block_action=ListAction.FLAG)
    assert decide_entry(lenient, facts(blocked=True)).flags == ("blocked",)


def test_a_low_confidence_read_waits_for_a_human() -> None:
    strict = LotPolicy(min_confidence=80)
    assert decide_entry(strict, facts(confidence=79)).hold is HoldReason.UNREADABLE
    assert decide_entry(strict, facts(confidence=80)).opens


NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def exit_facts(**changes: object) -> ExitFacts:
    base: dict[str, object] = {
        "plate": "浙B12345",
        "match": MatchOutcome.MATCHED,
        "entered_at": NOW - timedelta(hours=2),
        "read_at": NOW,
    }
    return ExitFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_exit_decisions() -> None:
    assert decide_exit(MALL, exit_facts(due_fen=600)).display_zh == "浙B12345 请缴费6.00元"
    assert decide_exit(MALL, exit_facts(settled_by="pass")).reason == "exit_pass"
    none = decide_exit(MALL, exit_facts(match=MatchOutcome.NONE))
    assert none.hold is HoldReason.NO_MATCH
    monthly = exit_facts(match=MatchOutcome.NONE, access=Access.MONTHLY)
    assert decide_exit(MALL, monthly).hold is HoldReason.ANTI_PASSBACK
    ambiguous = decide_exit(MALL, exit_facts(match=MatchOutcome.AMBIGUOUS))
    assert ambiguous.hold is HoldReason.AMBIGUOUS
    stale = exit_facts(entered_at=NOW - timedelta(hours=721), due_fen=0)
    assert decide_exit(MALL, stale).hold is HoldReason.STALE_STAY
    assert decide_exit(MALL, exit_facts(needs_review=True)).hold is HoldReason.IMPLAUSIBLE_FEE


def test_commands_open_the_gate_only_when_the_decision_opens() -> None:
    opened = decide_entry(MALL, facts())
    kinds = [c.kind for c in commands_for("LOT/E1", opened)]
    assert kinds == [CommandKind.OPEN_GATE, CommandKind.DISPLAY, CommandKind.SPEAK]
    refused = decide_entry(MALL, facts(blocked=True))
    assert CommandKind.OPEN_GATE not in [c.kind for c in commands_for("LOT/E1", refused)]


def test_best_access_and_vehicle_class() -> None:
    assert best_access([]) is Access.TEMPORARY
    assert best_access(["stored_value", "monthly"]) is Access.MONTHLY
    assert best_access(["monthly", "special"]) is Access.SPECIAL
    assert vehicle_class(parse_plate("浙BD12345"), None, None) == "new_energy"
    assert vehicle_class(parse_plate("浙B12345"), PlateColour.YELLOW, None) == "large"
    assert vehicle_class(parse_plate("浙B12345"), None, "truck") == "large"
    assert vehicle_class(parse_plate("浙B12345"), None, "sedan") == "small"
