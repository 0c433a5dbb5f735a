"""Driver session tokens expire on the injected clock and are never staff tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import driver_tokens, staff_tokens
from core.errors import AuthenticationError

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123"


def test_a_token_names_its_driver_until_it_expires() -> None:
    issued = driver_tokens.issue(42, NOW, 60, SECRET)
    assert issued.expires_at == NOW + timedelta(minutes=60)
    assert driver_tokens.decode(issued.token, NOW + timedelta(minutes=59), SECRET) == 42
    with pytest.raises(AuthenticationError, match="token expired"):
        driver_tokens.decode(issued.token, NOW + timedelta(minutes=60), SECRET)


def test_forged_and_foreign_tokens_are_refused() -> None:
    issued = driver_tokens.issue(42, NOW, 60, SECRET)
    with pytest.raises(AuthenticationError):
        driver_tokens.decode(issued.token, NOW, SECRET + "x")
    staff = staff_tokens.issue(42, "admin", NOW, 60, SECRET)
    with pytest.raises(AuthenticationError):
        driver_tokens.decode(staff.token, NOW, SECRET)
    with pytest.raises(AuthenticationError):
        staff_tokens.decode(issued.token, NOW, SECRET)
