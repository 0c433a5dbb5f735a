"""One stay through every layer: sensor event in, driver view, fee, ledger, bad input."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from core.clock import FrozenClock
from core.store.activity import DeviceEventRow, LedgerPostingRow, StayRow
from core.store.database import Database

PLATE = "浙B12345"
# Hand-worked from tariffs/onstreet-class1.toml for 09:00-11:00 on Wednesday 2026-11-25:
# 120 minutes exceed the 30 free ones, which are then charged too (free_when_exceeded = false);
# day band: first hour 500 fen, then 2 units of 30 minutes at 150 fen = 800 fen.
EXPECTED_FEE_FEN = 800


def sensor_event(event_id: str, state: str, time: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "device": "MAG-HS1-001",
        "berth": "HS1-001",
        "state": state,
        "device_time": f"2026-11-25T{time}:00+08:00",
        **extra,
    }


async def staff_token(client: TestClient[Any, Any], username: str) -> str:
    response = await client.post(
        "/ops/login", json={"username": username, "password": "demo-password-2026"}
    )
    assert response.status == 200, await response.text()
    token: str = (await response.json())["token"]
    return token


async def count(database: Database, column: Any) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count(column))) or 0)


async def test_a_stay_is_opened_shown_priced_and_posted(
    client: TestClient[Any, Any], clock: FrozenClock, database: Database
) -> None:
    opened = await client.post(
        "/devices/sensors/events", json=sensor_event("e-1", "occupied", "09:00", plate=PLATE)
    )
    assert opened.status == 200, await opened.text()
    ack = await opened.json()
    assert ack["outcome"] == "applied"
    stay_ref = ack["stay_ref"]

    clock.advance(timedelta(minutes=20))
    shown = await client.get(f"/mp/plates/{PLATE}/stays")
    assert shown.status == 200
    # Anyone can type a plate: where the car is parked now is not theirs to see.
    assert (await shown.json()) == {"plate": PLATE, "total_due_fen": 0, "stays": []}

    clock.advance(timedelta(minutes=100))
    closed = await client.post(
        "/devices/sensors/events", json=sensor_event("e-2", "vacated", "11:00")
    )
    closed_ack = await closed.json()
    assert closed_ack == {"outcome": "applied", "stay_ref": stay_ref, "fee_fen": EXPECTED_FEE_FEN}

    token = await staff_token(client, "demo-finance")
    ledger = await client.get(
        f"/ops/ledger/entries/{stay_ref}", headers={"Authorization": f"Bearer {token}"}
    )
    assert ledger.status == 200
    [entry] = (await ledger.json())["entries"]
    assert entry["kind"] == "stay_charged"
    postings = {(p["account"], p["debit_fen"], p["credit_fen"]) for p in entry["postings"]}
    assert postings == {
        (f"driver_receivable:{PLATE}", EXPECTED_FEE_FEN, 0),
        ("operator_revenue:OP-CITY", 0, EXPECTED_FEE_FEN),
    }

    resent = await client.post(
        "/devices/sensors/events", json=sensor_event("e-2", "vacated", "11:00")
    )
    assert (await resent.json())["outcome"] == "duplicate"
    assert await count(database, LedgerPostingRow.id) == 2

    final = await (await client.get(f"/mp/plates/{PLATE}/stays")).json()
    assert final == {
        "plate": PLATE,
        "total_due_fen": EXPECTED_FEE_FEN,
        "stays": [{"ref": stay_ref, "plate": PLATE, "due_fen": EXPECTED_FEE_FEN}],
    }


async def test_bad_input_gets_a_chinese_4xx_and_changes_nothing(
    client: TestClient[Any, Any], database: Database
) -> None:
    cases = [
        (sensor_event("b-1", "occupied", "09:00", berth="NOPE-001"), 404, "unknown_berth"),
        (sensor_event("b-2", "occupied", "09:00", plate="浙B12"), 400, "invalid_plate"),
        (
            {k: v for k, v in sensor_event("b-3", "occupied", "09:00").items() if k != "berth"},
            400,
            "invalid_request",
        ),
        (sensor_event("b-4", "parked", "09:00"), 400, "invalid_request"),
        (
            {**sensor_event("b-5", "occupied", "09:00"), "device_time": "2026-11-25T09:00:00"},
            400,
            "invalid_request",
        ),
    ]
    for payload, status, code in cases:
        response = await client.post("/devices/sensors/events", json=payload)
        body = await response.json()
        assert (response.status, body["code"]) == (status, code), payload
        assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body
    json_type = {"Content-Type": "application/json"}
    not_json = await client.post("/devices/sensors/events", data=b"{not json", headers=json_type)
    assert (not_json.status, (await not_json.json())["code"]) == (400, "invalid_request")
    untyped = await client.post("/devices/sensors/events", data=b"{not json")
    assert (untyped.status, (await untyped.json())["code"]) == (415, "unsupported_media_type")
    bad_plate_view = await client.get("/mp/plates/ABC/stays")
    assert bad_plate_view.status == 400
    assert await count(database, DeviceEventRow.id) == 0
    assert await count(database, StayRow.id) == 0
    assert await count(database, LedgerPostingRow.id) == 0


async def test_health_and_openapi(client: TestClient[Any, Any]) -> None:
    health = await client.get("/healthz")
    body = await health.json()
    assert (health.status, body) == (200, {"status": "ok", "database": "ok", "worker": os.getpid()})
    document = await (await client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert "/devices/sensors/events" in document["paths"]
    assert "/mp/plates/{plate}/stays" in document["paths"]
    assert document["paths"]["/ops/ledger/entries/{reference}"]["get"]["security"]
    unknown = await client.get("/mp/nothing-here")
    assert (unknown.status, (await unknown.json())["code"]) == (404, "not_found")
