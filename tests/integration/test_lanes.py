"""Gated lots over HTTP, both databases: entry, exit, passes, anti-passback, full lot, misreads."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from core.clock import FrozenClock
from core.services.lanes import settle_exit_payment
from core.store.lots import AttendantTaskRow, LotPolicyRow, LotRightRow, PlateBlockRow
from core.store.unit_of_work import UnitOfWork
from tests.conftest import START
from tests.wechat_sandbox import bind_plate

Client = TestClient[Any, Any]
FIXTURES = Path(__file__).parents[1] / "fixtures" / "devices"
_counter = iter(range(1, 1_000_000))


async def read(
    client: Client,
    clock: FrozenClock,
    lot: str,
    lane: str,
    plate: str | None,
    *,
    after: timedelta = timedelta(0),
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Send one own-JSON read at `lot`/`lane`, `after` the clock's current time."""
    clock.advance(after)
    body = {
        "event_id": event_id or f"t-{next(_counter)}",
        "device": f"{lot}-{lane}-anpr_camera",
        "device_time": clock.now().isoformat(),
        **({"plate": plate} if plate else {}),
        **extra,
    }
    async with client.post("/devices/lanes/reads", json=body) as response:
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def test_a_temporary_car_enters_pays_at_exit_after_a_misread_and_leaves(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    entry = await read(client, clock, "LOT-HOSP", "E1", "浙B12345", event_id="in-1")
    assert (entry["action"], entry["gate"], entry["reason"]) == ("open", "open", "entry_temporary")
    again = await read(client, clock, "LOT-HOSP", "E1", "浙B12345", event_id="in-1")
    assert again["outcome"] == "duplicate"
    assert (again["passage_ref"], again["stay_ref"]) == (entry["passage_ref"], entry["stay_ref"])
    out = await read(
        client, clock, "LOT-HOSP", "X1", "浙B1234S", after=timedelta(hours=2), event_id="out-1"
    )
    assert (out["action"], out["gate"], out["fee_fen"]) == ("pay", "closed", 600)
    assert out["stay_ref"] == entry["stay_ref"]
    assert out["pay_url"].endswith(entry["stay_ref"])
    assert out["display"] == "浙B12345 请缴费6.00元"  # the plate of the matched entry
    async with uow_factory() as uow:
        entries = await uow.ledger.entries_for(entry["stay_ref"])
        assert [(e.kind, [p.debit_fen for p in ps]) for e, ps in entries] == [
            ("stay_charged", [600, 0])
        ]
        commands = await settle_exit_payment(uow, clock, entry["stay_ref"], 600, "wechat_jsapi")
        await uow.commit()
    assert [c.kind.value for c in commands] == ["open_gate", "display", "speak"]
    assert commands[0].lane == "LOT-HOSP/X1"
    async with uow_factory() as uow:
        stay = await uow.stays.by_ref(entry["stay_ref"])
        assert stay is not None and (stay.status, stay.fee_fen) == ("closed", 600)
        passage = await uow.lots.passage_by_ref(out["passage_ref"])
        assert passage is not None and passage.status == "done"


async def test_a_monthly_pass_enters_free_and_anti_passback_holds_a_second_entry(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    first = await read(client, clock, "LOT-TIANYI", "E1", "浙B88888")
    assert (first["action"], first["reason"]) == ("open", "entry_monthly")
    second = await read(client, clock, "LOT-TIANYI", "E1", "浙B88888", after=timedelta(minutes=5))
    assert (second["action"], second["reason"]) == ("hold", "anti_passback_entry")
    async with uow_factory() as uow:
        tasks = await uow.lots.open_tasks()
        assert [(t.reason, p.ref if p else None) for t, p in tasks] == [
            ("anti_passback", second["passage_ref"])
        ]
    out = await read(client, clock, "LOT-TIANYI", "X1", "浙B88888", after=timedelta(hours=5))
    assert (out["action"], out["fee_fen"], out["reason"]) == ("open", 0, "exit_pass")
    again = await read(client, clock, "LOT-TIANYI", "X1", "浙B88888", after=timedelta(minutes=1))
    assert (again["action"], again["reason"]) == ("hold", "anti_passback_exit")


async def test_stored_value_pays_at_exit_and_the_card_balance_falls(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    await read(client, clock, "LOT-TIANYI", "E1", "浙B77777")
    out = await read(client, clock, "LOT-TIANYI", "X1", "浙B77777", after=timedelta(hours=2))
    assert (out["action"], out["fee_fen"], out["reason"]) == ("open", 0, "exit_stored_value")
    async with uow_factory() as uow:
        card = await uow.lots.right_by_ref("SV-TIANYI-001")
        assert card is not None and card.balance_fen == 10000 - 600
        assert await uow.ledger.balance_fen("driver_receivable:浙B77777") == 0
        assert await uow.ledger.balance_fen("stored_value:SV-TIANYI-001") == 600


async def test_a_full_temporary_share_refuses_temporary_cars_but_not_pass_holders(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    async with uow_factory() as uow:
        lot = await uow.city.lot_by_code("LOT-HOSP")
        assert lot is not None
        uow.lots.add(LotPolicyRow(lot_id=lot.id, temporary_capacity=1))
        await uow.commit()
    assert (await read(client, clock, "LOT-HOSP", "E1", "浙A10001"))["action"] == "open"
    refused = await read(client, clock, "LOT-HOSP", "E1", "浙A10002")
    assert (refused["action"], refused["reason"], refused["display"]) == (
        "refuse",
        "lot_full",
        "车位已满，请勿入场",
    )
    special = await read(client, clock, "LOT-HOSP", "E1", "浙B11111")
    assert (special["action"], special["reason"]) == ("open", "entry_special")


async def test_a_blocked_plate_is_refused_at_a_mall_but_only_flagged_at_a_hospital(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    async with uow_factory() as uow:
        uow.lots.add(
            PlateBlockRow(
                plate="浙A99999", reason="多次逃费", created_by="demo-admin", created_at=clock.now()
            )
        )
        await uow.commit()
    mall = await read(client, clock, "LOT-TIANYI", "E1", "浙A99999")
    assert (mall["action"], mall["reason"]) == ("refuse", "blocked")
    hospital = await read(client, clock, "LOT-HOSP", "E1", "浙A99999")
    assert hospital["action"] == "open"
    async with uow_factory() as uow:
        passage = await uow.lots.passage_by_ref(hospital["passage_ref"])
        assert passage is not None and passage.details["flags"] == ["blocked"]


async def test_two_candidates_never_get_chosen_silently(client: Client, clock: FrozenClock) -> None:
    a = await read(client, clock, "LOT-TIANYI", "E1", "浙B12340")
    b = await read(client, clock, "LOT-TIANYI", "E1", "浙B1234Q")
    assert a["action"] == b["action"] == "open"
    out = await read(client, clock, "LOT-TIANYI", "X1", "浙B1234D", after=timedelta(hours=1))
    assert (out["action"], out["reason"], out["stay_ref"]) == ("hold", "ambiguous", None)
    exact = await read(client, clock, "LOT-TIANYI", "X1", "浙B12340", after=timedelta(minutes=1))
    assert (exact["action"], exact["stay_ref"]) == ("pay", a["stay_ref"])


async def test_an_exit_without_entry_and_a_stale_stay_go_to_the_attendant(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    nobody = await read(client, clock, "LOT-HOSP", "X1", "浙C55555")
    assert (nobody["action"], nobody["reason"]) == ("hold", "no_entry")
    clock.set(START - timedelta(days=40))
    await read(client, clock, "LOT-HOSP", "E1", "浙C66666")
    clock.set(START + timedelta(minutes=1))
    stale = await read(client, clock, "LOT-HOSP", "X1", "浙C66666")
    assert (stale["action"], stale["reason"]) == ("hold", "stale_stay")
    async with uow_factory() as uow:
        reasons = sorted(t.reason for t, _ in await uow.lots.open_tasks())
    assert reasons == ["no_match", "stale_stay"]


async def test_a_shared_space_covers_one_car_at_a_time(client: Client, clock: FrozenClock) -> None:
    first = await read(client, clock, "LOT-TIANYI", "E1", "浙B5N111")
    second = await read(client, clock, "LOT-TIANYI", "E1", "浙B5N222", after=timedelta(minutes=10))
    assert first["reason"] == second["reason"] == "entry_monthly"
    out2 = await read(client, clock, "LOT-TIANYI", "X1", "浙B5N222", after=timedelta(hours=2))
    assert (out2["action"], out2["fee_fen"]) == ("pay", 600)
    out1 = await read(client, clock, "LOT-TIANYI", "X1", "浙B5N111", after=timedelta(minutes=1))
    assert (out1["action"], out1["fee_fen"]) == ("open", 0)


async def test_vzenith_http_push_gets_its_reply_and_a_resend_changes_nothing(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    push = json.loads((FIXTURES / "vzenith" / "http_plate_entry.json").read_text("utf-8"))
    url = "/devices/lanes/vendors/vzenith/LOT-TIANYI-E1-anpr_camera"
    async with client.post(url, json=push) as response:
        assert response.status == 200
        first = await response.json()
    reply = first["Response_AlarmInfoPlate"]
    assert (reply["info"], reply["plateid"], reply["is_pay"]) == ("ok", 21085, "true")
    async with client.post(url, json=push) as response:
        assert (await response.json()) == first
    async with uow_factory() as uow:
        lot = await uow.city.lot_by_code("LOT-TIANYI")
        assert lot is not None
        stays = await uow.lots.open_for_plate(lot.id, "浙B12345")
        assert len(stays) == 1


async def test_a_gate_fault_and_an_intercom_call_enter_the_queue_once(
    client: Client, uow_factory: Callable[[], UnitOfWork]
) -> None:
    for name, path in (("gate_fault", "gates"), ("intercom_call", "intercom")):
        body = json.loads((FIXTURES / "lane_json" / f"{name}.json").read_text("utf-8"))
        for expected in ("applied", "duplicate"):
            async with client.post(f"/devices/lanes/{path}", json=body) as response:
                assert (await response.json())["outcome"] == expected
    async with uow_factory() as uow:
        rows = await uow.session.scalars(select(AttendantTaskRow.reason))
        assert sorted(rows) == ["device_fault", "intercom"]


async def test_an_unknown_device_is_a_404_and_changes_nothing(client: Client) -> None:
    body = {"event_id": "x", "device": "NOPE", "device_time": START.isoformat(), "plate": "浙B1"}
    async with client.post("/devices/lanes/reads", json=body) as response:
        assert response.status == 400  # the plate is malformed first
    body["plate"] = "浙B12345"
    async with client.post("/devices/lanes/reads", json=body) as response:
        assert (response.status, (await response.json())["code"]) == (404, "unknown_lane_device")


async def test_demo_rights_are_loaded(uow_factory: Callable[[], UnitOfWork]) -> None:
    async with uow_factory() as uow:
        refs = sorted(await uow.session.scalars(select(LotRightRow.ref)))
    assert "MP-TIANYI-001" in refs and "SV-TIANYI-001" in refs


async def test_a_verified_binder_is_told_when_their_plate_enters_a_lot(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    from core.store.devices import NotificationRow

    async with uow_factory() as uow:
        owner_id, _ = await bind_plate(uow, clock, "浙B24680")
    entry = await read(client, clock, "LOT-TIANYI", "E1", "浙B24680")
    assert entry["action"] == "open"
    async with uow_factory() as uow:
        [notice] = await uow.session.scalars(select(NotificationRow))
        assert (notice.driver_id, notice.kind, notice.reference) == (
            owner_id,
            "stay_opened",
            entry["stay_ref"],
        )
        lot = await uow.city.lot_by_code("LOT-TIANYI")
        assert lot is not None and lot.name  # the name the lane read remembered with its lock
        assert (notice.body["plate"], notice.body["place"]) == ("浙B24680", lot.name)
