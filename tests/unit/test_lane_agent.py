"""The lane agent's offline rules and its journal, without a centre."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.billing import SHANGHAI, ChineseDayCalendar, parse_tariff, quote_stay
from core.lane_agent import (
    LotSnapshot,
    OfflineRead,
    SnapshotFormatError,
    SnapshotRight,
    decide_offline,
    snapshot_from_dict,
)
from core.lanes import Direction, LaneAction
from device_bridge.agent.journal import Journal

TARIFF = tomllib.loads(Path("tariffs/lot-standard.toml").read_text(encoding="utf-8"))
AT = datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)
CALENDAR = ChineseDayCalendar()


def snapshot(*, hospital: bool = False, body: dict[str, Any] = TARIFF) -> LotSnapshot:
    year = timedelta(days=365)
    return LotSnapshot(
        lot="LOT-X",
        hospital=hospital,
        block_refuses=True,
        devices={"CAM-E": ("E1", "entry"), "CAM-X": ("X1", "exit")},
        rights=(
            SnapshotRight("MP-1", "monthly", ("浙B88888",), AT - year, AT + year),
            SnapshotRight("OS-1", "owned_space", ("浙B66666",), AT - year, AT + year),
            SnapshotRight("MP-OLD", "monthly", ("浙B55555",), AT - 2 * year, AT - year),
            SnapshotRight("SV-1", "stored_value", ("浙B77777",), AT - year, AT + year),
        ),
        blocked=frozenset({"浙B44444"}),
        tariff_code="lot-standard",
        tariff_version=3,
        tariff_body=body,
        taken_at=AT,
    )


def entry(plate: str | None, snap: LotSnapshot | None = None) -> tuple[LaneAction, str]:
    decision = decide_offline(snap or snapshot(), OfflineRead(Direction.ENTRY, plate, AT), CALENDAR)
    return decision.action, decision.reason


def exit_after(
    plate: str, minutes: int | None, snap: LotSnapshot | None = None
) -> tuple[LaneAction, str, int | None, int | None]:
    entered = AT - timedelta(minutes=minutes) if minutes is not None else None
    read = OfflineRead(Direction.EXIT, plate, AT, entered_at=entered)
    decision = decide_offline(snap or snapshot(), read, CALENDAR)
    return decision.action, decision.reason, decision.fee_fen, decision.tariff_version


def test_entry_opens_for_passes_residents_and_temporary_cars() -> None:
    assert entry("浙B88888") == (LaneAction.OPEN, "offline_pass")
    assert entry("浙B66666") == (LaneAction.OPEN, "offline_pass")
    assert entry("浙B12345") == (LaneAction.OPEN, "offline_temporary")
    assert entry("浙B55555") == (LaneAction.OPEN, "offline_temporary")  # the pass expired
    assert entry("浙B77777") == (LaneAction.OPEN, "offline_temporary")  # a card is not a pass


def test_blocked_plates_stay_out_except_at_hospitals() -> None:
    assert entry("浙B44444") == (LaneAction.REFUSE, "offline_blocked")
    assert entry("浙B44444", snapshot(hospital=True)) == (LaneAction.OPEN, "offline_temporary")


def test_a_car_without_plates_waits_for_a_human() -> None:
    assert entry(None)[0] is LaneAction.HOLD


def test_pass_holders_leave_free() -> None:
    assert exit_after("浙B88888", 600) == (LaneAction.OPEN, "offline_pass", None, None)


def test_temporary_cars_are_priced_with_the_synced_tariff_and_released_unpaid() -> None:
    action, reason, fee, version = exit_after("浙B12345", 125)
    expected = quote_stay(parse_tariff(TARIFF), AT - timedelta(minutes=125), AT, calendar=CALENDAR)
    assert (action, reason, version) == (LaneAction.OPEN, "offline_unpaid", 3)
    assert fee == expected.total_fen and fee > 0


def test_the_fee_follows_the_snapshot_tariff_version() -> None:
    dearer = {
        **TARIFF,
        "bands": [{**TARIFF["bands"][0], "unit_fen": 2 * TARIFF["bands"][0]["unit_fen"]}],
    }
    _, _, cheap, _ = exit_after("浙B12345", 125)
    _, _, dear, _ = exit_after("浙B12345", 125, snapshot(body=dearer))
    assert cheap is not None and dear == 2 * cheap


def test_short_stays_leave_free_and_unknown_entries_leave_unpriced() -> None:
    assert exit_after("浙B12345", 5)[:3] == (LaneAction.OPEN, "offline_free", 0)
    assert exit_after("浙B12345", None)[:3] == (LaneAction.OPEN, "offline_unpaid", None)


def test_longer_stays_never_cost_less() -> None:
    fees = [exit_after("浙B12345", minutes)[2] or 0 for minutes in range(0, 3000, 37)]
    assert fees == sorted(fees)


def test_snapshot_survives_its_json_form() -> None:
    snap = snapshot()
    again = snapshot_from_dict(snap.to_dict())
    assert again.to_dict() == snap.to_dict()
    assert again.access_of("浙B66666", AT).value == "owned_space"


@pytest.mark.parametrize(
    "change",
    [
        {"format": 99},
        {"taken_at": "2026-11-25T09:00:00"},  # naive
        {"tariff_body": {"schema": 1}},
        {"rights": [{"ref": "x"}]},
    ],
)
def test_a_malformed_snapshot_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(SnapshotFormatError):
        snapshot_from_dict({**snapshot().to_dict(), **change})


def test_journal_keeps_order_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = Journal(path)
    first = journal.record("a", {"n": 1}, AT)
    second = journal.record("b", {"n": 2}, AT)
    assert journal.record("a", {"n": 99}, AT) == first  # a retry finds the first write
    journal.decide(second.seq, {"n": 2, "offline": True}, {"gate": "open"})
    journal.entered("浙B12345", AT, "small")
    journal.close()

    journal = Journal(path)
    assert [e.key for e in journal.pending()] == ["a", "b"]
    assert journal.pending_before(second.seq) == 1
    assert journal.find("b") is not None and journal.find("b").told == {"gate": "open"}  # type: ignore[union-attr]
    assert journal.entry_of("浙B12345") == (AT, "small")
    journal.delivered(first.seq, {"outcome": "applied"}, AT, state="sent")
    assert [e.key for e in journal.pending()] == ["b"]
    assert journal.prune(AT + timedelta(days=8)) == 1  # delivered and old: gone
    assert journal.backlog() == 1  # undelivered: kept however old
    journal.close()
