"""Passes and cards: covered time, overlap priority, shared spaces and stored value."""

from __future__ import annotations

from datetime import date

import pytest

from core.billing import (
    CoveredInterval,
    DailyWindow,
    LineKind,
    MonthlyPass,
    RightError,
    RightKind,
    SpecialPass,
    Tariff,
    assign_shared_cover,
    clip_cover,
    merge_cover,
    pass_cover,
    quote_stay,
    settle_stored_value,
)

from .conftest import at

NIGHTS = MonthlyPass(
    right_id="m-1",
    valid_from=date(2025, 3, 1),
    valid_until=date(2025, 3, 31),
    windows=(DailyWindow.parse("20:00-08:00"),),
    scope=frozenset({"lot-1"}),
)


def test_night_pass_covers_only_its_window(class1: Tariff) -> None:
    entry, exit = at(2025, 3, 3, 18), at(2025, 3, 4, 10)
    cover = pass_cover(NIGHTS, entry, exit, place="lot-1")
    assert [(c.start, c.end) for c in cover] == [(at(2025, 3, 3, 20), at(2025, 3, 4, 8))]
    q = quote_stay(class1, entry, exit, cover=cover)
    # 18:00-20:00 first hour 5.00 + 2 x 1.50; 08:00-10:00 4 x 1.50 (first hour already used).
    assert q.total_fen == 800 + 600
    covered = [line for line in q.lines if line.kind is LineKind.COVERED]
    assert len(covered) == 1 and covered[0].amount_fen == 0 and covered[0].rule == "m-1"
    assert [line.start for line in q.lines] == sorted(line.start for line in q.lines if line.start)
    assert "月租覆盖" in q.explanation_zh


def test_pass_outside_scope_or_dates_covers_nothing() -> None:
    entry, exit = at(2025, 3, 3, 18), at(2025, 3, 4, 10)
    assert pass_cover(NIGHTS, entry, exit, place="lot-2") == ()
    assert pass_cover(NIGHTS, at(2025, 4, 2, 18), at(2025, 4, 3, 10), place="lot-1") == ()
    # The window begun on the last valid day runs to the next morning.
    last = pass_cover(NIGHTS, at(2025, 3, 31, 18), at(2025, 4, 1, 10), place="lot-1")
    assert [(c.start, c.end) for c in last] == [(at(2025, 3, 31, 20), at(2025, 4, 1, 8))]


def test_all_day_pass_makes_the_stay_free(class1: Tariff) -> None:
    whole = MonthlyPass("m-2", date(2025, 3, 1), date(2025, 3, 31))
    entry, exit = at(2025, 3, 3, 9), at(2025, 3, 5, 9)
    q = quote_stay(class1, entry, exit, cover=pass_cover(whole, entry, exit))
    assert q.total_fen == 0


def test_pass_ending_mid_stay_leaves_the_rest_to_the_tariff(class1: Tariff) -> None:
    conference = SpecialPass("s-1", at(2025, 3, 3, 8), at(2025, 3, 3, 12))
    entry, exit = at(2025, 3, 3, 9), at(2025, 3, 3, 13)
    q = quote_stay(class1, entry, exit, cover=pass_cover(conference, entry, exit))
    assert q.total_fen == 500  # 12:00-13:00 charged as the stay's first day hour


def test_overlap_goes_to_the_special_pass() -> None:
    monthly = CoveredInterval(at(2025, 3, 3, 8), at(2025, 3, 3, 18), "m", RightKind.MONTHLY)
    special = CoveredInterval(at(2025, 3, 3, 10), at(2025, 3, 3, 12), "s", RightKind.SPECIAL)
    merged = merge_cover([monthly, special])
    assert [(c.right_id, c.start.hour, c.end.hour) for c in merged] == [
        ("m", 8, 10),
        ("s", 10, 12),
        ("m", 12, 18),
    ]


def test_cover_validation() -> None:
    with pytest.raises(RightError):
        CoveredInterval(at(2025, 3, 3, 10), at(2025, 3, 3, 9), "x")
    with pytest.raises(RightError):
        MonthlyPass("m", date(2025, 3, 2), date(2025, 3, 1))
    with pytest.raises(RightError):
        DailyWindow.parse("night")


def test_shared_space_first_come_and_cover_moves() -> None:
    insides = {
        "A": [(at(2025, 3, 3, 8), at(2025, 3, 3, 12))],
        "B": [(at(2025, 3, 3, 9), at(2025, 3, 3, 18))],
    }
    moves = assign_shared_cover(1, insides, cover_moves=True)
    assert moves["A"] == ((at(2025, 3, 3, 8), at(2025, 3, 3, 12)),)
    assert moves["B"] == ((at(2025, 3, 3, 12), at(2025, 3, 3, 18)),)
    stays = assign_shared_cover(1, insides, cover_moves=False)
    assert stays["B"] == ()
    both = assign_shared_cover(2, insides, cover_moves=False)
    assert both["B"] == ((at(2025, 3, 3, 9), at(2025, 3, 3, 18)),)


def test_shared_space_plate_not_yet_inside_holds_nothing() -> None:
    # A pass's other plate that has not entered yet (found by the traffic simulator: it crashed).
    insides = {"A": [(at(2025, 3, 3, 8), at(2025, 3, 3, 12))], "B": []}
    cover = assign_shared_cover(1, insides, cover_moves=True)
    assert cover == {"A": ((at(2025, 3, 3, 8), at(2025, 3, 3, 12)),), "B": ()}


def test_shared_space_cover_is_clipped_into_the_quote(class1: Tariff) -> None:
    whole = MonthlyPass("m-3", date(2025, 3, 1), date(2025, 3, 31), spaces=1)
    entry, exit = at(2025, 3, 3, 9), at(2025, 3, 3, 18)
    held = assign_shared_cover(
        whole.spaces,
        {"A": [(at(2025, 3, 3, 8), at(2025, 3, 3, 12))], "B": [(entry, exit)]},
        cover_moves=True,
    )["B"]
    cover = clip_cover(pass_cover(whole, entry, exit), held)
    q = quote_stay(class1, entry, exit, cover=cover)
    # B waits for A's space: 09:00-12:00 is charged (first hour 5.00 + 4 x 1.50), then covered.
    assert q.total_fen == 500 + 4 * 150
    covered = [line for line in q.lines if line.kind is LineKind.COVERED]
    assert [(line.start, line.end) for line in covered] == [(at(2025, 3, 3, 12), exit)]


def test_overlapping_inside_intervals_are_refused() -> None:
    with pytest.raises(RightError):
        assign_shared_cover(
            1,
            {
                "A": [
                    (at(2025, 3, 3, 8), at(2025, 3, 3, 12)),
                    (at(2025, 3, 3, 11), at(2025, 3, 3, 13)),
                ]
            },
            cover_moves=True,
        )


def test_stored_value_card() -> None:
    short = settle_stored_value(800, 300)
    assert (short.card_fen, short.due_fen, short.balance_after_fen) == (300, 500, 0)
    enough = settle_stored_value(800, 1000)
    assert (enough.card_fen, enough.due_fen, enough.balance_after_fen) == (800, 0, 200)
    with pytest.raises(RightError):
        settle_stored_value(-1, 0)


def test_band_cap_spans_the_pieces_a_pass_cuts_out_of_one_night(class1: Tariff) -> None:
    cover = [CoveredInterval(at(2025, 3, 4, 0), at(2025, 3, 4, 1), "m-4")]
    q = quote_stay(class1, at(2025, 3, 3, 20), at(2025, 3, 4, 8), cover=cover)
    # 20:00-24:00 4.00; 01:00-08:00 would be 7.00 but the night's 5.00 cap leaves 1.00.
    assert q.total_fen == 500
    assert [line.amount_fen for line in q.lines if line.kind is LineKind.BAND] == [400, 100]
