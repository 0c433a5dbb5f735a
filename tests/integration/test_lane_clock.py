"""An exit read dated before its entry is held for the attendant, never a 500 on every resend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from tests.conftest import START


async def _read(client: TestClient[Any, Any], body: dict[str, Any]) -> dict[str, Any]:
    async with client.post("/devices/lanes/reads", json=body) as response:
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def test_an_exit_before_its_entry_is_held_and_its_resend_answers_alike(
    client: TestClient[Any, Any], clock: FrozenClock
) -> None:
    clock.advance(timedelta(hours=3))
    for plate in ("浙B88888", "浙B12345"):  # a monthly pass holder and a temporary car
        camera = {"device_time": (START + timedelta(hours=2)).isoformat(), "plate": plate}
        entry = await _read(
            client, {"event_id": f"in-{plate}", "device": "LOT-TIANYI-E1-anpr_camera", **camera}
        )
        assert entry["action"] == "open"
        early = {
            "event_id": f"out-{plate}",
            "device": "LOT-TIANYI-X1-anpr_camera",
            "device_time": (START + timedelta(hours=1)).isoformat(),
            "plate": plate,
        }
        held = await _read(client, early)
        assert (held["action"], held["gate"], held["reason"]) == (
            "hold",
            "closed",
            "exit_before_entry",
        )
        assert held["stay_ref"] == entry["stay_ref"]
        again = await _read(client, early)
        assert (again["outcome"], again["reason"]) == ("duplicate", "exit_before_entry")
