"""Signatures, the replay window, sealed keys and the webhook backoff of the networking API."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core import network, network_keys
from core.network_errors import (
    NetworkAuthError,
    NonceFormatError,
    SignatureInvalidError,
    TimestampStaleError,
    english,
)
from core.network_signing import SignedRequest, canonical, check_fresh, sign, verify

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
KEY = "old-key-0123456789abcdef"
NEW_KEY = "new-key-fedcba9876543210"
BODY = '{"message_id":"m-1","plate":"浙B12345"}'.encode()


def signed(key: str = KEY, **changes: object) -> SignedRequest:
    timestamp = str(int(NOW.timestamp()))
    request = SignedRequest(
        app_id="np0001",
        method="POST",
        path="/network/v1/entries",
        timestamp=timestamp,
        nonce="nonce-000000000001",
        body=BODY,
        signature=sign(key, "POST", "/network/v1/entries", timestamp, "nonce-000000000001", BODY),
    )
    return replace(request, **changes)  # type: ignore[arg-type]


def test_the_signature_is_hmac_sha256_over_the_documented_string() -> None:
    timestamp = str(int(NOW.timestamp()))
    text = "\n".join(
        ["POST", "/network/v1/entries", timestamp, "n-12345678", hashlib.sha256(BODY).hexdigest()]
    )
    assert canonical("post", "/network/v1/entries", timestamp, "n-12345678", BODY) == text.encode()
    expected = hmac.new(KEY.encode(), text.encode(), hashlib.sha256).hexdigest()
    assert sign(KEY, "POST", "/network/v1/entries", timestamp, "n-12345678", BODY) == expected


def test_a_request_signed_with_the_key_is_accepted_and_any_change_refused() -> None:
    verify(signed(), [KEY])
    for changed in (
        signed(body=BODY + b" "),
        signed(path="/network/v1/exits"),
        signed(method="PUT"),
        signed(nonce="nonce-000000000002"),
        signed(timestamp=str(int(NOW.timestamp()) + 1)),
        signed(key="someone-else"),
    ):
        with pytest.raises(SignatureInvalidError):
            verify(changed, [KEY])


def test_during_a_rotation_both_keys_verify_and_afterwards_only_the_new() -> None:
    verify(signed(KEY), [NEW_KEY, KEY])
    verify(signed(NEW_KEY), [NEW_KEY, KEY])
    with pytest.raises(SignatureInvalidError):
        verify(signed(KEY), [NEW_KEY])
    with pytest.raises(NetworkAuthError):
        verify(signed(KEY), [])


def test_the_replay_window_is_five_minutes_either_way() -> None:
    check_fresh(signed(), NOW + timedelta(seconds=300))
    check_fresh(signed(), NOW - timedelta(seconds=300))
    for moment in (NOW + timedelta(seconds=301), NOW - timedelta(seconds=301)):
        with pytest.raises(TimestampStaleError):
            check_fresh(signed(), moment)
    with pytest.raises(TimestampStaleError):
        check_fresh(signed(timestamp="1764032400000.5"), NOW)
    with pytest.raises(NonceFormatError):
        check_fresh(signed(nonce="short"), NOW)


def test_errors_speak_chinese_and_english() -> None:
    error = TimestampStaleError()
    assert "时间戳" in error.message_zh and "window" in english(error)
    assert error.status == 401 and error.code == "timestamp_out_of_window"


def test_a_sealed_key_opens_only_under_its_secret_and_its_app() -> None:
    key = network_keys.new_key()
    sealed = network_keys.seal("secret-a", key, "np0001")
    assert key.secret not in sealed
    assert network_keys.unseal("secret-a", sealed, "np0001", key.key_id) == key.secret
    with pytest.raises(network_keys.KeySealError):
        network_keys.unseal("secret-b", sealed, "np0001", key.key_id)
    with pytest.raises(network_keys.KeySealError):
        network_keys.unseal("secret-a", sealed, "np0002", key.key_id)  # moved to another app


def test_a_key_is_live_until_its_end() -> None:
    assert network_keys.is_live(None, NOW)
    assert network_keys.is_live(NOW + timedelta(seconds=1), NOW)
    assert not network_keys.is_live(NOW, NOW)


def test_webhooks_back_off_and_give_up() -> None:
    waits = [(network.next_attempt(n, NOW) or NOW) - NOW for n in range(1, 8)]
    assert [w.total_seconds() for w in waits] == [5, 15, 60, 300, 900, 3600, 3600]
    assert network.next_attempt(network.WEBHOOK_MAX_ATTEMPTS, NOW) is None


def test_silence_and_count_age() -> None:
    registered = NOW - timedelta(days=1)
    assert not network.is_silent(NOW - timedelta(minutes=15), registered, NOW)
    assert network.is_silent(NOW - timedelta(minutes=16), registered, NOW)
    assert network.is_silent(None, registered, NOW)
    assert network.count_age_seconds(NOW - timedelta(seconds=90), NOW) == 90
    assert network.count_age_seconds(NOW + timedelta(seconds=5), NOW) == 0  # a fast lot clock
    assert not network.newer_count(NOW, NOW - timedelta(seconds=1))
    assert network.heard_again(None, None, NOW)
    assert not network.heard_again(NOW - timedelta(seconds=29), None, NOW)
    assert network.heard_again(NOW - timedelta(seconds=30), None, NOW)
    assert network.heard_again(NOW - timedelta(seconds=1), NOW - timedelta(minutes=1), NOW)


def test_the_digest_tells_a_resend_from_a_different_message() -> None:
    entry = network.Entry("ORD-1", "浙B12345", NOW)
    assert network.digest(entry) == network.digest(network.Entry("ORD-1", "浙B12345", NOW))
    assert network.digest(entry) != network.digest(network.Entry("ORD-1", "浙B12346", NOW))
