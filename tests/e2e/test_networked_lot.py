"""A third-party lot joins the platform end to end, played by sandbox/network_lot.py.

Register it, push a day of entries and exits out of order and twice, see it near the driver with
its count's age, a driver pays one of its stays in the mini-program and the lot's webhook hears
of it, the lot asks a plate's arrears at its exit and collects its own, and a silent lot is
flagged.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from core.bills import SHANGHAI
from core.clock import FrozenClock
from core.store.database import Database
from sandbox.network_lot import Answer, ThirdPartyLot
from sandbox.wechatpay.keys import SandboxKeys
from server.network import deliver_notices
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import app_with_builtin_sandbox, log_in_driver, sandbox_keys, street_stay

__all__ = ["sandbox_keys"]

LOT = "NET-HOSP"
SUB_MCHID = "1900000777"
NEAR = {"lat": 29.8712, "lng": 121.5502}
PLATES = ["浙B1N001", "浙B1N002", "浙B1N003", "浙B1N004", "浙B1N005", "浙B1N006"]


def registration(webhook_url: str) -> dict[str, Any]:
    """A hospital lot run by another vendor's system, with its own sub-merchant."""
    return {
        "code": LOT,
        "name": "第一医院停车场",
        "kind": "hospital",
        "district": "D-HAISHU",
        "operator_code": "OP-HOSP1",
        "operator_name": "第一医院后勤",
        "sub_mchid": SUB_MCHID,
        "address": "海曙区柳汀街59号",
        "lat": 29.8715,
        "lng": 121.5506,
        "berths": 300,
        "opening_hours": "00:00-24:00",
        "vendor": "某某停车云",
        "contact": "王工 13800000000",
        "tariff_summary": "首小时5元，之后每小时2元，每日封顶30元",
        "webhook_url": webhook_url,
    }


def day_of_sessions(start: datetime) -> list[tuple[str, dict[str, Any]]]:
    """Entries and exits of six cars; the sixth is still parked at the end."""
    messages: list[tuple[str, dict[str, Any]]] = []
    for n, plate in enumerate(PLATES):
        entered = start + timedelta(minutes=30 * n)
        session = f"ORD-{n:04d}"
        messages.append(
            ("entry", {"id": f"in-{n}", "session": session, "plate": plate, "at": entered})
        )
        if n < 5:
            left = entered + timedelta(hours=2)
            exit_ = {
                "id": f"out-{n}",
                "session": session,
                "plate": plate,
                "entered": entered,
                "left": left,
                "fee": 900,
                "paid": 900 if n < 3 else 0,
            }
            messages.append(("exit", exit_))
    return messages


async def push(lot: ThirdPartyLot, kind: str, m: dict[str, Any]) -> Answer:
    if kind == "entry":
        return await lot.entry(m["id"], m["session"], m["plate"], m["at"])
    return await lot.exit(
        m["id"], m["session"], m["plate"], m["entered"], m["left"], m["fee"], m["paid"]
    )


async def test_a_third_party_lot_joins_and_is_paid_through_the_platform(
    settings: Settings,
    clock: FrozenClock,
    database: Database,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    quiet = settings.model_copy(
        update={"network_webhook_poll_seconds": 0, "network_silence_check_seconds": 0}
    )
    client, sandbox = await app_with_builtin_sandbox(quiet, clock, sandbox_keys, aiohttp_client)
    admin = {"Authorization": f"Bearer {await staff_token(client, 'demo-admin')}"}

    # The lot's own system, with the webhook the platform calls.
    lot = ThirdPartyLot(
        client.session, str(client.make_url("")), "", "", now=lambda: clock.now().timestamp()
    )
    hook = TestServer(lot.webhook_app())
    await hook.start_server()
    try:
        joined = await client.post(
            "/ops/network/lots", json=registration(str(hook.make_url("/webhook"))), headers=admin
        )
        assert joined.status == 201, await joined.text()
        issued = await joined.json()
        lot.app_id, lot.key = issued["app_id"], issued["key"]

        # A day out of order (exits before their entries), and every message sent twice.
        messages = day_of_sessions(clock.now() - timedelta(hours=8))
        shuffled = random.Random(23).sample(messages, len(messages))
        first = [await push(lot, kind, m) for kind, m in shuffled]
        again = [await push(lot, kind, m) for kind, m in reversed(shuffled)]
        assert {a.status for a in first + again} == {200}, [a.body for a in first + again]
        assert {a.body["status"] for a in first} == {"accepted"}
        assert {a.body["status"] for a in again} == {"duplicate"}
        assert [a.body["stay_ref"] for a in reversed(again)] == [a.body["stay_ref"] for a in first]

        # The lot's own totals of the day sit beside what its pushes gave the platform.
        day = messages[0][1]["at"].astimezone(SHANGHAI).date()
        assert (await lot.summary("sum-1", day, 6, 5, 4500, 2700)).status == 200
        listed = await (await client.get("/ops/network/lots", headers=admin)).json()
        assert listed["lots"][0]["last_day"] == {
            "day": day.isoformat(),
            "entries": 6,
            "exits": 5,
            "fee_fen": 4500,
            "paid_fen": 2700,
            "counted_entries": 6,
            "counted_exits": 5,
        }

        # The unpaid exits are the plates' arrears; paid ones and the parked car are not.
        owed = {
            p: (await (await client.get(f"/mp/plates/{p}/stays")).json())["stays"] for p in PLATES
        }
        assert {p: [s["due_fen"] for s in stays] for p, stays in owed.items()} == {
            PLATES[0]: [],
            PLATES[1]: [],
            PLATES[2]: [],
            PLATES[3]: [900],
            PLATES[4]: [900],
            PLATES[5]: [],
        }

        # Near the driver like our own lots, its count marked with its age.
        counted = await lot.count("cnt-1", 300, 42, clock.now())
        assert counted.status == 200, counted.body
        clock.advance(timedelta(seconds=90))
        near = await (await client.get("/mp/spaces/near", params=NEAR)).json()
        [mine] = [p for p in near["places"] if p["code"] == LOT]
        assert (mine["free"], mine["networked"], mine["count_age_s"]) == (42, True, 90)
        assert mine["price_text"] == "首小时5元，之后每小时2元，每日封顶30元"
        ours = [p for p in near["places"] if p["code"] != LOT]
        assert ours and all(p["networked"] is False and p["count_age_s"] is None for p in ours)
        lots = (await (await client.get("/mp/availability")).json())["lots"]
        assert [(x["free"], x["count_age_s"]) for x in lots if x["code"] == LOT] == [(42, 90)]

        # A driver pays one of the lot's unpaid stays in the mini-program: the lot's sub-merchant.
        stay_ref = owed[PLATES[3]][0]["ref"]
        headers, openid = await log_in_driver(client, sandbox, "han-meimei")
        started = await client.post(
            f"/mp/stays/{stay_ref}/payments",
            json={"idempotency_key": "net-pay-01"},
            headers=headers,
        )
        assert started.status == 200, await started.text()
        order = await started.json()
        confirm = dict(order["request_payment"], openid=openid)
        async with client.session.post(
            f"{sandbox}/sandbox/wechatpay/request-payment", json=confirm
        ) as r:
            assert (await r.json())["notification"]["deliveries"] == [204]

        # The lot is told: the webhook refuses once, then the retry after the backoff lands.
        lot.refuse_webhooks = 1
        assert client.app is not None
        assert await deliver_notices(client.app) == 0
        assert await deliver_notices(client.app) == 0  # not due yet: backing off
        clock.advance(timedelta(seconds=6))
        assert await deliver_notices(client.app) == 1
        [told] = lot.webhooks
        assert (told["type"], told["session_id"], told["amount_fen"]) == (
            "payment.succeeded",
            "ORD-0003",
            900,
        )
        assert told["sub_mchid"] == SUB_MCHID
        out_trade_no = order["payment"]["out_trade_no"]
        ledger = await client.get(f"/ops/ledger/entries/{out_trade_no}", headers=admin)
        [entry] = (await ledger.json())["entries"]
        postings = {(p["account"], p["debit_fen"]) for p in entry["postings"]}
        assert (f"wechat_clearing:{SUB_MCHID}", 900) in postings  # never pooled
        paid = await lot.session_payments("ORD-0003")
        assert (paid.body["paid_online_fen"], paid.body["due_fen"]) == (900, 0), paid.body
        missed = await lot.notices()
        assert [n["event_id"] for n in missed.body["notices"]] == [told["event_id"]]

        # At its exit the lot asks a plate's arrears: a street stay it may only flag, and its own
        # unpaid stay it may collect (and does, in cash).
        street = await street_stay(database, plate=PLATES[4], fee_fen=600, exited_at=clock.now())
        asked = await lot.arrears(PLATES[4])
        assert asked.status == 200, asked.body
        by_ref = {s["stay_ref"]: s for s in asked.body["stays"]}
        assert asked.body["due_fen"] == 1500
        assert by_ref[street]["collectable"] is False
        [own] = [s for s in asked.body["stays"] if s["collectable"]]
        refused = await lot.paid_on_site("collect-street", 600, clock.now(), stay_ref=street)
        assert (refused.status, refused.body["code"]) == (409, "stay_not_collectable")
        assert refused.body["message_en"]
        took = await lot.paid_on_site("collect-own", 900, clock.now(), stay_ref=own["stay_ref"])
        assert took.status == 200, took.body
        assert (await lot.arrears(PLATES[4])).body["due_fen"] == 600

        # Silence: nothing for 16 minutes and the lot is flagged on the register; a push clears it.
        clock.advance(timedelta(minutes=16))
        check = await client.post("/ops/network/silence-check", headers=admin)
        assert (await check.json())["flagged"] == [LOT]
        register = await (await client.get("/ops/network/lots", headers=admin)).json()
        [row] = register["lots"]
        assert (row["silent"], row["sub_mchid"], row["free_spaces"]) == (True, SUB_MCHID, 42)
        await lot.fault("flt-1", "EXIT-1-CAM", "fault", clock.now())
        [row] = (await (await client.get("/ops/network/lots", headers=admin)).json())["lots"]
        assert (row["silent"], row["open_faults"]) == (False, 1)
    finally:
        await hook.close()
