"""The audit hash chain detects changed, removed and reordered links."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.audit import (
    GENESIS,
    AuditLink,
    AuditProblem,
    ProblemKind,
    link_hash,
    recompute,
    verify_chain,
)

START = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def make_chain(count: int) -> list[AuditLink]:
    """A valid chain of `count` links."""
    links: list[AuditLink] = []
    prev = GENESIS
    for n in range(1, count + 1):
        at = START + timedelta(minutes=n)
        details: dict[str, Any] = {"plate": "浙B12345", "fee_fen": 100 * n, "n": [n, {"k": n}]}
        digest = link_hash(
            prev, at, "demo-admin", "gate.lift", f"lane:{n}", "车牌识别失败", details
        )
        links.append(
            AuditLink(
                n, at, "demo-admin", "gate.lift", f"lane:{n}", "车牌识别失败", details, prev, digest
            )
        )
        prev = digest
    return links


def kinds(problems: list[AuditProblem]) -> list[tuple[int, ProblemKind]]:
    return [(p.link_id, p.kind) for p in problems]


def test_genesis_is_64_zeros() -> None:
    assert GENESIS == "0" * 64


def test_hash_is_sha256_of_canonical_json() -> None:
    at = datetime(2026, 11, 25, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    expected_text = (
        '{"action":"a","actor":"u","at":"2026-11-25T01:00:00.000000+00:00",'
        '"details":{"a":1,"b":"浙"},"prev_hash":"' + GENESIS + '","reason":"原因","target":"t"}'
    )
    expected = hashlib.sha256(expected_text.encode("utf-8")).hexdigest()
    assert link_hash(GENESIS, at, "u", "a", "t", "原因", {"b": "浙", "a": 1}) == expected


def test_hash_ignores_key_order_and_time_zone_but_not_content() -> None:
    shanghai = START.astimezone(timezone(timedelta(hours=8)))
    base = link_hash(GENESIS, START, "u", "a", "t", "r", {"x": 1, "y": 2})
    assert link_hash(GENESIS, shanghai, "u", "a", "t", "r", {"y": 2, "x": 1}) == base
    assert link_hash(GENESIS, START, "u", "a", "t", "r", {"x": 1, "y": 3}) != base
    assert link_hash("1" * 64, START, "u", "a", "t", "r", {"x": 1, "y": 2}) != base


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        link_hash(GENESIS, datetime(2026, 1, 1), "u", "a", "t", "r", {})


def test_intact_chain_has_no_problem() -> None:
    assert verify_chain(make_chain(10)) == []
    assert verify_chain([]) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", "someone-else"),
        ("action", "refund"),
        ("target", "lane:999"),
        ("reason", "改过的原因"),
        ("details", {"plate": "浙B00000"}),
        ("at", START + timedelta(days=1)),
    ],
)
def test_changed_field_is_detected(field: str, value: Any) -> None:
    links = make_chain(6)
    links[3] = dataclasses.replace(links[3], **{field: value})
    assert kinds(verify_chain(links)) == [(4, ProblemKind.CHANGED)]


def test_changed_link_with_recomputed_hash_breaks_the_next_link() -> None:
    links = make_chain(6)
    forged = dataclasses.replace(links[2], reason="掩盖")
    links[2] = dataclasses.replace(forged, hash=recompute(forged))
    assert kinds(verify_chain(links)) == [(4, ProblemKind.BROKEN)]


def test_removed_link_is_detected() -> None:
    links = make_chain(6)
    del links[2]
    problems = verify_chain(links)
    assert kinds(problems) == [(4, ProblemKind.REMOVED)]
    assert "3..3" in problems[0].detail


def test_removed_first_link_is_detected() -> None:
    assert kinds(verify_chain(make_chain(4)[1:])) == [(2, ProblemKind.REMOVED)]


def test_removed_link_with_renumbered_ids_is_detected() -> None:
    links = make_chain(6)
    del links[2]
    links = [dataclasses.replace(link, id=n) for n, link in enumerate(links, start=1)]
    assert kinds(verify_chain(links)) == [(3, ProblemKind.BROKEN)]


def test_swapped_links_are_reported_reordered() -> None:
    links = make_chain(6)
    third, fourth = links[2], links[3]
    links[2], links[3] = dataclasses.replace(fourth, id=3), dataclasses.replace(third, id=4)
    problems = verify_chain(links)
    assert (3, ProblemKind.REORDERED) in kinds(problems)
    assert (4, ProblemKind.REORDERED) in kinds(problems)
    assert ProblemKind.CHANGED not in {p.kind for p in problems}


def test_link_moved_far_back_is_reported_reordered() -> None:
    links = make_chain(8)
    moved = links.pop(1)
    links.insert(6, moved)
    links = [dataclasses.replace(link, id=n) for n, link in enumerate(links, start=1)]
    problems = verify_chain(links)
    assert problems
    assert {p.kind for p in problems} == {ProblemKind.REORDERED}


def test_ids_out_of_order_are_reported() -> None:
    links = make_chain(4)
    links[2], links[3] = links[3], links[2]
    assert (3, ProblemKind.REORDERED) in kinds(verify_chain(links))


def test_first_link_not_on_genesis_is_broken() -> None:
    links = make_chain(3)
    first = dataclasses.replace(links[0], prev_hash="f" * 64)
    links[0] = dataclasses.replace(first, hash=recompute(first))
    assert kinds(verify_chain(links)) == [(1, ProblemKind.BROKEN), (2, ProblemKind.BROKEN)]


@given(
    size=st.integers(min_value=2, max_value=12),
    data=st.data(),
)
def test_any_single_tamper_is_detected(size: int, data: st.DataObject) -> None:
    links = make_chain(size)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    how = data.draw(st.sampled_from(["edit", "edit_and_rehash", "delete_middle", "swap"]))
    if how == "edit":
        links[index] = dataclasses.replace(links[index], reason="x")
    elif how == "edit_and_rehash":
        if index == size - 1:
            index -= 1  # rewriting the newest link alone is the documented blind spot
        forged = dataclasses.replace(links[index], target="x")
        links[index] = dataclasses.replace(forged, hash=recompute(forged))
    elif how == "delete_middle":
        del links[min(index, size - 2)]
    else:
        other = (index + 1) % size
        a, b = links[index], links[other]
        links[index], links[other] = (
            dataclasses.replace(b, id=a.id),
            dataclasses.replace(a, id=b.id),
        )
    assert verify_chain(links)
