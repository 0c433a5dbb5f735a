"""A request id on every request: taken from X-Request-Id when well formed, else made here."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from aiohttp import web
from aiohttp.web_log import AccessLogger

from server.log_records import add_record_step

HEADER = "X-Request-Id"
# What a proxy or a client may hand us: short, and nothing a log line or header could misread.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_of(given: str | None) -> str:
    """The caller's id when well formed, otherwise a new one."""
    if given is not None and _WELL_FORMED.match(given):
        return given
    return uuid.uuid4().hex


@web.middleware
async def request_id_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Carry the id through the request's log lines and return it in the answer."""
    request_id = request_id_of(request.headers.get(HEADER))
    token = REQUEST_ID.set(request_id)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[HEADER] = request_id
        raise
    finally:
        REQUEST_ID.reset(token)
    if not response.prepared:  # an event stream has sent its headers already
        response.headers[HEADER] = request_id
    return response


class RequestAccessLogger(AccessLogger):
    """aiohttp's access log, its line carrying the request id it answered."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        token = REQUEST_ID.set(response.headers.get(HEADER))
        try:
            super().log(request, response, time)
        finally:
            REQUEST_ID.reset(token)


def _stamp(record: logging.LogRecord) -> None:
    record.request_id = REQUEST_ID.get()


def install_request_id_records() -> None:
    """Make every log record carry the current request id (idempotent; once per process)."""
    add_record_step(_stamp)
