"""Staff manage gated lots over HTTP: rights, blocks, policies, review queue, merchant logins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from core.clock import FrozenClock
from core.store.activity import AuditRow, LedgerPostingRow
from core.store.lots import LanePassageRow, LotRightRow
from core.store.unit_of_work import UnitOfWork
from ops_api.commands import DEMO_PASSWORD
from tests.conftest import START
from tests.integration.test_lanes import read

Client = TestClient[Any, Any]
Factory = Callable[[], UnitOfWork]


async def login(client: Client, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    """Bearer headers of an account."""
    body = {"username": username, "password": password}
    async with client.post("/ops/login", json=body) as response:
        assert response.status == 200, await response.text()
        return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def call(
    client: Client,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    status: int = 200,
) -> Any:
    """One staff call with the status it must answer."""
    async with client.request(method, f"/ops{path}", json=body, headers=headers) as response:
        assert response.status == status, f"{method} {path}: {await response.text()}"
        return await response.json()


async def audit_count(uow_factory: Factory) -> int:
    async with uow_factory() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(AuditRow)) or 0)


def monthly(plate: str, lot: str = "LOT-HOSP", **extra: Any) -> dict[str, Any]:
    return {
        "lot": lot,
        "kind": "monthly",
        "holder": "王女士",
        "plates": [plate],
        "valid_from": START.isoformat(),
        "valid_until": (START + timedelta(days=30)).isoformat(),
        "reason": "窗口办理月租",
        **extra,
    }


async def test_rights_over_http_with_scope_roles_and_bad_input(
    client: Client, uow_factory: Factory
) -> None:
    cashier = await login(client, "demo-cashier")  # scoped to LOT-HOSP
    created = await call(client, "POST", "/lot-rights", cashier, monthly("浙B50001"), 201)
    assert (created["kind"], created["plates"], created["status"]) == (
        "monthly",
        ["浙B50001"],
        "active",
    )
    ref = created["ref"]
    audits = await audit_count(uow_factory)
    async with uow_factory() as uow:
        rights = int(await uow.session.scalar(select(func.count()).select_from(LotRightRow)) or 0)
    bad = [
        (monthly("浙B50002", lot="LOT-TIANYI"), 403, "该停车场不在您的管辖范围内"),
        (monthly("浙B50002", lot="LOT-NONE"), 404, "停车场不存在"),
        (monthly("浙B50001"), 409, f"车牌浙B50001在本停车场已有有效期重叠的同类权益（{ref}）"),
        (monthly("浙B50002", valid_until=START.isoformat()), 422, "有效期截止须晚于开始"),
        (monthly("浙B50002", windows=["8点-9点"]), 422, "时段格式应为 HH:MM-HH:MM，收到：8点-9点"),
        (
            monthly("浙B50002", kind="owned_space"),
            409,
            "本停车场已售车位0个，已登记0个，不能再登记1个",
        ),
        (monthly("浙B50002", kind="yearly"), 400, "请求参数有误：kind"),
        (monthly("ABC"), 400, "车牌号格式不正确"),
        (monthly("浙B50002", reason=""), 400, "请求参数有误：reason"),
    ]
    for body, status, message in bad:
        answer = await call(client, "POST", "/lot-rights", cashier, body, status)
        assert answer["message"] == message, body
    attendant = await login(client, "demo-attendant")
    answer = await call(client, "POST", "/lot-rights", attendant, monthly("浙B50002"), 403)
    assert answer == {"code": "forbidden", "message": "无权执行此操作"}
    assert await audit_count(uow_factory) == audits  # bad input changed nothing
    async with uow_factory() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(LotRightRow)) == rights

    body = {"add": ["浙B50003"], "reason": "家庭第二辆车"}
    changed = await call(client, "POST", f"/lot-rights/{ref}/plates", cashier, body)
    assert changed["plates"] == ["浙B50001", "浙B50003"]
    until = (START + timedelta(days=61)).isoformat()
    body = {"valid_until": until, "reason": "续费"}
    extended = await call(client, "POST", f"/lot-rights/{ref}/extend", cashier, body)
    assert extended["valid_until"].startswith("2027-01-26T00:00:00")
    listed = await call(client, "GET", "/lot-rights?plate=浙B50003", attendant)
    assert [item["ref"] for item in listed["items"]] == [ref]
    detail = await call(client, "GET", f"/lot-rights/{ref}", attendant)
    assert detail["right"]["ref"] == ref and detail["uses"] == []
    missing = await call(client, "GET", "/lot-rights/MP-NONE", attendant, status=404)
    assert missing == {"code": "right_not_found", "message": "权益不存在"}
    await call(client, "POST", f"/lot-rights/{ref}/cancel", cashier, {"reason": "退租"})
    again = await call(
        client, "POST", f"/lot-rights/{ref}/cancel", cashier, {"reason": "退租"}, 409
    )
    assert again["message"] == "该权益已取消，不能再修改"
    async with uow_factory() as uow:
        actions = await uow.session.scalars(
            select(AuditRow.action)
            .where(AuditRow.target == f"lot_right:{ref}")
            .order_by(AuditRow.id)
        )
        assert list(actions) == [
            "lot_right.create",
            "lot_right.plates",
            "lot_right.extend",
            "lot_right.cancel",
        ]


async def test_block_list_and_policies_over_http(client: Client, uow_factory: Factory) -> None:
    officer = await login(client, "demo-officer")  # district D-HAISHU: both demo lots
    block = await call(
        client,
        "POST",
        "/plate-blocks",
        officer,
        {"plate": "浙B60001", "lot": "LOT-TIANYI", "reason": "逃费三次"},
        201,
    )
    assert (block["lot"], block["active"], block["created_by"]) == (
        "LOT-TIANYI",
        True,
        "demo-officer",
    )
    body = {"plate": "浙B60001", "lot": "LOT-TIANYI", "reason": "再禁"}
    assert (await call(client, "POST", "/plate-blocks", officer, body, 409))[
        "message"
    ] == "该车牌已在禁入名单中"
    body = {"plate": "浙B60001", "reason": "全市"}
    answer = await call(client, "POST", "/plate-blocks", officer, body, 403)
    assert answer["message"] == "只有全市范围的账号可以在所有停车场禁入"
    cashier = await login(client, "demo-cashier")
    await call(client, "POST", "/plate-blocks", cashier, body, 403)  # no blocks_manage
    lifted = await call(
        client, "POST", f"/plate-blocks/{block['id']}/lift", officer, {"reason": "已补缴"}
    )
    assert (lifted["active"], lifted["lifted_by"]) == (False, "demo-officer")
    again = await call(
        client, "POST", f"/plate-blocks/{block['id']}/lift", officer, {"reason": "再解"}, 409
    )
    assert again["message"] == "该禁入记录已解除"
    why = {"reason": "无此记录"}
    answer = await call(client, "POST", "/plate-blocks/abc/lift", officer, why, 404)
    assert answer["message"] == "禁入记录不存在"
    listed = await call(client, "GET", "/plate-blocks?plate=浙B60001", officer)
    assert [(b["id"], b["active"]) for b in listed["items"]] == [(block["id"], False)]

    admin = await login(client, "demo-admin")
    policy = await call(client, "GET", "/lots/LOT-HOSP/policy", cashier)
    assert (policy["hospital"], policy["block_action"], policy["own_row"]) == (True, "flag", False)
    audits = await audit_count(uow_factory)
    refuse = {"block_action": "refuse", "reason": "试图拒绝"}
    answer = await call(client, "PATCH", "/lots/LOT-HOSP/policy", admin, refuse, 422)
    assert answer == {
        "code": "policy_invalid",
        "message": "医院停车场不能因禁入名单拒绝入场，只能标记",
    }
    answer = await call(
        client,
        "PATCH",
        "/lots/LOT-HOSP/policy",
        admin,
        {"sold_spaces": None, "reason": "清空"},
        422,
    )
    assert answer["message"] == "只有临时车位数和欠费门槛可以清空"
    tune = {"min_confidence": 10, "reason": "调整规则"}
    await call(client, "PATCH", "/lots/LOT-NONE/policy", admin, tune, 404)
    await call(
        client,
        "PATCH",
        "/lots/LOT-HOSP/policy",
        cashier,
        {"min_confidence": 10, "reason": "调整规则"},
        403,
    )
    assert await audit_count(uow_factory) == audits
    assert (await call(client, "GET", "/lots/LOT-HOSP/policy", cashier)) == policy
    rules: dict[str, Any] = {
        "arrears_threshold_fen": 20000,
        "sold_spaces": 20,
        "reason": "医院规则",
    }
    updated = await call(client, "PATCH", "/lots/LOT-HOSP/policy", admin, rules)
    assert (updated["own_row"], updated["sold_spaces"], updated["arrears_action"]) == (
        True,
        20,
        "flag",
    )


async def test_a_merchant_account_issues_only_its_own_validations(
    client: Client, uow_factory: Factory
) -> None:
    merchant = await login(client, "demo-merchant")  # M-TIANYI-CAFE
    me = await call(client, "GET", "/me", merchant)
    assert (me["role"], me["role_name"], me["merchant_code"]) == (
        "merchant",
        "商户",
        "M-TIANYI-CAFE",
    )
    issued = await call(
        client,
        "POST",
        "/merchants/M-TIANYI-CAFE/validations",
        merchant,
        {"kind": "minutes", "value": 60},
        201,
    )
    assert issued["token"]
    other = await call(
        client,
        "POST",
        "/merchants/M-HOSP-CLINIC/validations",
        merchant,
        {"kind": "minutes", "value": 60},
        403,
    )
    assert other == {"code": "other_merchant", "message": "只能操作本商户的优惠"}
    window = f"since={START.isoformat()}&until={(START + timedelta(days=1)).isoformat()}".replace(
        "+", "%2B"
    )
    own = await call(client, "GET", f"/merchants/M-TIANYI-CAFE/usage?{window}", merchant)
    assert own["merchant"] == "M-TIANYI-CAFE"
    await call(client, "GET", f"/merchants/M-HOSP-CLINIC/usage?{window}", merchant, status=403)
    await call(client, "GET", "/lanes/queue", merchant, status=403)
    await call(client, "GET", "/lot-rights", merchant, status=403)
    # Finance still reads any merchant's statement; a cashier issues none.
    await call(
        client,
        "GET",
        f"/merchants/M-HOSP-CLINIC/usage?{window}",
        await login(client, "demo-finance"),
    )
    cashier = await login(client, "demo-cashier")
    await call(
        client,
        "POST",
        "/merchants/M-TIANYI-CAFE/validations",
        cashier,
        {"kind": "minutes", "value": 60},
        403,
    )

    admin = await login(client, "demo-admin")
    new = {
        "username": "clinic.desk",
        "password": "clinic-password-1",
        "role": "merchant",
        "merchant_code": "M-HOSP-CLINIC",
        "reason": "门诊部开通验证",
    }
    created = await call(client, "POST", "/staff", admin, new, 201)
    assert created["merchant_code"] == "M-HOSP-CLINIC"
    missing = new | {"username": "x.desk", "merchant_code": None}
    assert (await call(client, "POST", "/staff", admin, missing, 400))[
        "message"
    ] == "商户账号须指定商户编码"
    unknown = new | {"username": "y.desk", "merchant_code": "M-NONE"}
    assert (await call(client, "POST", "/staff", admin, unknown, 404))["message"] == "商户不存在"
    wrong = new | {"username": "z.desk", "role": "cashier"}
    assert (await call(client, "POST", "/staff", admin, wrong, 400))[
        "message"
    ] == "只有商户账号可以指定商户编码"
    clinic = await login(client, "clinic.desk", "clinic-password-1")
    await call(
        client,
        "POST",
        "/merchants/M-HOSP-CLINIC/validations",
        clinic,
        {"kind": "amount", "value": 500},
        201,
    )
    await call(
        client,
        "POST",
        "/merchants/M-TIANYI-CAFE/validations",
        clinic,
        {"kind": "amount", "value": 500},
        403,
    )


async def test_scenario_pass_block_and_a_missed_exit_priced_by_staff(
    client: Client, clock: FrozenClock, uow_factory: Factory
) -> None:
    cashier = await login(client, "demo-cashier")
    await call(client, "POST", "/lot-rights", cashier, monthly("浙B70001"), 201)
    entry = await read(client, clock, "LOT-HOSP", "E1", "浙B70001")
    assert (entry["action"], entry["reason"]) == ("open", "entry_monthly")

    officer = await login(client, "demo-officer")
    for lot in ("LOT-TIANYI", "LOT-HOSP"):
        body = {"plate": "浙B70002", "lot": lot, "reason": "多次逃费"}
        await call(client, "POST", "/plate-blocks", officer, body, 201)
    refused = await read(client, clock, "LOT-TIANYI", "E1", "浙B70002")
    assert (refused["action"], refused["display"]) == ("refuse", "浙B70002 禁止入场")
    flagged = await read(client, clock, "LOT-HOSP", "E1", "浙B70002")  # a hospital only flags
    assert flagged["action"] == "open"
    async with uow_factory() as uow:
        passage = await uow.lots.passage_by_ref(flagged["passage_ref"])
        assert passage is not None and "blocked" in passage.details["flags"]

    first = await read(client, clock, "LOT-HOSP", "E1", "浙B70003", image="img:e1-first")
    second = await read(client, clock, "LOT-HOSP", "E1", "浙B70003", after=timedelta(hours=3))
    assert second["action"] == "open"
    cashier = await login(client, "demo-cashier")
    queue = await call(client, "GET", "/review/lot-stays?lot=LOT-HOSP", cashier)
    [item] = [i for i in queue["items"] if i["plate"] == "浙B70003"]
    assert (item["stay_ref"], item["why"], item["later_stay_ref"], item["entry_image_ref"]) == (
        first["stay_ref"],
        "missed_exit",
        second["stay_ref"],
        "img:e1-first",
    )
    ref = first["stay_ref"]
    late = {"exited_at": (clock.now() + timedelta(minutes=1)).isoformat(), "reason": "监控"}
    answer = await call(client, "POST", f"/review/lot-stays/{ref}/close", cashier, late, 422)
    assert answer["message"] == "离场时间不能晚于当前时间"
    viewer = await login(client, "demo-viewer")
    close = {
        "exited_at": (clock.now() - timedelta(hours=1)).isoformat(),
        "reason": "监控显示两小时后离场",
    }
    await call(client, "POST", f"/review/lot-stays/{ref}/close", viewer, close, 403)
    closed = await call(client, "POST", f"/review/lot-stays/{ref}/close", cashier, close)
    assert (closed["status"], closed["fee_fen"], closed["due_fen"]) == ("closed", 600, 600)
    again = await call(client, "POST", f"/review/lot-stays/{ref}/close", cashier, close, 409)
    assert again == {"code": "stay_not_in_review", "message": "该停车记录不在待复核状态"}
    await call(client, "POST", "/review/lot-stays/nope/dismiss", cashier, {"reason": "重复"}, 404)
    queue = await call(client, "GET", "/review/lot-stays", cashier)
    assert ref not in [i["stay_ref"] for i in queue["items"]]
    async with uow_factory() as uow:
        owed = await uow.ledger.balance_fen("driver_receivable:浙B70003")
        debits = await uow.session.scalar(select(func.sum(LedgerPostingRow.debit_fen)))
        credits = await uow.session.scalar(select(func.sum(LedgerPostingRow.credit_fen)))
        link = await uow.session.scalar(select(AuditRow).where(AuditRow.action == "lot_stay.close"))
        held = await uow.session.scalar(
            select(func.count()).select_from(LanePassageRow).where(LanePassageRow.status == "held")
        )
    assert owed == 600 and debits == credits
    assert link is not None and (link.actor, link.target) == ("demo-cashier", f"stay:{ref}")
    assert link.details["later_stay"] == second["stay_ref"]
    assert held == 0
