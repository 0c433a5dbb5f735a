"""Use cases of the audit log: record a manual action, verify the chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.audit import AuditLink, AuditProblem, ChainVerifier
from core.clock import Clock
from core.errors import ValidationFailedError
from core.staff import StaffIdentity
from core.store.unit_of_work import UnitOfWork

# Actors that are not a staff account; usernames cannot contain ':' so these never clash.
CLI_ACTOR = "system:cli"
SEED_ACTOR = "system:seed"
LOGIN_ACTOR = "system:login"

_MAX_ACTOR, _MAX_ACTION, _MAX_TARGET = 64, 64, 128


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of verifying the whole chain."""

    checked: int
    problems: list[AuditProblem]

    @property
    def intact(self) -> bool:
        """Whether no problem was found."""
        return not self.problems


async def record(
    uow: UnitOfWork,
    clock: Clock,
    actor: StaffIdentity | str,
    action: str,
    target: str,
    reason: str,
    details: dict[str, Any] | None = None,
) -> AuditLink:
    """Append who did what to what and why, in the caller's transaction (the caller commits).

    Appending holds the chain's lock until that transaction ends, so call it last, just
    before committing.
    """
    name = actor.actor if isinstance(actor, StaffIdentity) else actor
    why = reason.strip()
    if not why:
        raise ValidationFailedError("请填写操作原因")
    if not name or len(name) > _MAX_ACTOR:
        raise ValueError(f"audit actor must be 1..{_MAX_ACTOR} characters: {name!r}")
    if not action or len(action) > _MAX_ACTION or len(target) > _MAX_TARGET:
        raise ValueError(f"audit action or target too long or empty: {action!r} {target!r}")
    return await uow.audit.append(clock.now(), name, action, target, why, details or {})


async def check_chain(uow: UnitOfWork) -> ChainReport:
    """Verify every link, streaming, and count them."""
    verifier = ChainVerifier()
    async for link in uow.audit.all_links():
        verifier.feed(link)
    return ChainReport(verifier.checked, verifier.finish())


async def verify(uow: UnitOfWork) -> list[AuditProblem]:
    """Every problem of the chain; empty when it is intact."""
    return (await check_chain(uow)).problems
