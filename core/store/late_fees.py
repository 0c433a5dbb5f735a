"""The late-fee rule's versions (the latest is in force) and the appeal spans that pause it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.late_fees import LateFeeRule, Pause
from core.store.appeals import AppealRow
from core.store.base import Base


class LateFeeRuleRow(Base):
    """One version of the city's late-fee rule, with who set it and when."""

    __tablename__ = "late_fee_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    enabled: Mapped[bool]
    legal_basis: Mapped[str] = mapped_column(Text)
    start_after_days: Mapped[int]
    per_day_bp: Mapped[int]
    cap_bp: Mapped[int]
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime]


class LateFeeRepository:
    """The rule in force and its history."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def rule(self) -> LateFeeRule:
        """The latest rule; off when none was ever set."""
        query = select(LateFeeRuleRow).order_by(LateFeeRuleRow.id.desc()).limit(1)
        row = await self._session.scalar(query)
        if row is None:
            return LateFeeRule()
        return LateFeeRule(
            enabled=row.enabled,
            legal_basis=row.legal_basis,
            start_after_days=row.start_after_days,
            per_day_bp=row.per_day_bp,
            cap_bp=row.cap_bp,
        )

    def add(self, rule: LateFeeRule, set_by: str, at: datetime) -> None:
        """Store a new version."""
        self._session.add(
            LateFeeRuleRow(
                enabled=rule.enabled,
                legal_basis=rule.legal_basis.strip(),
                start_after_days=rule.start_after_days,
                per_day_bp=rule.per_day_bp,
                cap_bp=rule.cap_bp,
                set_by=set_by,
                set_at=at,
            )
        )

    async def pauses(self, stay_refs: list[str]) -> dict[str, list[Pause]]:
        """Each stay's appeals as spans (open ones until now)."""
        found: dict[str, list[Pause]] = {ref: [] for ref in stay_refs}
        if not stay_refs:
            return found
        query = select(AppealRow.stay_ref, AppealRow.created_at, AppealRow.decided_at).where(
            AppealRow.stay_ref.in_(stay_refs)
        )
        for ref, start, end in await self._session.execute(query):
            found[ref].append(Pause(start, end))
        return found
