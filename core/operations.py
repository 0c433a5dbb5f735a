"""What operators watch of the stored state: outbox depths and money by state."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OperationalCounts:
    """Rows waiting in the outboxes, and payments, refunds and deductions by state."""

    lane_outbox: int
    notices_pending: int
    payments: dict[str, int] = field(default_factory=dict)
    refunds: dict[str, int] = field(default_factory=dict)
    deductions: dict[str, int] = field(default_factory=dict)
