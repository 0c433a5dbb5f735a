"""Price previews, tariff versions and the holiday override table over HTTP."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

TARIFFS = Path(__file__).resolve().parents[2] / "tariffs"


async def preview(client: TestClient[Any, Any], **params: str) -> tuple[int, dict[str, Any]]:
    response = await client.get("/mp/price-preview", params=params)
    return response.status, await response.json()


async def admin_headers(client: TestClient[Any, Any]) -> dict[str, str]:
    response = await client.post(
        "/ops/login", json={"username": "demo-admin", "password": "demo-password-2026"}
    )
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def test_preview_prices_berths_zones_and_lots(client: TestClient[Any, Any]) -> None:
    wednesday_9am = "2026-11-25T09:00:00+08:00"
    # Class 1, 120 minutes in the day band: first hour 500 + 2 x 150 = 800 fen.
    status, body = await preview(client, place="HS1-001", minutes="120", start=wednesday_9am)
    assert (status, body["total_fen"], body["tariff_code"]) == (200, 800, "onstreet-class1")
    assert sum(line["amount_fen"] for line in body["lines"]) == 800
    # The zone code prices the same as its berths.
    assert (await preview(client, place="HS1", minutes="120", start=wednesday_9am))[1][
        "total_fen"
    ] == 800
    # Lot: 15 free minutes are charged once exceeded, 3 yuan an hour: 2 hours = 600 fen.
    status, body = await preview(client, place="LOT-HOSP", minutes="120", start=wednesday_9am)
    assert (status, body["total_fen"]) == (200, 600)
    # Inside the free period nothing is due.
    assert (await preview(client, place="HS2-003", minutes="25", start=wednesday_9am))[1][
        "total_fen"
    ] == 0


async def test_preview_refuses_bad_questions(client: TestClient[Any, Any]) -> None:
    cases = [
        ({"place": "NOWHERE", "minutes": "60"}, 404, "unknown_place"),
        ({"place": "HS1-001", "minutes": "0"}, 400, "invalid_request"),
        ({"place": "HS1-001"}, 400, "invalid_request"),
        (
            {"place": "HS1-001", "minutes": "60", "vehicle_class": "tank"},
            400,
            "unknown_vehicle_class",
        ),
        (
            {"place": "HS1-001", "minutes": "60", "start": "2026-11-25T09:00:00"},
            400,
            "invalid_request",
        ),
    ]
    for params, status, code in cases:
        got_status, body = await preview(client, **params)
        assert (got_status, body["code"]) == (status, code), params


async def test_unknown_year_fails_loudly_until_an_override_says(
    client: TestClient[Any, Any],
) -> None:
    # Class 3 is free on statutory holidays, so its price depends on the type of the day.
    monday_2027 = {"place": "JB3-001", "minutes": "120", "start": "2027-01-04T09:00:00+08:00"}
    status, body = await preview(client, **monday_2027)
    assert (status, body["code"]) == (422, "calendar_unknown")
    headers = await admin_headers(client)
    response = await client.put(
        "/ops/holidays/2027-01-04",
        json={"day_type": "holiday", "note": "local holiday; 2027 not yet in the package"},
        headers=headers,
    )
    assert response.status == 200, await response.text()
    status, body = await preview(client, **monday_2027)
    assert (status, body["total_fen"]) == (200, 0)
    listed = await (await client.get("/ops/holidays", headers=headers)).json()
    assert [o["day"] for o in listed["overrides"]] == ["2027-01-04"]
    verify = await (await client.get("/ops/audit/verify", headers=headers)).json()
    assert verify["intact"] is True


async def test_publishing_a_tariff_adds_a_version_from_its_date(
    client: TestClient[Any, Any],
) -> None:
    headers = await admin_headers(client)
    document = tomllib.loads((TARIFFS / "onstreet-class1.toml").read_text(encoding="utf-8"))
    broken = {**document, "bands": [{**document["bands"][0], "start": "25:00"}]}
    response = await client.post(
        "/ops/tariffs", json={"tariff": broken, "reason": "typo"}, headers=headers
    )
    body = await response.json()
    assert (response.status, body["code"]) == (400, "invalid_tariff")
    assert "bands[0].start" in body["message"]

    dearer = {**document, "version": "2026.12", "effective_from": "2026-12-01T00:00:00+08:00"}
    dearer["bands"] = [{**document["bands"][0], "first_unit_fen": 600}, document["bands"][1]]
    response = await client.post(
        "/ops/tariffs", json={"tariff": dearer, "reason": "price review 2026"}, headers=headers
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["version"] == 2
    before = await preview(
        client, place="HS1-001", minutes="120", start="2026-11-25T09:00:00+08:00"
    )
    after = await preview(client, place="HS1-001", minutes="120", start="2026-12-02T09:00:00+08:00")
    assert (before[1]["total_fen"], before[1]["tariff_version"]) == (800, 1)
    assert (after[1]["total_fen"], after[1]["tariff_version"]) == (900, 2)


async def test_back_dated_tariff_is_refused(client: TestClient[Any, Any]) -> None:
    document = tomllib.loads((TARIFFS / "onstreet-class2.toml").read_text(encoding="utf-8"))
    response = await client.post(
        "/ops/tariffs",
        json={
            "tariff": {**document, "effective_from": "2026-01-01T00:00:00+08:00"},
            "reason": "re-price the year",
        },
        headers=await admin_headers(client),
    )
    assert (response.status, (await response.json())["code"]) == (400, "invalid_tariff")
