"""A lot that collects city arrears at its exit shows them on the exit fee (one payment, 合单)."""

from __future__ import annotations

from dataclasses import replace

from core import auto_pay
from core.lanes import Decision
from core.money import format_yuan
from core.store.activity import StayRow
from core.store.unit_of_work import UnitOfWork

FLAG = "city_arrears"


async def with_city_arrears(
    uow: UnitOfWork, stay: StayRow, decision: Decision
) -> tuple[Decision, int]:
    """The exit's "pay" decision with the plate's other unpaid stays on it, and their sum."""
    if stay.plate is None:
        return decision, 0
    owed = {row.ref: due for row, due in await uow.stays.unpaid_for_plate(stay.plate)}
    taken = sum(auto_pay.arrears_beside(stay.ref, owed).values())
    if taken <= 0:
        return decision, 0
    text = f"{decision.display_zh} 另有欠费{format_yuan(taken)}元 请扫码一并缴清"
    return replace(decision, display_zh=text, flags=(*decision.flags, FLAG)), taken
