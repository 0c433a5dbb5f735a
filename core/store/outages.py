"""Whether a failure is the store being away (or overloaded) rather than the work's fault."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


def store_unavailable(exc: BaseException) -> bool:
    """True for a lost or refused connection and a pool with no free connection in time."""
    if isinstance(exc, PoolTimeoutError | OSError | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated
