"""GET /readyz: ready, and 503 naming what is not (private brokers, never the shared ones)."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from core.store import migration
from sandbox.wechatpay.keys import generate_keys
from server.log_format import JsonFormatter
from tests.conftest import free_port, service_missing
from tests.own_services import MosquittoServer, RedisServer, mosquitto_available, redis_available
from tests.wechat_sandbox import MakeClient, app_with_builtin_sandbox, sandbox_keys

__all__ = ["sandbox_keys"]

CHECKS = {"database", "migrations", "redis", "mqtt", "wechatpay_certificate"}


async def _ready(client: TestClient[Any, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    body: dict[str, Any] = await response.json()
    return response.status, body


async def _until(client: TestClient[Any, Any], status: int) -> dict[str, Any]:
    """The answer once it has `status` (the MQTT consumer connects after the start)."""
    for _ in range(100):
        found, body = await _ready(client)
        if found == status:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz never answered {status}: {body}")


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[tuple[RedisServer, MosquittoServer]]:
    """A Redis and a Mosquitto of this test's own, which it may kill."""
    if not (redis_available() and mosquitto_available()):
        service_missing("redis-server and mosquitto", FileNotFoundError("binaries"))
    redis, mosquitto = RedisServer(tmp_path), MosquittoServer()
    redis.start()
    mosquitto.start()
    yield redis, mosquitto
    redis.kill()
    mosquitto.remove()


async def test_ready_without_optional_services(client: TestClient[Any, Any]) -> None:
    status, body = await _ready(client)
    assert (status, body["status"]) == (200, "ready")
    assert set(body["checks"]) == CHECKS
    assert all(check["ok"] for check in body["checks"].values())
    heads = migration.head_revisions()
    assert body["checks"]["migrations"]["detail"] == f"at {', '.join(sorted(heads))}"
    assert body["checks"]["redis"]["detail"] == "not configured"


async def test_every_dependency_up_then_brokers_killed(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: Any,
    aiohttp_client: MakeClient,
    brokers: tuple[RedisServer, MosquittoServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis, mosquitto = brokers
    configured = settings.model_copy(
        update={
            "redis_url": redis.url,
            "mqtt_url": mosquitto.url,
            "mqtt_client_id": f"readyz-{uuid.uuid4().hex[:8]}",
            "ready_check_seconds": 1.0,
        }
    )
    client, _ = await app_with_builtin_sandbox(configured, clock, sandbox_keys, aiohttp_client)
    body = await _until(client, 200)
    assert {name: check["ok"] for name, check in body["checks"].items()} == dict.fromkeys(
        CHECKS, True
    )
    assert body["checks"]["mqtt"]["detail"] == "subscribed"
    assert body["checks"]["wechatpay_certificate"]["detail"].startswith("valid until ")

    redis.kill()
    mosquitto.kill()
    with caplog.at_level(logging.WARNING, logger="server.readiness"):
        body = await _until(client, 503)
        answered = await client.get("/readyz", headers={"X-Request-Id": "probe-0000001"})
    assert answered.headers["X-Request-Id"] == "probe-0000001"
    assert body["status"] == "not_ready"
    assert set(body["not_ready"]) == {"redis", "mqtt"}
    assert body["checks"]["database"]["ok"] and body["checks"]["wechatpay_certificate"]["ok"]
    assert "not connected" in body["checks"]["mqtt"]["detail"]
    # The failing check's log line carries the id of the probe that caused it, in JSON.
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    probe = [line for line in lines if line.get("request_id") == "probe-0000001"]
    assert probe and "readiness check redis failed" in probe[0]["message"], lines


async def test_a_platform_certificate_near_its_end_is_not_ready(
    settings: Settings, clock: FrozenClock, aiohttp_client: MakeClient, tmp_path: Path
) -> None:
    # Valid by the machine's time (wechatpayv3 checks that) for two more days only; the
    # app's clock at the machine's time too, since the check counts days on it.
    clock.set(datetime.now(UTC))
    keys = generate_keys(clock.now() - timedelta(days=5 * 365 - 2))
    keys.save(tmp_path / "keys")
    configured = settings.model_copy(update={"ready_cert_min_days": 7})
    client, _ = await app_with_builtin_sandbox(
        configured, clock, (keys, tmp_path / "keys"), aiohttp_client
    )
    status, body = await _ready(client)
    assert (status, body["not_ready"]) == (503, ["wechatpay_certificate"])
    assert body["checks"]["wechatpay_certificate"]["detail"].startswith("platform certificate")


async def test_pending_migrations_and_an_unreachable_broker(
    tmp_path: Path, aiohttp_client: MakeClient
) -> None:
    from alembic.script import ScriptDirectory

    from server.app import create_app

    (head,) = migration.head_revisions()
    previous = ScriptDirectory(migration.SCRIPT_LOCATION).get_revision(head).down_revision
    assert isinstance(previous, str)
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    await asyncio.to_thread(migration.upgrade, url, previous)
    closed = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens: the consumer keeps retrying
    settings = Settings(database_url=url, redis_url=None, mqtt_url=closed)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    status, body = await _ready(client)
    assert status == 503
    assert set(body["not_ready"]) == {"migrations", "mqtt"}
    assert head in body["checks"]["migrations"]["detail"]
    assert body["checks"]["database"]["ok"]


async def test_a_database_migrated_by_newer_code_keeps_older_workers_ready(
    tmp_path: Path, aiohttp_client: MakeClient
) -> None:
    from server.app import create_app

    path = tmp_path / "ahead.db"
    await asyncio.to_thread(migration.upgrade, f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as connection:  # as a later release's migration leaves it
        connection.execute("UPDATE alembic_version SET version_num = '9999_later_release'")
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", redis_url=None, mqtt_url=None)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    status, body = await _ready(client)
    assert status == 200, body
    assert body["checks"]["migrations"]["detail"] == "at 9999_later_release, ahead of this code"
