"""Merchant validation tokens: genuine ones verify, forged, altered and expired ones do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.merchant_validation import (
    ValidationClaim,
    ValidationKind,
    ValidationTokenError,
    sign,
    verify,
)

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
CLAIM = ValidationClaim("M-CAFE", ValidationKind.MINUTES, 120, "n1", NOW + timedelta(hours=1))


def test_a_genuine_token_gives_its_claim() -> None:
    assert verify("secret", sign("secret", CLAIM), NOW) == CLAIM


def test_another_secret_cannot_forge_one() -> None:
    with pytest.raises(ValidationTokenError):
        verify("secret", sign("guessed", CLAIM), NOW)


def test_an_altered_claim_fails() -> None:
    _, mac = sign("secret", CLAIM).split(".")
    richer = sign("other", ValidationClaim("M-CAFE", ValidationKind.MINUTES, 9999, "n1", NOW))
    with pytest.raises(ValidationTokenError):
        verify("secret", f"{richer.split('.')[0]}.{mac}", NOW)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!.!!"])
def test_garbage_fails(token: str) -> None:
    with pytest.raises(ValidationTokenError):
        verify("secret", token, NOW)


def test_an_expired_token_fails() -> None:
    with pytest.raises(ValidationTokenError):
        verify("secret", sign("secret", CLAIM), NOW + timedelta(hours=1))


def test_nothing_is_not_a_validation() -> None:
    with pytest.raises(ValueError):
        sign("secret", ValidationClaim("M", ValidationKind.AMOUNT, 0, "n", NOW))
