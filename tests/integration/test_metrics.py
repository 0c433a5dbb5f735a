"""GET /metrics after real traffic: routes by template, device events, lanes, WeChat calls."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from config.settings import Settings
from core.clock import FrozenClock
from core.payment_gateway import GatewayRejectedError
from core.store.database import Database
from tests.metrics_text import Samples, parse_samples, total, value
from tests.wechat_sandbox import (
    MakeClient,
    closed_stay,
    log_in,
    make_paying_client,
    sandbox_keys,
    services,
    start_payment,
    wechat_sandbox,
)

__all__ = ["make_paying_client", "sandbox_keys", "wechat_sandbox"]

REQUESTS = "parking_http_request_seconds_count"


async def _scrape(client: TestClient[Any, Any], **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return parse_samples(await response.text())


def _sensor(event_id: str, berth: str, state: str, clock: FrozenClock) -> dict[str, str]:
    return {
        "event_id": event_id,
        "device": "MAG-HS1-001",
        "berth": berth,
        "state": state,
        "device_time": clock.now().isoformat(),
    }


async def test_requests_are_counted_by_route_template_never_by_raw_path(
    client: TestClient[Any, Any],
) -> None:
    before = await _scrape(client)
    for plate in ("浙B12345", "浙B54321", "沪A00001"):
        assert (await client.get(f"/mp/plates/{plate}/stays")).status == 200
    assert (await client.get("/mp/no-such-thing/1")).status == 404
    assert (await client.get("/healthz")).status == 200
    after = await _scrape(client)
    route = {"route": "/mp/plates/{plate}/stays", "method": "GET", "status": "200"}
    assert value(after, REQUESTS, **route) - value(before, REQUESTS, **route) == 3
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(after, REQUESTS, **unmatched) - value(before, REQUESTS, **unmatched) == 1
    healthz = {"route": "/healthz", "method": "GET", "status": "200"}
    assert value(after, REQUESTS, **healthz) - value(before, REQUESTS, **healthz) == 1
    text = await (await client.get("/metrics")).text()
    assert "B12345" not in text and "no-such-thing" not in text


async def test_device_events_ingested_refused_and_lane_decisions(
    client: TestClient[Any, Any], clock: FrozenClock
) -> None:
    before = await _scrape(client)
    arrive = _sensor("m-1", "HS1-001", "occupied", clock)
    assert (await client.post("/devices/sensors/events", json=arrive)).status == 200
    assert (await client.post("/devices/sensors/events", json=arrive)).status == 200  # resent
    unknown = _sensor("m-2", "NOPE-999", "occupied", clock)
    assert (await client.post("/devices/sensors/events", json=unknown)).status == 404
    read = {
        "event_id": "m-lane-1",
        "device": "LOT-HOSP-E1-anpr_camera",
        "device_time": clock.now().isoformat(),
        "plate": "浙B90001",
    }
    assert (await client.post("/devices/lanes/reads", json=read)).status == 200
    after = await _scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    events = "parking_device_events_ingested_total"
    assert grew(events, kind="berth", outcome="applied") == 1
    assert grew(events, kind="berth", outcome="duplicate") == 1
    assert grew(events, kind="lane_read", outcome="applied") == 1
    assert grew("parking_device_events_refused_total", kind="berth", code="unknown_berth") == 1
    lane = {"transport": "http", "outcome": "applied"}
    assert grew("parking_lane_decision_seconds_count", **lane) == 1
    assert grew("parking_lane_decision_seconds_sum", **lane) > 0
    assert value(after, "parking_lane_outbox_depth") == 0  # no broker configured: none kept
    assert ("parking_notices_pending", frozenset()) in after


async def test_payments_by_state_and_wechat_calls_at_the_adapter_boundary(
    make_paying_client: MakeClient,
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    client = await make_paying_client()
    before = await _scrape(client)
    driver = await log_in(client, wechat_sandbox, "metrics-person")
    stay_ref = await closed_stay(database, clock)
    await start_payment(client, driver, stay_ref)
    after = await _scrape(client)
    calls = "parking_external_call_seconds_count"
    wechat = {"service": "wechat", "operation": "WeChatWxa.code_to_session", "outcome": "ok"}
    assert value(after, calls, **wechat) - value(before, calls, **wechat) == 1
    pay = {"service": "wechatpay", "operation": "pay", "outcome": "ok"}
    assert value(after, calls, **pay) - value(before, calls, **pay) == 1
    assert value(after, "parking_payments", state="pending") == 1


async def test_wechat_pay_refusals_and_failures_are_told_apart(
    make_paying_client: MakeClient,
) -> None:
    client = await make_paying_client()
    before = await _scrape(client)
    with pytest.raises(GatewayRejectedError):
        await services(client).gateway.query("no-such-order-001", "1900000100")
    after = await _scrape(client)
    calls = "parking_external_call_seconds_count"
    rejected = {"service": "wechatpay", "operation": "query", "outcome": "rejected"}
    assert value(after, calls, **rejected) - value(before, calls, **rejected) == 1
    assert total(after, calls, service="wechatpay", outcome="error") == total(
        before, calls, service="wechatpay", outcome="error"
    )


async def test_a_bearer_token_guards_the_metrics_when_set(
    settings: Settings, aiohttp_client: Any
) -> None:
    from server.app import create_app

    guarded = settings.model_copy(update={"metrics_token": SecretStr("scrape-token-0001")})
    client: TestClient[Any, Any] = await aiohttp_client(create_app(guarded))
    assert (await client.get("/metrics")).status == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0002"})
    assert (wrong.status, (await wrong.json())["code"]) == (401, "unauthenticated")
    right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0001"})
    assert right.status == 200
    assert "parking_http_request_seconds" in await right.text()
