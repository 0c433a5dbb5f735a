"""Use cases of merchant validation: issue a signed token, redeem it once, report each use."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import Clock
from core.errors import ConflictError, NotFoundError
from core.merchant_validation import ValidationClaim, ValidationKind, sign, verify
from core.plates import Plate
from core.services import audit
from core.staff import StaffIdentity, acts_for_merchant
from core.store.lots import MerchantValidationRow
from core.store.unit_of_work import StoreConflictError, UnitOfWork


class MerchantNotFoundError(NotFoundError):
    """No merchant has this code."""

    code = "merchant_not_found"
    message_zh = "商户不存在"


class ValidationUsedError(ConflictError):
    """The token was redeemed before: validations are single use."""

    code = "validation_used"
    message_zh = "该优惠券已使用"


class NoStayForValidationError(ConflictError):
    """The plate has no open stay in the merchant's lot."""

    code = "validation_no_stay"
    message_zh = "该车辆不在本停车场内，无法使用优惠"


@dataclass(frozen=True, slots=True)
class MerchantUse:
    """One redeemed validation of a merchant."""

    nonce: str
    kind: str
    value: int
    stay_ref: str
    redeemed_at: datetime
    applied_fen: int | None


async def issue(
    uow: UnitOfWork,
    clock: Clock,
    secret: str,
    staff: StaffIdentity,
    merchant_code: str,
    kind: ValidationKind,
    value: int,
    valid_minutes: int,
) -> tuple[ValidationClaim, str]:
    """Sign a new validation for a merchant; the token is handed to the driver (as a QR code).

    A merchant account signs only its own merchant's validations.
    """
    merchant = await uow.lots.merchant(merchant_code)
    if merchant is None:
        raise MerchantNotFoundError(detail=merchant_code)
    acts_for_merchant(staff, merchant_code)
    claim = ValidationClaim(
        merchant_code,
        kind,
        value,
        uuid.uuid4().hex,
        clock.now() + timedelta(minutes=valid_minutes),
    )
    details = {"kind": kind.value, "value": value, "nonce": claim.nonce}
    await audit.record(
        uow,
        clock,
        staff,
        "merchant.issue_validation",
        f"merchant:{merchant_code}",
        "签发优惠",
        details,
    )
    await uow.commit()
    return claim, sign(secret, claim)


async def redeem(uow: UnitOfWork, clock: Clock, secret: str, token: str, plate: Plate) -> str:
    """Attach a genuine token to the plate's open stay in the merchant's lot, once."""
    claim = verify(secret, token, clock.now())
    merchant = await uow.lots.merchant(claim.merchant)
    if merchant is None:
        raise MerchantNotFoundError(detail=claim.merchant)
    if await uow.lots.validation(claim.nonce) is not None:
        raise ValidationUsedError(detail=claim.nonce)
    stays = await uow.lots.open_for_plate(merchant.lot_id, plate.number)
    if len(stays) != 1:
        raise NoStayForValidationError(detail=f"{plate.masked()} in lot {merchant.lot_id}")
    uow.lots.add(
        MerchantValidationRow(
            nonce=claim.nonce,
            merchant_id=merchant.id,
            kind=claim.kind.value,
            value=claim.value,
            stay_id=stays[0].id,
            redeemed_at=clock.now(),
        )
    )
    try:
        await uow.commit()
    except StoreConflictError:
        raise ValidationUsedError(detail=claim.nonce) from None
    return stays[0].ref


async def usage(
    uow: UnitOfWork,
    merchant_code: str,
    since: datetime,
    until: datetime,
    staff: StaffIdentity | None = None,
) -> list[MerchantUse]:
    """A merchant's redeemed validations in a window; a merchant account sees only its own."""
    merchant = await uow.lots.merchant(merchant_code)
    if merchant is None:
        raise MerchantNotFoundError(detail=merchant_code)
    if staff is not None:
        acts_for_merchant(staff, merchant_code)
    uses = []
    for row in await uow.lots.merchant_usage(merchant.id, since, until):
        stay = await uow.lots.stay(row.stay_id)
        uses.append(
            MerchantUse(row.nonce, row.kind, row.value, stay.ref, row.redeemed_at, row.applied_fen)
        )
    return uses
