"""Auto-deduct (无感支付) for lane reads over MQTT, on a real Mosquitto: the entry is told to
WeChat Pay and the exit's deduction asked right after the decision, as for a read over HTTP, and
the accepted deduction opens the gate over MQTT."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiomqtt
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from config.settings import Settings
from core.clock import FrozenClock
from core.store.auto_pay import StayParkingRow
from core.store.database import Database
from device_bridge.lane_publisher import COMMAND_ROOT
from sandbox.wechatpay.keys import SandboxKeys
from server.resources import DATABASE_KEY
from tests.integration.test_mqtt import FIXTURES, Broker, broker
from tests.wechat_sandbox import (
    PLATE,
    log_in_driver,
    quiet_app,
    sandbox_keys,
    verified_driver_of,
)

__all__ = ["broker", "sandbox_keys"]

MESSAGE = json.loads((FIXTURES / "vzenith" / "mqtt_ivs_result.json").read_text("utf-8"))


def camera_read(clock: FrozenClock, plate_id: int) -> bytes:
    """A Vzenith ivs_result of PLATE (blue) read now."""
    message = copy.deepcopy(MESSAGE)
    result = message["payload"]["AlarmInfoPlate"]["result"]["PlateResult"]
    licence = base64.b64encode(PLATE.encode("utf-8")).decode("ascii")
    result["license"], result["colorType"], result["plateid"] = licence, 1, plate_id
    for plate in result.get("plates", []):
        plate["license"], plate["color"] = licence, 1
    result["timeStamp"]["Timeval"]["sec"] = int(clock.now().timestamp())
    return json.dumps(message).encode("utf-8")


async def parking_state(database: Database) -> str | None:
    async with database.sessions() as session:
        row = await session.scalar(select(StayParkingRow).order_by(StayParkingRow.id.desc()))
    return row.state if row is not None else None


async def wait_for_state(database: Database, state: str) -> None:
    """Poll the stay's auto-pay state for up to 10 s (the task runs beside the lane)."""
    for _ in range(200):
        if await parking_state(database) == state:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"auto-pay state still {await parking_state(database)!r}, not {state!r}")


async def test_reads_over_mqtt_tell_the_entry_and_ask_the_deduction_that_opens_the_gate(
    settings: Settings,
    clock: FrozenClock,
    broker: Broker,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    client, sandbox = await quiet_app(
        settings,
        clock,
        sandbox_keys,
        aiohttp_client,
        mqtt_url=f"mqtt://127.0.0.1:{broker.port}",
        mqtt_client_id=f"centre-{uuid.uuid4().hex[:8]}",
        sandbox_deduction_seconds=0.05,
    )
    assert client.app is not None
    database = client.app[DATABASE_KEY]
    headers, openid = await log_in_driver(client, sandbox, "han-meimei")
    await verified_driver_of(database, clock, openid, PLATE)
    plate = {
        "plate_number": PLATE,
        "plate_color": "BLUE",
        "openid": openid,
        "state": "NORMAL",
        "deduction": "SUCCESS",
        "auto_complete": False,
    }
    async with client.session.post(f"{sandbox}/sandbox/wechatpay/parking/plates", json=plate) as r:
        assert r.status == 200, await r.text()
    shown = await client.post(f"/mp/me/plates/{quote(PLATE)}/auto-pay", headers=headers)
    assert (await shown.json())["state"] == "normal"

    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="hosp-station") as station:
        await station.subscribe(f"{COMMAND_ROOT}/LOT-HOSP/X1", qos=1)
        await asyncio.sleep(0.5)  # the centre's consumer subscribes as the app starts
        entry_topic = "device/LOT-HOSP-E1-anpr_camera/message/up/ivs_result"
        await station.publish(entry_topic, camera_read(clock, 7001), qos=1)
        # Told to WeChat Pay right after the lane's decision, not at the next sweep.
        await wait_for_state(database, "deductible")

        clock.advance(timedelta(hours=2))
        exit_topic = "device/LOT-HOSP-X1-anpr_camera/message/up/ivs_result"
        await station.publish(exit_topic, camera_read(clock, 7002), qos=1)
        kinds: list[str] = []
        async with asyncio.timeout(10):
            async for received in station.messages:
                assert isinstance(received.payload, bytes)
                kinds.append(json.loads(received.payload)["kind"])
                if "open_gate" in kinds:
                    break
    # The exit asked for payment first (the lane never waits for WeChat Pay), then the
    # accepted deduction opened the gate.
    assert kinds[0] != "open_gate" and kinds[-1] == "open_gate"
    assert await parking_state(database) == "deducting"
