"""Use case: a networked lot took money on site for a stay that held its fee already.

The site payment is recorded as the lot reported it (the money is in the lot's hands). What it
collected beyond the fee was paid twice: it is refunded from the driver's online payments to us
(the duplicate-payment refund, newest payment first) as far as they can give it back; what is
left, the lot's own collection we cannot refund, flags the stay for the operator, and the lot is
told in its answer to give it back itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core import ledger, payments
from core.clock import Clock
from core.errors import ConflictError, DomainError
from core.services.payments import refund_duplicate
from core.store.activity import StayRow
from core.store.lots import LotStayRow
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

PAID_TWICE_FLAG = "paid_twice"


class NotPaidTwiceError(ConflictError):
    """The stay holds nothing collected twice that the lot must give back."""

    code = "stay_not_paid_twice"
    message_zh = "该停车记录没有待退还的重复收费"


@dataclass(frozen=True, slots=True)
class PaidTwice:
    """What a site payment collected that the stay held already, and where it goes back from."""

    overlap_fen: int
    refunded_online_fen: int  # refunds of our online payments, sent after the commit
    return_on_site_fen: int  # the lot's own collection: the lot gives it back (stay flagged)
    refunds: tuple[str, ...] = ()  # out_refund_no of the refunds recorded

    def as_record(self) -> dict[str, int]:
        """The answer's form, kept with the message so a resend is answered the same."""
        return {
            "overlap_fen": self.overlap_fen,
            "refunded_online_fen": self.refunded_online_fen,
            "return_on_site_fen": self.return_on_site_fen,
        }


async def settle_overlap(
    uow: UnitOfWork,
    clock: Clock,
    stay: StayRow,
    details: LotStayRow,
    held_before_fen: int,
    amount_fen: int,
) -> PaidTwice | None:
    """After a site payment of `amount_fen` was noted: give back what the stay held twice.

    `held_before_fen` is what the stay held before it. In the caller's unit of work; the
    refunds recorded are sent after the commit (or by the payment sweep).
    """
    overlap = min(amount_fen, held_before_fen + amount_fen - (stay.fee_fen or 0))
    if overlap <= 0:
        return None
    refunds = await _refund_online(uow, clock, stay.ref, overlap)
    refunded = sum(fen for _, fen in refunds)
    # An automatic duplicate refund corrects nothing when it lands: the stay holds less now.
    details.paid_fen -= refunded
    left = overlap - refunded
    if left:
        note = f"联网车场现场重复收费 {left} 分，线上无可退款项，请车场退还车主"
        await uow.onstreet.flag_stay(stay, PAID_TWICE_FLAG, note, clock.now())
        log.warning("networked stay %s collected %s fen twice on site", stay.ref, left)
    return PaidTwice(overlap, refunded, left, tuple(no for no, _ in refunds))


async def _refund_online(
    uow: UnitOfWork, clock: Clock, stay_ref: str, overlap_fen: int
) -> list[tuple[str, int]]:
    """Refunds of the stay's online payments, newest first, of up to `overlap_fen` in all."""
    made: list[tuple[str, int]] = []
    left = overlap_fen
    now = clock.now()
    for payment in reversed(await uow.payments.for_stay(stay_ref)):
        in_flight = await uow.payments.in_flight_fen(payment.out_trade_no)
        take = min(left, payments.refundable_fen(payment, in_flight))
        if take <= 0:
            continue
        try:
            payments.check_refund(payment, take, in_flight, now)
        except DomainError as exc:  # past a year: the lot's side gives it back instead
            log.warning("%s cannot give back %s fen: %s", payment.out_trade_no, take, exc.detail)
            continue
        refund = await refund_duplicate(uow, clock, payment, take)
        await uow.payments.save(payment)  # bumps its version: a concurrent refund re-checks
        made.append((refund.out_refund_no, take))
        left -= take
        if left == 0:
            break
    return made


async def returned_on_site(
    uow: UnitOfWork, clock: Clock, stay: StayRow, details: LotStayRow, lot_code: str
) -> int:
    """The lot gave the driver back what it collected twice: the stay holds its fee again, the
    plate's credit is used up (`network_site_returned`) and the flag ends; the fen given back.

    The session's site total stays the lot's gross takings, so a resent exit adds nothing.
    """
    if not await uow.lot_admin.has_flag(stay.id, PAID_TWICE_FLAG):
        raise NotPaidTwiceError(detail=stay.ref)
    excess = max(details.paid_fen - (stay.fee_fen or 0), 0)
    if excess:
        details.paid_fen -= excess
        entry = ledger.network_site_returned(f"RT{stay.ref}", lot_code, stay.plate or "", excess)
        await uow.ledger.post(entry, clock.now())
    await uow.onstreet.unflag_stays([stay.id], PAID_TWICE_FLAG)
    return excess
