"""Group commit of single berth events: concurrent requests share a transaction, each gets the
answer it would get alone, a bad event fails alone, the queue is bounded, shutdown drains it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import select

from config.settings import Settings
from core.berth_events import BerthEvent, BerthState, EventOutcome
from core.billing import ChineseDayCalendar
from core.clock import FrozenClock
from core.event_groups import GroupLimits, IntakeBusyError
from core.services.berth_events import BerthEventResult
from core.store.activity import DeviceEventRow, StayRow
from core.store.city import BerthRow
from core.store.database import Database
from device_bridge.berth_groups import BerthEventCollector
from device_bridge.intake import COLLECTOR_KEY, Intake, berth_rules
from tests.conftest import SHANGHAI
from tests.integration.test_mqtt import Broker, broker, eventually, publish  # noqa: F401

URL = "/devices/sensors/events"


def sensor(event_id: str, berth: int, state: str, at: str, plate: str | None = None) -> Any:
    event = {
        "event_id": event_id,
        "device": f"MAG-HS1-{berth:03d}",
        "berth": f"HS1-{berth:03d}",
        "state": state,
        "device_time": at if "T" in at else f"2026-11-25T{at}:00+08:00",
    }
    return event | ({"plate": plate} if plate else {})


def waves(offset: int) -> list[list[Any]]:
    """Events of five berths in three waves: in order, noise, late, held, unknown, resent."""
    b = [offset + n for n in range(6)]
    first = [
        sensor(f"{offset}a", b[1], "occupied", "07:00", f"浙B{b[1]:05d}"),
        sensor(f"{offset}b", b[2], "occupied", "07:10"),
        sensor(f"{offset}c", b[3], "vacated", "07:20"),  # nothing to end: noise
        sensor(f"{offset}d", b[4], "occupied", "2026-11-23T08:00:00+08:00"),  # lost clock
        sensor(f"{offset}e", b[5], "occupied", "07:30", f"浙B{b[5]:05d}"),
        sensor(f"{offset}f", 999, "occupied", "07:30") | {"berth": "NO-SUCH"},
    ]
    second = [
        sensor(f"{offset}g", b[1], "vacated", "08:30"),
        sensor(f"{offset}h", b[2], "vacated", "08:00"),
        sensor(f"{offset}i", b[5], "occupied", "07:00"),  # before its berth's last: slow path
        first[0],  # a resend
    ]
    third = [sensor(f"{offset}j", b[5], "vacated", "08:40")]
    return [first, second, third]


async def answers(client: TestClient[Any, Any], wave: list[Any], together: bool) -> list[Any]:
    async def post(event: Any) -> Any:
        response = await client.post(URL, json=event)
        body = await response.json()
        body.pop("stay_ref", None)
        return response.status, body

    if together:
        return list(await asyncio.gather(*(post(e) for e in wave)))
    return [await post(e) for e in wave]


async def stays_of(database: Database, offset: int) -> list[tuple[Any, ...]]:
    """The stays of one set's berths: (berth relative to the set, status, fee, entered)."""
    async with database.sessions() as session:
        rows = await session.execute(
            select(BerthRow.code, StayRow.status, StayRow.fee_fen, StayRow.entered_at)
            .join(BerthRow, BerthRow.id == StayRow.berth_id)
            .order_by(BerthRow.code, StayRow.entered_at)
        )
        found = [(int(code.rsplit("-", 1)[1]) - offset, *rest) for code, *rest in rows]
    return [row for row in found if 0 <= row[0] < 10]


async def test_concurrent_single_events_are_grouped_and_answered_as_alone(
    client: TestClient[Any, Any], database: Database
) -> None:
    collector = client.app[COLLECTOR_KEY]
    alone = [await answers(client, wave, together=False) for wave in waves(10)]
    assert (collector.groups, collector.grouped) == (11, 11)  # one after another: each alone
    together = [await answers(client, wave, together=True) for wave in waves(0)]
    assert together == alone
    assert collector.grouped == 22
    assert collector.groups < 22  # some shared a transaction
    flat = [body for wave in together for _, body in wave]
    assert [b.get("outcome", b.get("code")) for b in flat] == [
        "applied",
        "applied",
        "review",
        "review",
        "applied",
        "unknown_berth",
        "applied",
        "applied",
        "applied",
        "duplicate",
        "applied",
    ]
    assert flat[6]["fee_fen"] is not None and flat[6]["fee_fen"] > 0
    assert [s for wave in together for s, _ in wave].count(404) == 1
    grouped = await stays_of(database, 0)
    assert grouped == await stays_of(database, 10)
    assert len(grouped) >= 4


def _event(key: str, berth: int, at: str, payload: dict[str, Any] | None = None) -> BerthEvent:
    return BerthEvent(
        dedupe_key=f"own:berth:MAG-HS1-{berth:03d}:{key}",
        vendor="own",
        device_code=f"MAG-HS1-{berth:03d}",
        berth_code=f"HS1-{berth:03d}",
        state=BerthState.OCCUPIED,
        device_time=datetime.fromisoformat(f"2026-11-25T{at}:00").replace(tzinfo=SHANGHAI),
        payload=payload if payload is not None else {"event_id": key},
    )


DEFAULT_LIMITS = GroupLimits()


def _collector(
    database: Database, clock: FrozenClock, settings: Settings, limits: GroupLimits = DEFAULT_LIMITS
) -> BerthEventCollector:
    intake = Intake(database, clock, ChineseDayCalendar(), berth_rules(settings), None, Path("var"))
    collector = BerthEventCollector(intake.take_berth_events, limits)
    collector.start()
    return collector


async def stored_keys(database: Database) -> list[str]:
    async with database.sessions() as session:
        rows = await session.scalars(select(DeviceEventRow.dedupe_key).order_by(DeviceEventRow.id))
        return [key.rsplit(":", 1)[1] for key in rows]


def _split_groups() -> float:
    found = REGISTRY.get_sample_value("parking_berth_event_group_size_count", {"outcome": "split"})
    return found or 0.0


def _outcome(result: Any) -> Any:
    return result.outcome if isinstance(result, BerthEventResult) else type(result)


async def test_a_poison_event_fails_alone_and_the_rest_of_its_group_is_applied(
    database: Database, clock: FrozenClock, settings: Settings
) -> None:
    split_before = _split_groups()
    collector = _collector(database, clock, settings)
    poison = _event("p", 2, "07:00", {"not json": object()})
    events = [_event("a", 1, "07:00"), poison, _event("c", 3, "07:00")]
    results = await asyncio.gather(*(collector.submit(e) for e in events), return_exceptions=True)
    await collector.close()
    assert collector.groups == 1  # they were one group, which failed and was split
    assert _split_groups() == split_before + 1  # and /metrics says so
    assert [_outcome(r) for r in results][0::2] == [EventOutcome.APPLIED, EventOutcome.APPLIED]
    assert isinstance(results[1], Exception) and not isinstance(results[1], BerthEventResult)
    assert await stored_keys(database) == ["a", "c"]
    async with database.sessions() as session:
        assert len(list(await session.scalars(select(StayRow.id)))) == 2


async def test_duplicates_within_a_group_are_duplicates_as_alone(
    database: Database, clock: FrozenClock, settings: Settings
) -> None:
    collector = _collector(database, clock, settings)
    first = _event("a", 1, "07:00")
    assert _outcome(await collector.submit(first)) is EventOutcome.APPLIED
    # The same two events alone, on another berth: what the group must answer too.
    assert _outcome(await collector.submit(_event("x", 4, "07:00"))) is EventOutcome.APPLIED
    noise_alone = _outcome(await collector.submit(_event("y", 4, "07:05")))
    twice = _event("b", 2, "07:00")
    group = [twice, first, twice, _event("c", 2, "07:05")]
    results = await asyncio.gather(*(collector.submit(e) for e in group))
    await collector.close()
    assert (collector.groups, collector.grouped) == (4, 7)
    assert [_outcome(r) for r in results] == [
        EventOutcome.APPLIED,
        EventOutcome.DUPLICATE,  # stored by an earlier group
        EventOutcome.DUPLICATE,  # the same event earlier in this group
        noise_alone,  # an occupied while taken: noise, as alone
    ]
    assert await stored_keys(database) == ["a", "x", "y", "b", "c"]


async def test_no_more_wait_than_allowed_and_the_refused_one_is_not_stored(
    database: Database, clock: FrozenClock, settings: Settings
) -> None:
    collector = _collector(database, clock, settings, GroupLimits(max_events=10, max_waiting=2))
    events = [_event(k, n, "07:00") for n, k in enumerate("abc", start=1)]
    results = await asyncio.gather(*(collector.submit(e) for e in events), return_exceptions=True)
    await collector.close()
    assert [_outcome(r) for r in results] == [
        EventOutcome.APPLIED,
        EventOutcome.APPLIED,
        IntakeBusyError,
    ]
    assert await stored_keys(database) == ["a", "b"]


async def test_shutdown_applies_every_waiting_event_before_the_database_closes(
    settings: Settings, clock: FrozenClock, database: Database, aiohttp_client: Callable[..., Any]
) -> None:
    from server.app import create_app

    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings, clock=clock))
    collector = client.app[COLLECTOR_KEY]
    events = [_event(f"s{n}", n, "07:00") for n in range(1, 21)]
    waiters = [asyncio.create_task(collector.submit(e)) for e in events]
    await asyncio.sleep(0)  # all queued, at most the first group under way
    await client.close()  # the app's cleanup: the collector drains, then the engine closes
    assert all(w.done() for w in waiters)
    assert {_outcome(w.result()) for w in waiters} == {EventOutcome.APPLIED}
    assert collector.grouped == 20 and collector.groups < 20
    assert sorted(await stored_keys(database)) == sorted(f"s{n}" for n in range(1, 21))
    with pytest.raises(IntakeBusyError):
        await collector.submit(_event("late", 1, "07:30"))


async def test_a_closed_intake_answers_busy_over_http(client: TestClient[Any, Any]) -> None:
    await client.app[COLLECTOR_KEY].close()
    response = await client.post(URL, json=sensor("x", 1, "occupied", "07:00"))
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert await response.json() == {"code": "busy", "message": "系统繁忙，请稍后再试"}


async def test_single_events_over_mqtt_go_through_the_collector(
    settings: Settings,
    clock: FrozenClock,
    broker: Broker,  # noqa: F811
    database: Database,
    aiohttp_client: Callable[..., Any],
) -> None:
    from server.app import create_app

    mqtt = settings.model_copy(
        update={
            "mqtt_url": f"mqtt://127.0.0.1:{broker.port}",
            "mqtt_client_id": f"centre-{uuid.uuid4().hex[:8]}",
        }
    )
    from device_bridge.mqtt import CONSUMER_KEY

    client = await aiohttp_client(create_app(mqtt, clock=clock))
    await asyncio.wait_for(client.app[CONSUMER_KEY].connected.wait(), 10)
    for n in range(1, 9):
        event = sensor(f"m{n}", n, "occupied", "07:00")
        await publish(broker.port, f"parking/v1/sensors/MAG-HS1-{n:03d}/events", event)
    await eventually(lambda: asyncio.sleep(0, client.app[CONSUMER_KEY].handled), 8)
    assert client.app[COLLECTOR_KEY].grouped == 8
    assert sorted(await stored_keys(database)) == [f"m{n}" for n in range(1, 9)]
