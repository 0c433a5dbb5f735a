"""The door of the networking API: every request is checked against its lot's signature."""

from __future__ import annotations

from aiohttp import web

from core.network_errors import NetworkAuthError
from core.network_signing import (
    HEADER_APP_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SignedRequest,
)
from core.services.network_intake import Caller, authenticate
from core.store.unit_of_work import UnitOfWork
from server.network import NETWORK_PORTS_KEY
from server.resources import SETTINGS_KEY, clock

_MAX_HEADER = 128


async def signed_caller(request: web.Request, uow: UnitOfWork) -> Caller:
    """The lot that signed this request (its nonce recorded in the request's unit of work)."""
    headers = [request.headers.get(h, "") for h in (HEADER_APP_ID, HEADER_TIMESTAMP, HEADER_NONCE)]
    signature = request.headers.get(HEADER_SIGNATURE, "")
    if not all(headers) or not signature or any(len(h) > _MAX_HEADER for h in headers):
        raise NetworkAuthError(detail="signature headers missing or too long")
    app_id, timestamp, nonce = headers
    signed = SignedRequest(
        app_id=app_id,
        method=request.method,
        path=request.raw_path,  # with the query, percent-encoded as sent
        timestamp=timestamp,
        nonce=nonce,
        body=await request.read(),
        signature=signature[:_MAX_HEADER],
    )
    secret = request.config_dict[SETTINGS_KEY].secret_key.get_secret_value()
    nonces = request.config_dict[NETWORK_PORTS_KEY].nonces
    return await authenticate(uow, clock(request), secret, nonces, signed)
