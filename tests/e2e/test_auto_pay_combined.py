"""One payment (合单) over a plate's stays of the demo city's three operators, with a failing
sub-order; a combined order left unpaid closed by the sweep; a hospital exit taking the plate's
city arrears in the same payment; all through the app's HTTP and the built-in sandbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from core.lanes import CommandKind, RecordingPublisher
from core.services import combine_pay
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from sandbox.wechatpay.keys import SandboxKeys
from server.lane_publishing import LANE_PUBLISHER_KEY
from server.resources import DATABASE_KEY
from server.wechat import WECHAT_SERVICES_KEY
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import (
    PLATE,
    balance,
    log_in_driver,
    quiet_app,
    sandbox_keys,
    street_stay,
    verified_driver_of,
)

__all__ = ["sandbox_keys"]

SUB_MCHIDS = {"OP-CITY": "1900000101", "OP-TIANYI": "1900000102", "OP-JIANGBEI": "1900000103"}
Client = TestClient[Any, Any]


async def lane_read(client: Client, clock: FrozenClock, camera: str, **extra: Any) -> Any:
    body = {
        "event_id": f"{camera}-{clock.now().timestamp():.0f}",
        "device": f"{camera}-anpr_camera",
        "device_time": clock.now().isoformat(),
        "plate": PLATE,
        **extra,
    }
    response = await client.post("/devices/lanes/reads", json=body)
    assert response.status == 200, await response.text()
    return await response.json()


async def owed_city_wide(client: Client, database: Database, clock: FrozenClock) -> list[str]:
    """A street stay of OP-CITY (HS1), one of OP-JIANGBEI (JB3) and a mall stay of OP-TIANYI
    whose car left while the lane was offline (pay later): all three owed."""
    refs = [
        await street_stay(
            database,
            fee_fen=500,
            exited_at=clock.now() - timedelta(hours=30),
            berth_code="HS1-003",
            charged=True,
        ),
        await street_stay(
            database,
            fee_fen=700,
            exited_at=clock.now() - timedelta(hours=20),
            berth_code="JB3-004",
            charged=True,
        ),
    ]
    await lane_read(client, clock, "LOT-TIANYI-E1")
    clock.advance(timedelta(hours=2))
    decision = {"action": "open", "reason": "offline_unpaid", "display": "离线放行"}
    await lane_read(client, clock, "LOT-TIANYI-X1", offline=True, offline_decision=decision)
    async with UnitOfWork(database.sessions) as uow:
        owed = await uow.stays.unpaid_for_plate(PLATE)
    mall = [row.ref for row, _ in owed if row.lot_id is not None]
    assert len(mall) == 1 and len(owed) == 3
    return [*refs, *mall]


async def driver(client: Client, sandbox: str, database: Database, clock: FrozenClock) -> Any:
    """A signed-in driver whose binding of PLATE is verified; their auth headers and openid."""
    headers, openid = await log_in_driver(client, sandbox, "li-lei")
    await verified_driver_of(database, clock, openid, PLATE)
    return headers, openid


async def pay(
    client: Client,
    sandbox: str,
    headers: dict[str, str],
    openid: str,
    *,
    stay_refs: list[str] | None = None,
    fail: tuple[str, ...] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Open a combined order and let the sandbox payer confirm it (`fail`: stays that fail)."""
    started = await client.post(
        f"/mp/me/plates/{quote(PLATE)}/arrears/payments",
        json={"stay_refs": stay_refs} if stay_refs else {},
        headers=headers,
    )
    assert started.status == 200, await started.text()
    order: dict[str, Any] = await started.json()
    failing = [p["out_trade_no"] for p in order["parts"] if p["stay_ref"] in fail]
    body = dict(order["request_payment"], openid=openid, fail=failing)
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/combine/request-payment", json=body
    ) as response:
        assert response.status == 200, await response.text()
        paid: dict[str, Any] = await response.json()
    return order, paid


async def test_one_payment_over_three_operators_with_one_sub_order_failing(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    client, sandbox = await quiet_app(settings, clock, sandbox_keys, aiohttp_client)
    assert client.app is not None
    database = client.app[DATABASE_KEY]
    headers, openid = await driver(client, sandbox, database, clock)
    street_city, street_jiangbei, mall = await owed_city_wide(client, database, clock)
    owed_before = await balance(database, f"driver_receivable:{PLATE}")

    order, paid = await pay(client, sandbox, headers, openid, fail=(street_jiangbei,))
    parts = {p["stay_ref"]: p for p in order["parts"]}
    assert set(parts) == {street_city, street_jiangbei, mall}
    # Each sub-order to its own operator's sub-merchant, never pooled.
    async with UnitOfWork(database.sessions) as uow:
        stays = {ref: await uow.stays.by_ref(ref) for ref in parts}
        operators = {
            ref: (await uow.city.operator(s.operator_id)).code for ref, s in stays.items() if s
        }
        sub_mchids = {ref: (await uow.payments.get(p["out_trade_no"])) for ref, p in parts.items()}
    assert {ref: p.sub_mchid for ref, p in sub_mchids.items() if p} == {
        ref: SUB_MCHIDS[operators[ref]] for ref in parts
    }
    assert set(operators.values()) == set(SUB_MCHIDS)
    assert paid["sub_orders"][parts[street_jiangbei]["out_trade_no"]] == "PAYERROR"
    assert paid["notification"]["deliveries"] == [204]

    # Every stay's state is true: two paid, the failed one owed and its payment failed.
    async with UnitOfWork(database.sessions) as uow:
        owed = {row.ref: due for row, due in await uow.stays.unpaid_for_plate(PLATE)}
        settled = {ref: await uow.payments.settled_for_stay(ref) for ref in parts}
        failed = await uow.payments.get(parts[street_jiangbei]["out_trade_no"])
        mall_stay = stays[mall]
        assert mall_stay is not None
        mall_details = await uow.lots.lot_stay(mall_stay.id)
    assert owed == {street_jiangbei: 700}
    assert settled[street_jiangbei] is None and failed is not None and failed.status == "failed"
    assert settled[street_city] is not None and settled[mall] is not None
    assert mall_details is not None and mall_details.paid_fen == parts[mall]["amount_fen"]
    assert await balance(database, f"driver_receivable:{PLATE}") == 700
    assert await balance(database, "wechat_clearing:1900000101") == 500
    assert await balance(database, "wechat_clearing:1900000102") == parts[mall]["amount_fen"]
    assert await balance(database, "wechat_clearing:1900000103") == 0
    assert owed_before == 1200 + parts[mall]["amount_fen"]

    # The driver pays what is left; nothing is owed after.
    again, _ = await pay(client, sandbox, headers, openid)
    assert [p["stay_ref"] for p in again["parts"]] == [street_jiangbei]
    assert await balance(database, f"driver_receivable:{PLATE}") == 0
    assert await balance(database, "wechat_clearing:1900000103") == 700


async def test_a_combined_order_left_unpaid_is_closed_by_the_sweep_once(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    client, sandbox = await quiet_app(settings, clock, sandbox_keys, aiohttp_client)
    assert client.app is not None
    database = client.app[DATABASE_KEY]
    ports = client.app[WECHAT_SERVICES_KEY].auto_pay_ports

    def uows() -> UnitOfWork:
        return UnitOfWork(database.sessions)

    headers, openid = await driver(client, sandbox, database, clock)
    refs = await owed_city_wide(client, database, clock)
    started = await client.post(
        f"/mp/me/plates/{quote(PLATE)}/arrears/payments", json={}, headers=headers
    )
    order = await started.json()
    assert (
        await combine_pay.close_stale_combined(uows, clock, ports)
    ).closed == 0  # not expired yet

    clock.advance(timedelta(minutes=ports.setup.order_minutes + 6))
    assert (await combine_pay.close_stale_combined(uows, clock, ports)).closed == 1
    assert (await combine_pay.close_stale_combined(uows, clock, ports)).closed == 0  # once
    async with uows() as uow:
        statuses = [(await uow.payments.get(p["out_trade_no"])) for p in order["parts"]]
        owed = {row.ref for row, _ in await uow.stays.unpaid_for_plate(PLATE)}
    assert [p.status for p in statuses if p] == ["closed"] * 3
    assert owed == set(refs)  # still owed, and payable again
    report = await ports.parking.combine_query(order["combine_out_trade_no"])
    assert {s.trade_state.value for s in report.sub_orders} == {"CLOSED"}
    # The payer's late confirmation pays nothing of a closed order.
    body = dict(order["request_payment"], openid=openid, fail=[])
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/combine/request-payment", json=body
    ) as response:
        late = await response.json()
    assert set(late["sub_orders"].values()) == {"CLOSED"}
    again, _ = await pay(client, sandbox, headers, openid)
    assert {p["stay_ref"] for p in again["parts"]} == set(refs)
    assert await balance(database, f"driver_receivable:{PLATE}") == 0


async def street_arrears(database: Database, clock: FrozenClock) -> list[str]:
    """Two unpaid street stays of PLATE: OP-CITY's HS1 and OP-JIANGBEI's JB3 (1,200 fen)."""
    return [
        await street_stay(
            database,
            fee_fen=fee,
            exited_at=clock.now() - timedelta(days=days),
            berth_code=berth,
            charged=True,
        )
        for berth, fee, days in (("HS1-007", 500, 3), ("JB3-009", 700, 2))
    ]


async def test_a_hospital_exit_shows_the_city_arrears_and_takes_them_in_one_payment(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    publisher = RecordingPublisher()
    client, sandbox = await quiet_app(
        settings,
        clock,
        sandbox_keys,
        aiohttp_client,
        before_start=lambda app: app.__setitem__(LANE_PUBLISHER_KEY, publisher),
    )
    assert client.app is not None
    database = client.app[DATABASE_KEY]
    arrears = await street_arrears(database, clock)
    entered = await lane_read(client, clock, "LOT-HOSP-E1")
    assert entered["gate"] == "open"  # a hospital never refuses: arrears only flag the entry
    clock.advance(timedelta(hours=2))
    leaving = await lane_read(client, clock, "LOT-HOSP-X1")
    assert (leaving["gate"], leaving["fee_fen"]) == ("closed", 600)
    assert leaving["display"] == f"{PLATE} 请缴费6.00元 另有欠费12.00元 请扫码一并缴清"
    stay_ref = leaving["stay_ref"]

    # Someone at the exit (not verified for the plate) pays it all at once.
    headers, openid = await log_in_driver(client, sandbox, "han-meimei")
    started = await client.post(f"/mp/stays/{stay_ref}/payments/with-arrears", headers=headers)
    assert started.status == 200, await started.text()
    order = await started.json()
    assert order["amount_fen"] == 600 + 1200
    assert {p["stay_ref"] for p in order["parts"]} == {stay_ref, *arrears}
    publisher.sent.clear()
    body = dict(order["request_payment"], openid=openid, fail=[])
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/combine/request-payment", json=body
    ) as response:
        assert (await response.json())["notification"]["deliveries"] == [204]

    # The exit's sub-order opened the gate; each sub-order went to its stay's own sub-merchant.
    opened = [c.lane for c in publisher.sent if c.kind is CommandKind.OPEN_GATE]
    assert opened == ["LOT-HOSP/X1"]
    async with UnitOfWork(database.sessions) as uow:
        paid = [await uow.payments.get(p["out_trade_no"]) for p in order["parts"]]
        owed = await uow.stays.unpaid_for_plate(PLATE)
    assert {p.stay_ref: (p.sub_mchid, p.status) for p in paid if p} == {
        stay_ref: ("1900000101", "paid"),
        arrears[0]: ("1900000101", "paid"),
        arrears[1]: ("1900000103", "paid"),
    }
    assert owed == []
    assert await balance(database, f"driver_receivable:{PLATE}") == 0
    assert await balance(database, "wechat_clearing:1900000101") == 1100
    assert await balance(database, "wechat_clearing:1900000103") == 700


async def test_a_lot_set_not_to_collect_shows_only_its_own_fee(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    client, sandbox = await quiet_app(settings, clock, sandbox_keys, aiohttp_client)
    assert client.app is not None
    admin = {"Authorization": f"Bearer {await staff_token(client, 'demo-admin')}"}
    shown = await client.get("/ops/lots/LOT-HOSP/policy", headers=admin)
    assert (await shown.json())["collect_arrears_at_exit"] is True  # a hospital's default
    change = {"collect_arrears_at_exit": False, "reason": "出口只收本次停车费"}
    changed = await client.patch("/ops/lots/LOT-HOSP/policy", json=change, headers=admin)
    assert changed.status == 200, await changed.text()
    await street_arrears(client.app[DATABASE_KEY], clock)
    await lane_read(client, clock, "LOT-HOSP-E1")
    clock.advance(timedelta(hours=2))
    leaving = await lane_read(client, clock, "LOT-HOSP-X1")
    assert leaving["display"] == f"{PLATE} 请缴费6.00元"
    headers, _ = await log_in_driver(client, sandbox, "han-meimei")
    refused = await client.post(
        f"/mp/stays/{leaving['stay_ref']}/payments/with-arrears", headers=headers
    )
    assert refused.status == 400
    assert (await refused.json())["code"] == "no_arrears_to_pay"
