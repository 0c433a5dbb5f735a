"""Use cases of a lot's entry policy: read it (own row or defaults) and change it, audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.clock import Clock
from core.lanes import ListAction
from core.lot_policies import (
    PolicyInvalidError,
    PolicyValues,
    changed,
    check_policy,
    default_policy,
)
from core.services import audit
from core.services.lot_places import lot_for
from core.staff import StaffIdentity
from core.store.city import LotRow
from core.store.lane_values import PolicyFacts
from core.store.lots import LotPolicyRow
from core.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A lot's policy in force, with what staff need to judge it."""

    lot: str
    hospital: bool
    capacity: int
    own_row: bool  # False: the lot runs on the defaults of its kind
    owned_spaces: int  # sold spaces registered to owners now
    values: PolicyValues


def _values(row: PolicyFacts | None, lot: LotRow) -> PolicyValues:
    hospital = lot.kind == "hospital"
    if row is None:
        return default_policy(hospital)
    # What is in force: a hospital flags whatever an older row says (core.lanes.LotPolicy).
    flag = ListAction.FLAG.value
    return PolicyValues(
        row.sold_spaces,
        row.temporary_capacity,
        flag if hospital else row.block_action,
        row.arrears_threshold_fen,
        flag if hospital else row.arrears_action,
        row.stale_after_hours,
        row.min_confidence,
        row.collect_arrears_at_exit,
    )


async def read_policy(
    uow: UnitOfWork, clock: Clock, actor: StaffIdentity | str, lot_code: str
) -> PolicyView:
    """The policy a lot's lanes apply."""
    lot = await lot_for(uow, actor, lot_code)
    row = await uow.lots.policy(lot.id)
    owned = await uow.lot_admin.owned_spaces(lot.id, clock.now(), exclude_id=None)
    hospital = lot.kind == "hospital"
    return PolicyView(lot.code, hospital, lot.capacity, row is not None, owned, _values(row, lot))


async def update_policy(
    uow: UnitOfWork,
    clock: Clock,
    actor: StaffIdentity | str,
    lot_code: str,
    changes: dict[str, Any],
    *,
    reason: str,
) -> PolicyView:
    """Change some fields of a lot's policy (creating its row), checked and audited; commits."""
    if not changes:
        raise PolicyInvalidError("请填写要修改的规则")
    lot = await lot_for(uow, actor, lot_code)
    await uow.lots.lock_lot(lot.id)  # against a right registering an owned space meanwhile
    row = await uow.lot_admin.policy_for_update(lot.id)
    before = _values(row, lot)
    hospital = lot.kind == "hospital"
    owned = await uow.lot_admin.owned_spaces(lot.id, clock.now(), exclude_id=None)
    after = check_policy(
        changed(before, changes), capacity=lot.capacity, hospital=hospital, owned_spaces=owned
    )
    if row is None:
        row = LotPolicyRow(lot_id=lot.id)
        uow.lot_admin.add(row)
    for name, value in after.as_dict().items():
        setattr(row, name, value)
    uow.lots.remember_policy(lot.id, row)
    details = {"before": before.as_dict(), "after": after.as_dict()}
    await audit.record(uow, clock, actor, "lot_policy.update", f"lot:{lot.code}", reason, details)
    await uow.commit()
    return PolicyView(lot.code, hospital, lot.capacity, True, owned, after)
