"""QR codes: issued by staff for real targets only, resolved by drivers, never forged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from core import scan_codes
from core.clock import FrozenClock
from core.scan_codes import ScanCodeKind, ScanTarget
from tests.e2e.test_walking_skeleton import sensor_event, staff_token
from tests.integration.test_lanes import read


async def issue(client: TestClient[Any, Any], token: str, **target: str) -> Any:
    response = await client.post(
        "/ops/scan-codes", json=target, headers={"Authorization": f"Bearer {token}"}
    )
    return response.status, await response.json()


async def scan(client: TestClient[Any, Any], payload: str) -> tuple[int, Any]:
    response = await client.post("/mp/scan", json={"payload": payload})
    return response.status, await response.json()


async def test_codes_for_berths_lanes_and_plates(
    client: TestClient[Any, Any], clock: FrozenClock
) -> None:
    admin = await staff_token(client, "demo-admin")
    viewer = await staff_token(client, "demo-viewer")
    assert (await issue(client, viewer, kind="berth", berth="HS1-001"))[0] == 403
    status, berth = await issue(client, admin, kind="berth", berth="HS1-001")
    assert status == 200 and berth["payload"].startswith("v1.")
    assert (await issue(client, admin, kind="berth", berth="NOPE-1"))[0] == 404
    assert (await issue(client, admin, kind="plate", plate="ABC"))[0] == 400

    status, empty = await scan(client, berth["payload"])
    assert (status, empty["action"], empty["stays"]) == (200, "start", [])
    await client.post(
        "/devices/sensors/events", json=sensor_event("q-1", "occupied", "09:00", plate="浙B12345")
    )
    status, busy = await scan(client, berth["payload"])
    assert (status, busy["action"], busy["place"]) == (200, "in_progress", "HS1-001")
    assert busy["stays"][0]["plate"] == "浙B***45"  # whoever scans a berth sees no full plate

    status, plate = await issue(client, admin, kind="plate", plate="浙b12345")
    status, mine = await scan(client, plate["payload"])
    # A plate's code is for paying: the car still parked is nobody's business but its owner's.
    assert (status, mine["kind"], mine["action"], mine["stays"]) == (
        200,
        "plate",
        "nothing_due",
        [],
    )
    clock.advance(timedelta(hours=2))
    vacated = await client.post(
        "/devices/sensors/events", json=sensor_event("q-2", "vacated", "11:00")
    )
    ack = await vacated.json()
    status, mine = await scan(client, plate["payload"])
    assert (status, mine["action"]) == (200, "pay")
    assert mine["stays"] == [
        {
            "ref": ack["stay_ref"],
            "plate": "浙B12345",
            "status": "closed",
            "place": None,
            "entered_at": None,
            "exited_at": None,
            "fee_fen": ack["fee_fen"],
            "payable": True,
        }
    ]


async def test_exit_lane_codes_belong_to_one_lane_of_one_lot(
    client: TestClient[Any, Any], clock: FrozenClock
) -> None:
    admin = await staff_token(client, "demo-admin")
    assert (await issue(client, admin, kind="exit_lane", lot="LOT-TIANYI", lane="E1"))[0] == 404
    _, mall = await issue(client, admin, kind="exit_lane", lot="LOT-TIANYI", lane="X1")
    _, hospital = await issue(client, admin, kind="exit_lane", lot="LOT-HOSP", lane="X1")
    assert mall["payload"] != hospital["payload"]
    await read(client, clock, "LOT-TIANYI", "E1", "浙B54321")
    exit_read = await read(client, clock, "LOT-TIANYI", "X1", "浙B54321", after=timedelta(hours=2))
    assert exit_read["action"] == "pay", exit_read
    status, waiting = await scan(client, mall["payload"])
    assert (status, waiting["action"]) == (200, "pay")
    [stay] = waiting["stays"]
    assert (stay["plate"], stay["payable"], stay["fee_fen"]) == (
        "浙B***21",
        True,
        exit_read["fee_fen"],
    )
    status, elsewhere = await scan(client, hospital["payload"])
    assert (status, elsewhere["action"], elsewhere["stays"]) == (200, "nothing_due", [])


async def test_forged_altered_and_garbage_codes_are_refused(client: TestClient[Any, Any]) -> None:
    admin = await staff_token(client, "demo-admin")
    _, issued = await issue(client, admin, kind="berth", berth="HS1-001")
    version, body, mac = issued["payload"].split(".")
    other = scan_codes.issue(ScanTarget(ScanCodeKind.BERTH, berth="HS1-002"), "a-guessed-secret")
    _, other_body, _ = other.split(".")
    forged = [
        other,  # signed with another key
        f"{version}.{other_body}.{mac}",  # body swapped, signature kept
        f"v2.{body}.{mac}",  # a version we never issued
        issued["payload"][:-2],
        "v1..",
        "hello",
        "v1.%%%.###",
    ]
    for payload in forged:
        status, answer = await scan(client, payload)
        assert (status, answer["code"]) == (400, "invalid_scan_code"), payload
