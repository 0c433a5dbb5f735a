"""Staff password hashing with Argon2id; slow on purpose, so callers run it off the loop."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# RFC 9106's low-memory profile (argon2-cffi's default): 64 MiB, 3 passes, 4 lanes.
_HASHER = PasswordHasher()

# The names shadow builtins on purpose: callers write passwords.hash and passwords.verify.


def hash(password: str) -> str:
    """The Argon2id hash of a password, salt and parameters included."""
    return _HASHER.hash(password)


def verify(password_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash; a malformed hash never matches."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's and should be redone."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
