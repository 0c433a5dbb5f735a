"""Lot app keys: made, sealed for storage and opened again to verify a signature.

An HMAC key cannot be stored as a one-way hash like a password: verifying a signature needs the
key itself. So each key is sealed with AES-256-GCM under a key derived from the settings secret;
a copy of the database alone does not give the keys away, and rotating the settings secret means
re-sealing (docs/networking.md, "Keys").
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEAL_VERSION = "v1"
ROTATION_OVERLAP = timedelta(days=7)  # the old key keeps working while the lot switches


class KeySealError(Exception):
    """A sealed key that does not open under this secret (wrong secret, or tampered)."""


@dataclass(frozen=True, slots=True)
class AppKey:
    """A key of a lot's app: the id the lot may name and the secret it signs with."""

    key_id: str
    secret: str


def new_app_id() -> str:
    """A fresh app id."""
    return "np" + secrets.token_hex(8)


def new_key() -> AppKey:
    """A fresh key: 32 random bytes, URL-safe text."""
    return AppKey("k" + secrets.token_hex(4), secrets.token_urlsafe(32))


def _aead(secret: str) -> AESGCM:
    return AESGCM(hashlib.sha256(b"network-app-keys\n" + secret.encode()).digest())


def seal(secret: str, key: AppKey, app_id: str) -> str:
    """The key sealed for storage; the app id and key id are bound in as associated data."""
    nonce = os.urandom(12)
    sealed = _aead(secret).encrypt(nonce, key.secret.encode(), f"{app_id}/{key.key_id}".encode())
    return f"{SEAL_VERSION}:" + base64.b64encode(nonce + sealed).decode()


def unseal(secret: str, sealed: str, app_id: str, key_id: str) -> str:
    """The key's secret, or KeySealError."""
    version, _, payload = sealed.partition(":")
    if version != SEAL_VERSION:
        raise KeySealError(f"seal version {version!r}")
    raw = base64.b64decode(payload)
    try:
        plain = _aead(secret).decrypt(raw[:12], raw[12:], f"{app_id}/{key_id}".encode())
    except InvalidTag:
        raise KeySealError(f"{app_id}/{key_id} does not open") from None
    return plain.decode()


def is_live(expires_at: datetime | None, now: datetime) -> bool:
    """Whether a key still verifies: no end set, or its end not yet reached."""
    return expires_at is None or expires_at > now
