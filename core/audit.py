"""The audit log's hash chain: each link hashes its content and its predecessor's hash.

Editing a link changes its hash; removing or reordering links breaks the `prev_hash` chain
or leaves a gap in the ids. Someone able to rewrite every later link, or drop the newest
ones, is not caught by the chain alone: publishing the head hash elsewhere closes that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditLink:
    """One stored link of the chain, as read back."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    reason: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class ProblemKind(StrEnum):
    """What is wrong with a link."""

    CHANGED = "changed"  # its content no longer matches its hash
    REMOVED = "removed"  # links before it are missing (a gap in the ids)
    REORDERED = "reordered"  # its predecessor exists but elsewhere in the chain
    BROKEN = "broken"  # its predecessor is nowhere: removed, or rewritten with a new hash


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """One finding of the verification, tied to a link id."""

    link_id: int
    kind: ProblemKind
    detail: str


def canonical_time(at: datetime) -> str:
    """The moment as UTC ISO-8601 with microseconds, the only form that is hashed."""
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys and real characters, so one content has one text."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def link_hash(
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    reason: str,
    details: dict[str, Any],
) -> str:
    """The SHA-256 (hex) of a link's content and its predecessor's hash."""
    document = {
        "prev_hash": prev_hash,
        "at": canonical_time(at),
        "actor": actor,
        "action": action,
        "target": target,
        "reason": reason,
        "details": details,
    }
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def recompute(link: AuditLink) -> str:
    """The hash a link's stored content should have."""
    return link_hash(
        link.prev_hash, link.at, link.actor, link.action, link.target, link.reason, link.details
    )


@dataclass
class ChainVerifier:
    """Checks links fed in id order with memory bounded by the number of anomalies."""

    checked: int = 0
    _problems: list[AuditProblem] = field(default_factory=list)
    _previous: AuditLink | None = None
    # Hashes of links whose next link (by id) does not point back at them.
    _orphans: dict[str, int] = field(default_factory=dict)
    # Links whose prev_hash pointed nowhere seen yet, keyed by that hash.
    _waiting: dict[str, list[int]] = field(default_factory=dict)

    def feed(self, link: AuditLink) -> None:
        """Check one more link."""
        self.checked += 1
        if recompute(link) != link.hash:
            self._report(link.id, ProblemKind.CHANGED, "content does not match its hash")
        for waiting_id in self._waiting.pop(link.hash, []):
            self._report(waiting_id, ProblemKind.REORDERED, f"its predecessor is link {link.id}")
        self._check_place(link)
        self._previous = link

    def _check_place(self, link: AuditLink) -> None:
        previous = self._previous
        if previous is None:
            if link.id != 1:
                self._report(link.id, ProblemKind.REMOVED, f"links 1..{link.id - 1} are missing")
            elif link.prev_hash != GENESIS:
                self._place_mismatch(link, None)
            return
        if link.id <= previous.id:
            self._report(link.id, ProblemKind.REORDERED, f"id comes after link {previous.id}")
        elif link.id != previous.id + 1:
            missing = f"{previous.id + 1}..{link.id - 1}"
            self._report(link.id, ProblemKind.REMOVED, f"links {missing} are missing")
        elif link.prev_hash != previous.hash:
            self._place_mismatch(link, previous)

    def _place_mismatch(self, link: AuditLink, previous: AuditLink | None) -> None:
        if previous is not None:
            self._orphans[previous.hash] = previous.id
        earlier = self._orphans.pop(link.prev_hash, None)
        if earlier is not None:
            self._report(link.id, ProblemKind.REORDERED, f"its predecessor is link {earlier}")
        else:
            self._waiting.setdefault(link.prev_hash, []).append(link.id)

    def _report(self, link_id: int, kind: ProblemKind, detail: str) -> None:
        self._problems.append(AuditProblem(link_id, kind, detail))

    def finish(self) -> list[AuditProblem]:
        """Every problem found, ordered by link id."""
        for ids in self._waiting.values():
            for link_id in ids:
                self._report(link_id, ProblemKind.BROKEN, "prev_hash matches no link")
        self._waiting.clear()
        return sorted(self._problems, key=lambda problem: (problem.link_id, problem.kind))


def verify_chain(links: Iterable[AuditLink]) -> list[AuditProblem]:
    """Every problem of a chain given in id order; empty when it is intact."""
    verifier = ChainVerifier()
    for link in links:
        verifier.feed(link)
    return verifier.finish()
