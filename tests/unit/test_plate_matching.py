"""Plate matching at exit: every misread rule, and the properties exact-first and no silent pick."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.plate_matching import (
    CONFUSION_GROUPS,
    Candidate,
    MatchOutcome,
    MatchRank,
    VehicleLook,
    like_patterns,
    match_read,
    misread_variants,
    rank,
)
from core.plates import PROVINCES, is_valid_plate_number

NOTHING = VehicleLook()


RANK_CASES = [
    ("浙B12345", "浙B12345", MatchRank.EXACT),
    ("浙B1234D", "浙B12340", MatchRank.CONFUSED),  # 0 read as D
    ("浙B1234Q", "浙B1234D", MatchRank.CONFUSED),  # D and Q are one class
    ("浙812345", "浙B12345", MatchRank.CONFUSED),  # B read as 8
    ("浙BZ2345", "浙B22345", MatchRank.CONFUSED),
    ("浙B1234S", "浙B12345", MatchRank.CONFUSED),
    ("浙B1G345", "浙B16345", MatchRank.CONFUSED),
    ("浙8Z2345", "浙B22345", MatchRank.CONFUSED),  # two confusions still count
    ("浙8ZZ345", "浙B22345", None),  # three are too many
    ("浙B12375", "浙B12345", MatchRank.ONE_OFF),  # any one character
    ("沪B12345", "浙B12345", MatchRank.ONE_OFF),  # wrong province
    ("B12345", "浙B12345", MatchRank.ONE_OFF),  # province missing
    ("浙B12375", "浙B12346", None),  # two ordinary differences
    ("浙B1234", "浙B12345", None),
    ("浙B12345", "浙BD12345", None),
    ("浙BD12345", "浙BD12345", MatchRank.EXACT),  # 8-character new-energy plate
    ("浙BDI2345", "浙BD12345", MatchRank.ONE_OFF),
]


@pytest.mark.parametrize(("read", "plate", "expected"), RANK_CASES)
def test_rank_follows_the_documented_rules(
    read: str, plate: str, expected: MatchRank | None
) -> None:
    assert rank(read, plate) == expected


def test_exact_beats_a_confusion_and_a_one_off() -> None:
    candidates = [
        Candidate("a", "浙B12340"),
        Candidate("b", "浙B1234D"),
        Candidate("c", "浙B1234X"),
    ]
    found = match_read("浙B1234D", NOTHING, candidates)
    assert (found.outcome, found.chosen, found.rank) == (
        MatchOutcome.MATCHED,
        candidates[1],
        MatchRank.EXACT,
    )


def test_two_confusions_at_the_best_rank_are_ambiguous() -> None:
    candidates = [Candidate("a", "浙B12340"), Candidate("b", "浙B1234Q")]
    found = match_read("浙B1234D", NOTHING, candidates)
    assert found.outcome is MatchOutcome.AMBIGUOUS
    assert found.chosen is None
    assert {c.key for c in found.tied} == {"a", "b"}


def test_a_confusion_beats_a_one_off() -> None:
    candidates = [Candidate("a", "浙B12340"), Candidate("b", "浙B1234X")]
    found = match_read("浙B1234D", NOTHING, candidates)
    assert (found.outcome, found.chosen) == (MatchOutcome.MATCHED, candidates[0])


def test_nothing_close_is_no_match() -> None:
    assert match_read("浙B99999", NOTHING, [Candidate("a", "浙B12345")]).outcome is (
        MatchOutcome.NONE
    )
    assert match_read("浙B12345", NOTHING, []).outcome is MatchOutcome.NONE


def test_a_fuzzy_candidate_that_looks_different_is_another_car() -> None:
    stay = Candidate("a", "浙B12340", VehicleLook(vehicle_colour="white", vehicle_type="sedan"))
    red = VehicleLook(vehicle_colour="red")
    assert match_read("浙B1234D", red, [stay]).outcome is MatchOutcome.NONE
    white = VehicleLook(vehicle_colour="white")
    assert match_read("浙B1234D", white, [stay]).chosen == stay
    unknown = VehicleLook()
    assert match_read("浙B1234D", unknown, [stay]).chosen == stay


def test_an_exact_match_that_looks_different_is_kept_and_flagged() -> None:
    stay = Candidate("a", "浙B12345", VehicleLook(plate_colour="BLUE", vehicle_type="sedan"))
    found = match_read("浙B12345", VehicleLook(plate_colour="BLUE", vehicle_type="suv"), [stay])
    assert found.chosen == stay
    assert found.flags == ("vehicle_type_differs",)


def test_the_look_decides_between_two_fuzzy_candidates() -> None:
    white = Candidate("a", "浙B12340", VehicleLook(vehicle_colour="white"))
    black = Candidate("b", "浙B1234Q", VehicleLook(vehicle_colour="black"))
    found = match_read("浙B1234D", VehicleLook(vehicle_colour="black"), [white, black])
    assert (found.outcome, found.chosen) == (MatchOutcome.MATCHED, black)


def test_misread_variants_are_all_confusions() -> None:
    variants = misread_variants("浙B12340")
    assert "浙B1234D" in variants and "浙B1234Q" in variants and "浙812340" in variants
    assert all(rank(v, "浙B12340") is MatchRank.CONFUSED for v in variants)


_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
plates = st.builds(
    lambda p, letter, rest: p + letter + rest,
    st.sampled_from(PROVINCES),
    st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ"),
    st.text(alphabet=_ALNUM, min_size=5, max_size=5),
).filter(is_valid_plate_number)


@given(plate=plates, others=st.lists(plates, max_size=6))
def test_property_exact_always_beats_fuzzy(plate: str, others: list[str]) -> None:
    candidates = [Candidate(f"o{i}", other) for i, other in enumerate(others) if other != plate]
    candidates.append(Candidate("exact", plate))
    found = match_read(plate, NOTHING, candidates)
    assert (found.outcome, found.chosen) == (MatchOutcome.MATCHED, Candidate("exact", plate))


@given(read=plates, others=st.lists(plates, min_size=1, max_size=6, unique=True))
def test_property_ambiguity_is_never_resolved_silently(read: str, others: list[str]) -> None:
    candidates = [Candidate(f"o{i}", other) for i, other in enumerate(others)]
    found = match_read(read, NOTHING, candidates)
    ranks = [r for r in (rank(read, c.plate) for c in candidates) if r is not None]
    if not ranks:
        assert found.outcome is MatchOutcome.NONE
        return
    best = [c for c in candidates if rank(read, c.plate) == min(ranks)]
    if len(best) > 1:
        assert found.outcome is MatchOutcome.AMBIGUOUS and found.chosen is None
        assert set(found.tied) == set(best)
    else:
        assert (found.outcome, found.chosen) == (MatchOutcome.MATCHED, best[0])


@given(plate=plates, data=st.data())
def test_property_one_confusion_is_found(plate: str, data: st.DataObject) -> None:
    variants = misread_variants(plate)
    if not variants:
        return
    read = data.draw(st.sampled_from(variants))
    found = match_read(read, NOTHING, [Candidate("x", plate)])
    assert (found.outcome, found.rank) == (MatchOutcome.MATCHED, MatchRank.CONFUSED)


@given(a=plates, b=plates)
def test_property_rank_is_symmetric_for_equal_lengths(a: str, b: str) -> None:
    assert rank(a, b) == rank(b, a)


def test_confusion_groups_do_not_overlap() -> None:
    chars = "".join(CONFUSION_GROUPS)
    assert len(chars) == len(set(chars))


def _like(pattern: str, text: str) -> bool:
    """SQL LIKE with `_` and the escape `\\`, as the store applies the patterns."""
    parts = re.findall(r"\\.|.", pattern)
    regex = "".join("." if p == "_" else re.escape(p[-1]) for p in parts)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


@pytest.mark.parametrize(("read", "plate", "expected"), RANK_CASES)
def test_like_patterns_select_every_plate_rank_accepts(
    read: str, plate: str, expected: MatchRank | None
) -> None:
    selected = any(_like(p, plate) for p in like_patterns(read))
    assert selected or expected is None


@given(plate=plates, data=st.data())
def test_property_like_patterns_never_drop_a_candidate(plate: str, data: st.DataObject) -> None:
    variants = [*misread_variants(plate), plate[1:], plate]
    pos = data.draw(st.integers(0, len(plate) - 1))
    char = data.draw(st.sampled_from("0DQ8B2Z5S6GAX浙沪_%"))
    variants.append(plate[:pos] + char + plate[pos + 1 :])
    for read in variants:
        if rank(read, plate) is not None:
            assert any(_like(p, plate) for p in like_patterns(read)), (read, plate)
