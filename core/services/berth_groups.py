"""Use case: berth events that arrived one by one, applied as a group in one transaction.

A group is the set-based batch path (`core/services/berth_batch.py`) over events of separate
requests or messages, so each event gets the outcome it would get alone (the batch path's
rules are the single path's, tests/integration/test_berth_batches.py). If the group's
transaction fails, nothing of it is stored, and each event is applied again in a transaction
of its own: one bad event fails alone and never costs the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.berth_events import BerthEvent
from core.services.berth_batch import Outcome
from core.store.outages import store_unavailable

log = logging.getLogger(__name__)

Apply = Callable[[Sequence[BerthEvent]], Awaitable[list[Outcome]]]
Result = Outcome | Exception


@dataclass(frozen=True, slots=True)
class GroupResult:
    """Each event's outcome or the exception that failed it, in order; `split` when the group's
    transaction failed and its events were applied one by one."""

    results: list[Result]
    split: bool = False


async def record_berth_group(apply: Apply, events: Sequence[BerthEvent]) -> GroupResult:
    """Apply events together (`apply` is one transaction), else each alone."""
    try:
        return GroupResult(list(await apply(events)))
    except Exception as exc:
        if len(events) == 1:
            return GroupResult([exc])
        log.warning("a group of %d berth events failed (%r); each again alone", len(events), exc)
    return GroupResult(await _each_alone(apply, events), split=True)


async def _each_alone(apply: Apply, events: Sequence[BerthEvent]) -> list[Result]:
    results: list[Result] = []
    away: Exception | None = None  # the store is away: the others would only wait for it too
    for event in events:
        if away is not None:
            results.append(away)
            continue
        try:
            results.extend(await apply([event]))
        except Exception as exc:
            results.append(exc)
            away = exc if store_unavailable(exc) else None
    return results
