"""The networking API's door and its refusals: signatures, replays, rotation, malformed pushes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from adapters.redis_nonces import RedisNonces
from core.clock import FrozenClock
from sandbox.network_lot import Answer, ThirdPartyLot
from tests.conftest import service_missing
from tests.e2e.test_networked_lot import registration
from tests.e2e.test_walking_skeleton import staff_token

PLATE = "浙B7N001"


@pytest.fixture
async def admin(client: TestClient[Any, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {await staff_token(client, 'demo-admin')}"}


@pytest.fixture
async def lot(
    client: TestClient[Any, Any], clock: FrozenClock, admin: dict[str, str]
) -> ThirdPartyLot:
    joined = await client.post(
        "/ops/network/lots", json=registration("http://127.0.0.1:9/webhook"), headers=admin
    )
    assert joined.status == 201, await joined.text()
    issued = await joined.json()
    base = str(client.make_url(""))
    now = clock.now
    return ThirdPartyLot(
        client.session, base, issued["app_id"], issued["key"], now=lambda: now().timestamp()
    )


async def entry(lot: ThirdPartyLot, clock: FrozenClock, n: int = 1, **kwargs: Any) -> Answer:
    return await lot.entry(f"in-{n}", f"ORD-{n}", PLATE, clock.now() - timedelta(hours=1))


def refused(answer: Answer, status: int, code: str) -> None:
    assert (answer.status, answer.body["code"]) == (status, code), answer.body
    assert answer.body["message"] and answer.body["message_en"]


async def test_a_replayed_nonce_is_refused(lot: ThirdPartyLot, clock: FrozenClock) -> None:
    body = {
        "message_id": "c-1",
        "total_spaces": 300,
        "free_spaces": 10,
        "counted_at": clock.now().isoformat(),
    }
    first = await lot.call("POST", "/network/v1/counts", body, nonce="same-nonce-0001")
    assert first.status == 200, first.body
    refused(
        await lot.call("POST", "/network/v1/counts", body, nonce="same-nonce-0001"),
        401,
        "nonce_replayed",
    )


async def test_unsigned_stale_and_forged_requests_are_refused(
    client: TestClient[Any, Any], lot: ThirdPartyLot, clock: FrozenClock
) -> None:
    unsigned = await client.post("/network/v1/entries", json={"message_id": "x"})
    assert unsigned.status in (400, 401)
    plain = await client.get(f"/network/v1/plates/{PLATE}/rights")
    body = await plain.json()
    assert (plain.status, body["code"]) == (401, "network_unauthenticated") and body["message_en"]
    stale = ThirdPartyLot(
        lot.session,
        lot.base_url,
        lot.app_id,
        lot.key,
        now=lambda: (clock.now() - timedelta(minutes=6)).timestamp(),
    )
    refused(await entry(stale, clock), 401, "timestamp_out_of_window")
    forged = ThirdPartyLot(lot.session, lot.base_url, lot.app_id, "not-the-key", now=lot.now)
    refused(await entry(forged, clock), 401, "signature_invalid")
    unknown = ThirdPartyLot(lot.session, lot.base_url, "np-nobody", lot.key, now=lot.now)
    refused(await entry(unknown, clock), 401, "network_unauthenticated")


async def test_malformed_pushes_get_a_stable_code_in_both_languages(
    lot: ThirdPartyLot, clock: FrozenClock
) -> None:
    refused(
        await lot.call("POST", "/network/v1/entries", {"message_id": "m-1"}), 400, "invalid_request"
    )
    now = clock.now()
    backwards = await lot.exit("out-1", "ORD-1", PLATE, now, now - timedelta(hours=1), 500, 0)
    refused(backwards, 400, "network_invalid_request")
    overpaid = await lot.exit("out-2", "ORD-2", PLATE, now - timedelta(hours=1), now, 500, 600)
    refused(overpaid, 400, "network_invalid_request")
    bad_plate = await lot.entry("in-9", "ORD-9", "ABC1234", now)
    refused(bad_plate, 400, "network_invalid_request")
    both = await lot.call(
        "POST",
        "/network/v1/payments",
        {
            "message_id": "p-1",
            "amount_fen": 100,
            "channel": "cash",
            "paid_at": now.isoformat(),
            "session_id": "ORD-1",
            "stay_ref": "abc",
        },
    )
    refused(both, 400, "invalid_request")
    unknown = await lot.paid_on_site("p-2", 100, now, session_id="ORD-NONE")
    refused(unknown, 404, "session_unknown")
    refused(await lot.session_payments("ORD-NONE"), 404, "session_unknown")


async def test_a_message_id_reused_for_another_message_is_refused(
    lot: ThirdPartyLot, clock: FrozenClock
) -> None:
    assert (await entry(lot, clock)).body["status"] == "accepted"
    assert (await entry(lot, clock)).body["status"] == "duplicate"
    other = await lot.entry("in-1", "ORD-OTHER", PLATE, clock.now())
    refused(other, 409, "message_id_reused")


async def test_a_late_count_does_not_replace_a_newer_one(
    client: TestClient[Any, Any], lot: ThirdPartyLot, clock: FrozenClock, admin: dict[str, str]
) -> None:
    now = clock.now()
    assert (await lot.count("c-2", 300, 20, now)).status == 200
    assert (await lot.count("c-1", 300, 90, now - timedelta(seconds=10))).status == 200
    [row] = (await (await client.get("/ops/network/lots", headers=admin)).json())["lots"]
    assert (row["free_spaces"], row["count_age_s"]) == (20, 0)


async def test_keys_rotate_without_downtime(
    client: TestClient[Any, Any], lot: ThirdPartyLot, clock: FrozenClock, admin: dict[str, str]
) -> None:
    code = registration("")["code"]
    [old_id] = (await (await client.get("/ops/network/lots", headers=admin)).json())["lots"][0][
        "key_ids"
    ]
    alone = await client.delete(f"/ops/network/lots/{code}/keys/{old_id}", headers=admin)
    assert alone.status == 409  # the only live key cannot be ended
    rotated = await client.post(f"/ops/network/lots/{code}/keys", headers=admin)
    assert rotated.status == 201, await rotated.text()
    issued = await rotated.json()
    assert issued["retiring"] == [old_id]
    new = ThirdPartyLot(lot.session, lot.base_url, lot.app_id, issued["key"], now=lot.now)
    assert (await entry(lot, clock, 1)).status == 200  # the old key still works ...
    assert (await entry(new, clock, 2)).status == 200  # ... and so does the new one
    clock.advance(timedelta(days=7, seconds=1))
    refused(await entry(lot, clock, 3), 401, "signature_invalid")
    assert (await entry(new, clock, 4)).status == 200
    admin = {"Authorization": f"Bearer {await staff_token(client, 'demo-admin')}"}  # a week on
    again = await client.post(f"/ops/network/lots/{code}/keys", headers=admin)
    third = ThirdPartyLot(
        lot.session, lot.base_url, lot.app_id, (await again.json())["key"], now=lot.now
    )
    ended = await client.delete(f"/ops/network/lots/{code}/keys/{issued['key_id']}", headers=admin)
    assert ended.status == 204
    refused(await entry(new, clock, 5), 401, "signature_invalid")
    assert (await entry(third, clock, 6)).status == 200


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url("redis://127.0.0.1:6379/15")
    try:
        await client.ping()
    except (OSError, aioredis.ConnectionError) as exc:
        await client.aclose()
        service_missing("Redis", exc)
    yield client
    await client.aclose()


@pytest.mark.redis
async def test_redis_nonces_are_shared_and_expire(
    redis_client: aioredis.Redis, clock: FrozenClock
) -> None:
    prefix = f"test-nonce:{uuid.uuid4().hex}"
    one, other = RedisNonces(redis_client, prefix), RedisNonces(redis_client, prefix)
    uow: Any = None  # the Redis store does not use the unit of work
    assert await one.claim(uow, "np1", "nonce-0001", clock.now())
    assert not await other.claim(uow, "np1", "nonce-0001", clock.now())
    assert await other.claim(uow, "np2", "nonce-0001", clock.now())
    assert 0 < await redis_client.ttl(f"{prefix}:np1:nonce-0001") <= 600
