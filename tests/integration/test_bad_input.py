"""The bad-input corpus (issue 19): every payload gets a 4xx `{code, message}` naming the
problem on SQLite and PostgreSQL, never a 500; identical device reports sent at once are stored
once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from core.store.activity import DeviceEventRow
from core.store.unit_of_work import UnitOfWork
from ops_api.commands import DEMO_PASSWORD

Client = TestClient[Any, Any]
FIXTURES = Path(__file__).parents[1] / "fixtures" / "devices"
NUL = "a\u0000b"
INT64_OVER = 2**63
INT32_OVER = 2**31
# Too deep for Python's own decoder and encoder: sent as text.
DEEP = "[" * 5000 + "]" * 5000


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return loaded


def nested(depth: int) -> Any:
    """A JSON value `depth` arrays deep."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def event(name: str, **changes: Any) -> dict[str, Any]:
    return fixture(name) | changes


def vzenith_at(seconds: int) -> dict[str, Any]:
    push = fixture("vzenith/http_plate_entry.json")
    push["AlarmInfoPlate"]["result"]["PlateResult"]["timeStamp"]["Timeval"]["sec"] = seconds
    return push


VZENITH = "/devices/lanes/vendors/vzenith/LOT-TIANYI-E1-anpr_camera"
DEVICE_64 = "D" * 64
EVENT_64 = "E" * 64

# (what is wrong, method, path, JSON body or None, the code that names it)
CORPUS: list[tuple[str, str, str, Any, str]] = [
    # NUL characters (PostgreSQL text cannot hold U+0000)
    ("nul", "POST", "/ops/login", {"username": NUL, "password": "x"}, "nul_character"),
    (
        "nul",
        "POST",
        "/devices/sensors/events",
        event("own/berth_occupied.json", device=NUL),
        "nul_character",
    ),
    (
        "nul",
        "POST",
        "/devices/heartbeats",
        event("own/heartbeat.json", device=NUL),
        "nul_character",
    ),
    ("nul", "POST", "/devices/faults", event("own/fault.json", description=NUL), "nul_character"),
    (
        "nul",
        "POST",
        "/devices/video/plates",
        event("own/plate_read_outside.json", location=NUL),
        "nul_character",
    ),
    (
        "nul",
        "POST",
        "/devices/lanes/reads",
        event("lane_json/read_entry.json", event_id=NUL),
        "nul_character",
    ),
    (
        "nul",
        "POST",
        "/devices/lanes/gates",
        event("lane_json/gate_fault.json", device=NUL),
        "nul_character",
    ),
    (
        "nul",
        "POST",
        "/devices/vendors/huawei-vias/events",
        event("huawei_vias/abnormal_parking_berth.json", stream_id=NUL),
        "nul_character",
    ),
    (
        "nul",
        "POST",
        VZENITH,
        {
            "AlarmInfoPlate": fixture("vzenith/http_plate_entry.json")["AlarmInfoPlate"]
            | {"serialno": NUL}
        },
        "nul_character",
    ),
    (
        "nul key",
        "POST",
        "/devices/heartbeats",
        event("own/heartbeat.json") | {NUL: 1},
        "nul_character",
    ),
    (
        "nul",
        "POST",
        "/ops/staff",
        {
            "username": "fuzz-nul",
            "password": "long-enough-password",
            "role": "viewer",
            "display_name": NUL,
            "reason": "test",
        },
        "nul_character",
    ),
    ("nul", "GET", "/ops/audit?actor=a%00b", None, "nul_character"),
    ("nul", "GET", "/ops/audit?target=a%00b", None, "nul_character"),
    ("nul", "GET", "/ops/arrears?street=a%00b", None, "nul_character"),
    ("nul", "GET", "/ops/lot-rights?lot=a%00b", None, "nul_character"),
    ("nul", "GET", "/ops/plate-blocks?lot=a%00b", None, "nul_character"),
    ("nul", "GET", "/ops/review/lot-stays?lot=a%00b", None, "nul_character"),
    ("nul", "GET", "/mp/availability?zone=a%00b", None, "nul_character"),
    ("nul", "GET", "/mp/price-preview?place=a%00b&minutes=60", None, "nul_character"),
    ("nul path", "GET", "/ops/devices/a%00b", None, "nul_character"),
    ("nul path", "GET", "/ops/ledger/accounts/a%00b", None, "nul_character"),
    ("nul path", "GET", "/ops/stays/a%00b/payments", None, "nul_character"),
    ("nul path", "GET", "/ops/lanes/a%00b/snapshot", None, "nul_character"),
    ("nul path", "GET", "/mp/lots/a%00b/pass-products", None, "nul_character"),
    (
        "nul path",
        "POST",
        "/devices/lanes/vendors/vzenith/a%00b",
        fixture("vzenith/http_plate_entry.json"),
        "nul_character",
    ),
    # integers beyond int32 (id columns) and int64 (any column)
    ("int32", "GET", f"/ops/staff?after={INT32_OVER}", None, "invalid_request"),
    ("int32", "GET", f"/ops/audit?before={INT32_OVER}", None, "invalid_request"),
    ("int32", "GET", f"/ops/violations?before_id={INT32_OVER}", None, "invalid_request"),
    ("int32", "GET", f"/ops/lot-rights?after={INT32_OVER}", None, "invalid_request"),
    ("int32", "GET", f"/ops/plate-blocks?after={INT32_OVER}", None, "invalid_request"),
    (
        "int32",
        "POST",
        "/ops/lanes/LOT-HOSP/E1/lift",
        {"reason": "test lift", "task_id": INT32_OVER},
        "invalid_request",
    ),
    (
        "int32 path",
        "POST",
        f"/ops/devices/MAG-HS1-001/tickets/{INT32_OVER}/close",
        {"resolution": "fixed"},
        "invalid_request",
    ),
    (
        "int32 path",
        "POST",
        f"/ops/berth-closures/{INT32_OVER}/end",
        {"reason": "reopen"},
        "invalid_request",
    ),
    (
        "int32 path",
        "POST",
        f"/ops/lanes/tasks/{INT32_OVER}/plate",
        {"plate": "浙B12345", "reason": "misread"},
        "task_not_found",
    ),
    (
        "int32 path",
        "POST",
        f"/ops/plate-blocks/{INT32_OVER}/lift",
        {"reason": "lifted"},
        "block_not_found",
    ),
    (
        "digit path",
        "POST",
        "/ops/plate-blocks/%C2%B2/lift",
        {"reason": "lifted"},
        "block_not_found",
    ),
    ("int64", "GET", f"/ops/arrears?min_fen={INT64_OVER}", None, "number_out_of_range"),
    (
        "int64",
        "POST",
        "/ops/payments/x/refunds",
        {"amount_fen": INT64_OVER, "reason": "test"},
        "number_out_of_range",
    ),
    (
        "int64",
        "POST",
        "/ops/stays/x/waivers",
        {"amount_fen": INT64_OVER, "reason": "test"},
        "number_out_of_range",
    ),
    (
        "int64",
        "POST",
        "/devices/lanes/reads",
        event(
            "lane_json/read_entry.json",
            offline=True,
            offline_decision={"action": "open", "reason": "pass", "fee_fen": INT64_OVER},
        ),
        "number_out_of_range",
    ),
    (
        "int64",
        "POST",
        "/devices/heartbeats",
        event("own/heartbeat.json") | {"extra": -INT64_OVER - 1},
        "number_out_of_range",
    ),
    (
        "int32",
        "POST",
        "/devices/lanes/reads",
        event(
            "lane_json/read_entry.json",
            offline=True,
            offline_decision={"action": "open", "reason": "pass", "tariff_version": INT32_OVER},
        ),
        "invalid_request",
    ),
    ("NaN", "POST", "/ops/login", '{"username": NaN, "password": "x"}', "number_out_of_range"),
    (
        "float",
        "POST",
        "/devices/heartbeats",
        json.dumps(fixture("own/heartbeat.json"))[:-1] + ', "x": 1e999}',
        "number_out_of_range",
    ),
    (
        "long code",
        "POST",
        "/devices/faults",
        event("own/fault.json", code="F" * 40),
        "invalid_request",
    ),
    # years no date arithmetic can take
    (
        "year 1",
        "POST",
        "/devices/sensors/events",
        event("own/berth_occupied.json", device_time="0001-01-01T00:00:00+08:00"),
        "time_out_of_range",
    ),
    (
        "year 9999",
        "POST",
        "/devices/sensors/events",
        event("own/berth_occupied.json", device_time="9999-12-31T23:59:59-08:00"),
        "time_out_of_range",
    ),
    (
        "year 1",
        "POST",
        "/devices/heartbeats",
        event("own/heartbeat.json", device_time="0001-01-01T00:00:00+08:00"),
        "time_out_of_range",
    ),
    (
        "year 9999",
        "POST",
        "/devices/faults",
        event("own/fault.json", device_time="9999-12-31T23:59:59-08:00"),
        "time_out_of_range",
    ),
    (
        "year 1",
        "POST",
        "/devices/video/plates",
        event("own/plate_read_berth.json", device_time="0001-01-01T00:00:00+08:00"),
        "time_out_of_range",
    ),
    (
        "year 9999",
        "POST",
        "/devices/lanes/reads",
        event("lane_json/read_entry.json", device_time="9999-12-31T23:59:59-08:00"),
        "time_out_of_range",
    ),
    (
        "year 1",
        "POST",
        "/devices/lanes/intercom",
        event("lane_json/intercom_call.json", device_time="0001-01-01T00:00:00+08:00"),
        "time_out_of_range",
    ),
    (
        "year 9999",
        "POST",
        "/ops/payments/reconcile",
        {"date": "9999-12-31", "sub_mchid": "1900000101"},
        "time_out_of_range",
    ),
    (
        "year 1",
        "POST",
        "/ops/payments/reconcile",
        {"date": "0001-01-01", "sub_mchid": "1900000101"},
        "time_out_of_range",
    ),
    (
        "epoch",
        "POST",
        "/devices/vendors/huawei-vias/events",
        event("huawei_vias/abnormal_parking_berth.json", timestamp=10**12),
        "time_out_of_range",
    ),
    (
        "epoch",
        "POST",
        "/devices/vendors/huawei-vias/events",
        event("huawei_vias/abnormal_parking_berth.json", timestamp=INT64_OVER - 1),
        "time_out_of_range",
    ),
    ("epoch", "POST", VZENITH, vzenith_at(10**12), "time_out_of_range"),
    # JSON nested deeper than any payload
    ("deep", "POST", "/devices/sensors/events", DEEP, "json_too_deep"),
    ("deep", "POST", "/ops/login", DEEP, "json_too_deep"),
    ("deep", "POST", VZENITH, DEEP, "json_too_deep"),
    (
        "deep",
        "POST",
        "/devices/vendors/huawei-vias/events",
        event("huawei_vias/abnormal_parking_berth.json")
        | {"data": {"vehicles": [], "event_set": [{"x": nested(100)}]}},
        "json_too_deep",
    ),
    (
        "deep",
        "POST",
        "/ops/tariffs",
        {"tariff": {"x": nested(100)}, "reason": "deep"},
        "json_too_deep",
    ),
    (
        "deep",
        "POST",
        "/devices/heartbeats",
        event("own/heartbeat.json") | {"extra": nested(40)},
        "json_too_deep",
    ),
]


async def admin_headers(client: Client) -> dict[str, str]:
    response = await client.post(
        "/ops/login", json={"username": "demo-admin", "password": DEMO_PASSWORD}
    )
    assert response.status == 200, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def send(client: Client, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    """Send a case; a str body goes as it is (JSON that Python would not write)."""
    if isinstance(body, str):
        data = body.encode()
    elif body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
    else:
        data = None
    with_type = {**headers, "Content-Type": "application/json"} if data is not None else headers
    return await client.request(method, path, data=data, headers=with_type)


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


async def answered(response: Any) -> tuple[int, str, str]:
    text = await response.text()
    try:
        body = json.loads(text)
    except ValueError:
        return response.status, "not json", text[:200]
    return response.status, body.get("code", ""), body.get("message", "")


async def test_every_bad_payload_is_a_4xx_naming_the_problem(client: Client) -> None:
    headers = await admin_headers(client)
    wrong = []
    for problem, method, path, body, code in CORPUS:
        status, got, message = await answered(await send(client, method, path, body, headers))
        if not (400 <= status < 500 and got == code and has_chinese(message)):
            wrong.append(f"{problem}: {method} {path[:60]} -> {status} {got} {message[:80]}")
    assert not wrong, "\n".join(wrong)
    assert len(CORPUS) >= 60


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def _filled(path: str) -> str:
    """The path with every parameter a harmless word."""
    return "/".join("x" if part.startswith("{") else part for part in path.split("/"))


async def test_every_json_route_refuses_other_media_types_with_415(client: Client) -> None:
    headers = await admin_headers(client)
    document = await (await client.get("/openapi.json")).json()
    routes = [(m, p) for m, p, op in _operations(document) if "requestBody" in op]
    routes.append(("POST", "/devices/vendors/huawei-vias/events"))
    routes.append(("POST", "/devices/lanes/vendors/vzenith/{device}"))
    routes.append(("POST", "/devices/lanes/vendors/dahua/{device}"))
    assert len(routes) >= 50
    valid_login = json.dumps({"username": "demo-admin", "password": DEMO_PASSWORD})
    bodies = [
        ("text/plain", valid_login.encode()),
        ("application/x-www-form-urlencoded", b"username=demo-admin&password=x"),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--\r\n",
        ),
        ("application/xml", b"<xml/>"),
        (None, valid_login.encode()),
    ]
    wrong = []
    for method, path in routes:
        for media_type, data in bodies:
            sent = dict(headers) | ({"Content-Type": media_type} if media_type else {})
            response = await client.request(method, _filled(path), data=data, headers=sent)
            status, code, message = await answered(response)
            if (status, code) != (415, "unsupported_media_type") or not has_chinese(message):
                wrong.append(f"{method} {path} as {media_type}: {status} {code}")
    assert not wrong, "\n".join(wrong)
    # JSON declared with a charset or as a +json type is still JSON.
    for media_type in ("application/json; charset=utf-8", "application/merged-patch+json"):
        login = await client.post(
            "/ops/login", data=valid_login.encode(), headers={"Content-Type": media_type}
        )
        assert login.status == 200, (media_type, await login.text())


async def test_every_route_refuses_deep_json_and_nul_in_bodies_and_paths(client: Client) -> None:
    headers = await admin_headers(client)
    document = await (await client.get("/openapi.json")).json()
    operations = _operations(document)
    wrong = []
    for method, path, operation in operations:
        if "requestBody" in operation:
            for body, code in ((DEEP, "json_too_deep"), ({"k": NUL}, "nul_character")):
                status, got, _ = await answered(
                    await send(client, method, _filled(path), body, headers)
                )
                if (status, got) != (400, code):
                    wrong.append(f"{method} {path} with {code}: {status} {got}")
        if "{" in path and path != "/mp/availability/stream":
            bad = "/".join("a%00b" if p.startswith("{") else p for p in path.split("/"))
            status, got, _ = await answered(await send(client, method, bad, {}, headers))
            if (status, got) != (400, "nul_character"):
                wrong.append(f"{method} {path} with NUL in the path: {status} {got}")
    assert not wrong, "\n".join(wrong)


# SQLite lets one writer in at a time, so only PostgreSQL can race these.
on_postgresql = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@on_postgresql
@pytest.mark.parametrize(
    ("route", "name"),
    [("/devices/heartbeats", "own/heartbeat.json"), ("/devices/faults", "own/fault.json")],
)
async def test_identical_reports_sent_at_once_are_stored_once(
    client: Client, uow_factory: Callable[[], UnitOfWork], route: str, name: str
) -> None:
    body = fixture(name) | {"device": "MAG-HS1-009"}
    responses = await asyncio.gather(*(client.post(route, json=body) for _ in range(8)))
    answers = [(r.status, (await r.json()).get("outcome")) for r in responses]
    assert sorted(answers) == [(200, "applied")] + [(200, "duplicate")] * 7, answers
    async with uow_factory() as uow:
        stored = await uow.session.scalar(
            select(func.count(DeviceEventRow.id)).where(DeviceEventRow.device_code == "MAG-HS1-009")
        )
    assert stored == 1


@on_postgresql
async def test_different_first_reports_of_a_device_sent_at_once_all_apply(
    client: Client, uow_factory: Callable[[], UnitOfWork]
) -> None:
    beats = [
        fixture("own/heartbeat.json") | {"device": "MAG-HS1-010", "event_id": f"hb-{i}"}
        for i in range(6)
    ]
    faults = [
        fixture("own/fault.json") | {"device": "MAG-HS1-010", "event_id": f"f-{i}"}
        for i in range(6)
    ]
    responses = await asyncio.gather(
        *(client.post("/devices/heartbeats", json=b) for b in beats),
        *(client.post("/devices/faults", json=f) for f in faults),
    )
    answers = [(r.status, (await r.json()).get("outcome")) for r in responses]
    assert answers == [(200, "applied")] * 12, answers
    async with uow_factory() as uow:
        stored = await uow.session.scalar(
            select(func.count(DeviceEventRow.id)).where(DeviceEventRow.device_code == "MAG-HS1-010")
        )
    assert stored == 12
