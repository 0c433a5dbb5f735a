"""On-street operations over HTTP: patrol plates, device health, tickets, review, violations."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from core.store.unit_of_work import UnitOfWork

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "devices"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


async def login(client: TestClient[Any, Any], username: str) -> dict[str, str]:
    response = await client.post(
        "/ops/login", json={"username": username, "password": "demo-password-2026"}
    )
    assert response.status == 200, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def audit_actions(client: TestClient[Any, Any]) -> list[str]:
    response = await client.get("/ops/audit", headers=await login(client, "demo-admin"))
    assert response.status == 200, await response.text()
    return [link["action"] for link in (await response.json())["items"]]


async def test_officer_records_the_plate_of_a_stay_waiting_for_one(
    client: TestClient[Any, Any], uow_factory: Callable[[], UnitOfWork]
) -> None:
    await client.post("/devices/sensors/events", json=fixture("own/berth_occupied.json"))
    officer = await login(client, "demo-officer")
    body = {"berth": "HS1-003", "plate": "浙b 12345", "photo": "oss://patrol/p1.jpg"}
    recorded = await client.post("/ops/patrol/plates", json=body, headers=officer)
    assert recorded.status == 200, await recorded.text()
    answer = await recorded.json()
    assert (answer["plate"], answer["previous_plate"]) == ("浙B12345", None)
    assert "patrol.plate" in await audit_actions(client)
    async with uow_factory() as uow:
        stay = await uow.stays.by_ref(answer["stay_ref"])
        assert stay is not None and (stay.plate, stay.status) == ("浙B12345", "open")
    empty = await client.post(
        "/ops/patrol/plates", json=body | {"berth": "HS1-010"}, headers=officer
    )
    assert (empty.status, (await empty.json())["code"]) == (409, "no_stay_at_berth")
    viewer = await login(client, "demo-viewer")
    denied = await client.post("/ops/patrol/plates", json=body, headers=viewer)
    assert denied.status == 403


async def test_devices_needing_attention_and_tickets(
    client: TestClient[Any, Any], clock: FrozenClock
) -> None:
    admin = await login(client, "demo-admin")
    beat = fixture("own/heartbeat.json") | {"battery_pct": 12}
    assert (await client.post("/devices/heartbeats", json=beat)).status == 200
    assert (await client.post("/devices/faults", json=fixture("own/fault.json"))).status == 200
    clock.advance(timedelta(minutes=10))
    attention = await (await client.get("/ops/devices/attention", headers=admin)).json()
    by_code = {d["code"]: d for d in attention["devices"]}
    assert by_code["MAG-HS1-003"]["attention"] == ["low_battery", "fault"]
    assert by_code["MAG-HS1-003"]["online"] is True
    assert by_code["MAG-HS1-004"]["attention"] == ["offline"]  # never heard from
    opened = await client.post(
        "/ops/devices/MAG-HS1-003/tickets", json={"reason": "更换电池"}, headers=admin
    )
    assert opened.status == 201, await opened.text()
    ticket = await opened.json()
    device = await (await client.get("/ops/devices/MAG-HS1-003", headers=admin)).json()
    assert device["open_tickets"] == 1 and "open_ticket" in device["attention"]
    closed = await client.post(
        f"/ops/devices/MAG-HS1-003/tickets/{ticket['id']}/close",
        json={"resolution": "已更换电池"},
        headers=admin,
    )
    assert (closed.status, (await closed.json())["status"]) == (200, "closed")
    again = await client.post(
        f"/ops/devices/MAG-HS1-003/tickets/{ticket['id']}/close",
        json={"resolution": "重复"},
        headers=admin,
    )
    assert (again.status, (await again.json())["code"]) == (409, "ticket_closed")
    actions = await audit_actions(client)
    assert {"device.ticket_open", "device.ticket_close"} <= set(actions)
    unknown = await client.get("/ops/devices/NOPE", headers=admin)
    assert (unknown.status, (await unknown.json())["code"]) == (404, "unknown_device")
    officer = await login(client, "demo-officer")
    assert (await client.get("/ops/devices/attention", headers=officer)).status == 403


async def test_vendor_push_raises_violations_and_the_review_queue_lists_doubts(
    settings: Settings, clock: FrozenClock, tmp_path: Path, aiohttp_client: Callable[..., Any]
) -> None:
    from server.app import create_app

    images = tmp_path / "images"
    app = create_app(settings.model_copy(update={"image_dir": str(images)}), clock=clock)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    clock.advance(timedelta(minutes=30))
    push = fixture("huawei_vias/abnormal_parking_no_parking_area.json")
    answered = await client.post("/devices/vendors/huawei-vias/events", json=push)
    assert answered.status == 200, await answered.text()
    resent = await client.post("/devices/vendors/huawei-vias/events", json=push)
    assert (await resent.json())["outcome"] == "duplicate"
    officer = await login(client, "demo-officer")
    violations = await (await client.get("/ops/violations", headers=officer)).json()
    plates = sorted(
        (v["plate"] or "", v["kind"], len(v["images"])) for v in violations["violations"]
    )
    assert plates == [("", "outside_berth", 1), ("浙B8K123", "outside_berth", 1)]
    gone = await client.post(
        "/devices/vendors/huawei-vias/events", json=fixture("huawei_vias/event_gone.json")
    )
    assert (gone.status, (await gone.json())["outcome"]) == (200, "applied")

    clock.advance(timedelta(hours=1, minutes=30))  # 11:00, after the recorded sensor events
    await client.post("/devices/sensors/events", json=fixture("own/berth_vacated.json"))
    await client.post("/devices/sensors/events", json=fixture("own/berth_occupied.json"))
    lonely = fixture("own/berth_vacated.json") | {"event_id": "9", "berth": "HS1-006"}
    lonely["device"] = "MAG-HS1-006"
    await client.post("/devices/sensors/events", json=lonely)
    officer = await login(client, "demo-officer")  # the first token expired meanwhile
    review = await (await client.get("/ops/review/berths", headers=officer)).json()
    assert [(e["berth"], e["role"]) for e in review["unplaced_events"]] == [("HS1-006", "noise")]
    # HS1-003 was occupied 09:02 to 10:47 without a plate: closed for review.
    assert [(s["berth"], s["reason"]) for s in review["stays"]] == [("HS1-003", "no_plate")]
    ahead = fixture("own/berth_occupied.json") | {"event_id": "far", "berth": "HS1-007"}
    ahead["device_time"] = "2026-11-26T09:00:00+08:00"
    assert (await (await client.post("/devices/sensors/events", json=ahead)).json())[
        "outcome"
    ] == "review"
    review = await (await client.get("/ops/review/berths", headers=officer)).json()
    assert [e["dedupe_key"] for e in review["refused_events"]] == ["own:berth:MAG-HS1-003:far"]


async def test_an_open_stay_without_plate_goes_to_review_after_the_wait(
    client: TestClient[Any, Any], clock: FrozenClock
) -> None:
    body = fixture("own/berth_occupied.json") | {"device_time": "2026-11-25T09:00:00+08:00"}
    await client.post("/devices/sensors/events", json=body)
    clock.advance(timedelta(minutes=15))
    officer = await login(client, "demo-officer")
    review = await (await client.get("/ops/review/berths", headers=officer)).json()
    assert review["stays"] == []  # 15 minutes is still within the wait
    clock.advance(timedelta(minutes=1))
    review = await (await client.get("/ops/review/berths", headers=officer)).json()
    assert [(s["berth"], s["status"], s["reason"]) for s in review["stays"]] == [
        ("HS1-003", "open", "no_plate")
    ]
