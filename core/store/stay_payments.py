"""SQL for what a stay's settled payments still hold, for lists that ask it of many stays."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.orm import InstrumentedAttribute

from core.payments import SETTLED_STATUSES
from core.store.payments import PaymentRow

_SETTLED = sorted(s.value for s in SETTLED_STATUSES)


def held_by_payments(stay_ref: InstrumentedAttribute[str]) -> ScalarSelect[Any]:
    """What the settled payments of the stay named by `stay_ref` hold, paid less refunded.

    A stay is owed while its fee is above this: nothing paid yet, or a fee that grew after
    payment (late sensor events) until a top-up pays the rest.
    """
    return (
        select(func.coalesce(func.sum(PaymentRow.amount_fen - PaymentRow.refunded_fen), 0))
        .where(PaymentRow.stay_ref == stay_ref, PaymentRow.status.in_(_SETTLED))
        .scalar_subquery()
    )
