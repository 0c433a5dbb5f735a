"""GET /readyz: whether this worker can serve, each dependency checked within a time limit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from aiohttp import web

from core.store import migration
from device_bridge.mqtt import CONSUMER_KEY
from server.resources import CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY
from server.wechat import WECHAT_SERVICES_KEY

log = logging.getLogger(__name__)

NOT_CONFIGURED = "not configured"


class NotReadyError(Exception):
    """A dependency answered, but not as serving needs (the message says how)."""


@dataclass(frozen=True, slots=True)
class ReadinessProbe:
    """What the checks reuse between calls: the migrations known here and a Redis client."""

    heads: frozenset[str]
    known: frozenset[str]
    redis: aioredis.Redis | None


READINESS_KEY = web.AppKey("readiness", ReadinessProbe)
Check = Callable[[web.Request], Awaitable[str]]


async def readiness_ctx(app: web.Application) -> AsyncIterator[None]:
    """Read the migration heads once; open a Redis client with short time limits."""
    settings = app[SETTINGS_KEY]
    heads = await asyncio.to_thread(migration.head_revisions)
    known = await asyncio.to_thread(migration.known_revisions)
    client = None
    if settings.redis_url:
        limit = settings.ready_check_seconds
        client = aioredis.from_url(
            settings.redis_url, socket_timeout=limit, socket_connect_timeout=limit
        )
    app[READINESS_KEY] = ReadinessProbe(heads, known, client)
    yield
    if client is not None:
        await client.aclose()


async def _database(request: web.Request) -> str:
    await request.app[DATABASE_KEY].ping()
    return "ok"


async def _migrations(request: web.Request) -> str:
    probe = request.app[READINESS_KEY]
    async with request.app[DATABASE_KEY].engine.connect() as connection:
        current = await migration.current_revisions(connection)
    at = ", ".join(sorted(current)) or "no revision"
    if current - probe.known:
        # Migrated by newer code (a rolling upgrade): this worker's code still runs on it.
        return f"at {at}, ahead of this code"
    if not probe.heads <= current:
        pending = ", ".join(sorted(probe.heads - current))
        raise NotReadyError(f"database at {at}; not applied: {pending}")
    return f"at {at}"


async def _redis(request: web.Request) -> str:
    client = request.app[READINESS_KEY].redis
    if client is None:
        return NOT_CONFIGURED
    await client.ping()
    return "ok"


async def _mqtt(request: web.Request) -> str:
    consumer = request.app.get(CONSUMER_KEY)
    if consumer is None:
        return NOT_CONFIGURED
    if not consumer.connected.is_set():
        raise NotReadyError("device consumer not connected to the broker")
    return "subscribed"


async def _wechatpay_certificate(request: web.Request) -> str:
    services = request.app.get(WECHAT_SERVICES_KEY)
    if services is None:
        return NOT_CONFIGURED
    valid_until = await services.gateway.platform_certificates_valid_until()
    if valid_until is None:
        raise NotReadyError("no platform certificate: notifications cannot be verified")
    days = (valid_until - request.app[CLOCK_KEY].now()).total_seconds() / 86400
    if days < request.app[SETTINGS_KEY].ready_cert_min_days:
        raise NotReadyError(f"platform certificate expires {valid_until.isoformat()}")
    return f"valid until {valid_until.date().isoformat()} ({days:.0f} days)"


CHECKS: dict[str, Check] = {
    "database": _database,
    "migrations": _migrations,
    "redis": _redis,
    "mqtt": _mqtt,
    "wechatpay_certificate": _wechatpay_certificate,
}


async def _run(name: str, check: Check, request: web.Request) -> dict[str, object]:
    limit = request.app[SETTINGS_KEY].ready_check_seconds
    try:
        detail = await asyncio.wait_for(check(request), limit)
    except NotReadyError as exc:
        return {"ok": False, "detail": str(exc)}
    except TimeoutError:
        return {"ok": False, "detail": f"no answer within {limit:g} s"}
    except Exception as exc:  # any driver error means "not ready"; its class says which
        log.warning("readiness check %s failed: %r", name, exc)
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:200]}
    return {"ok": True, "detail": detail}


async def readyz(request: web.Request) -> web.Response:
    """200 when every dependency answers; 503 naming those that do not."""
    names = list(CHECKS)
    results = await asyncio.gather(*(_run(n, CHECKS[n], request) for n in names))
    checks = dict(zip(names, results, strict=True))
    failing = [name for name, result in checks.items() if not result["ok"]]
    if failing:
        body = {"status": "not_ready", "not_ready": failing, "checks": checks}
        return web.json_response(body, status=503)
    return web.json_response({"status": "ready", "checks": checks})
