"""WeChat Pay's vehicle parking service (停车服务) in the stand-in (合单: its own module).

Plates are told how they are authorised and how their deductions end through /sandbox/ routes;
deductions are accepted (ACCEPTED) and end SUCCESS or PAY_FAIL when completed, with the notify:
by the /sandbox/ route, or by themselves after the desk's (or the plate's) delay.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from aiohttp import web

from sandbox.wechatpay.notifications import Notification, describe
from sandbox.wechatpay.orders import Order, SandboxApiError, paid, wechat_time
from sandbox.wechatpay.parking_state import Entry, ParkingDesk
from sandbox.wechatpay.state import SANDBOX_KEY, PaySandbox, answer, read_json, spawn

SERVICE_STATES = ("NORMAL", "PAUSE", "OUT_SERVICE")
COLOURS = ("BLUE", "GREEN", "YELLOW", "BLACK", "WHITE", "LIMEGREEN")


def install(app: web.Application) -> None:
    """Add the parking service and its sandbox controls."""
    app.router.add_get("/v3/vehicle/parking/services/find", find_service)
    app.router.add_post("/v3/vehicle/parking/parkings", enter)
    app.router.add_post("/v3/vehicle/transactions/parking", deduct)
    app.router.add_get("/v3/vehicle/transactions/out-trade-no/{no}", query_deduction)
    app.router.add_post("/sandbox/wechatpay/parking/plates", set_plate)
    app.router.add_post("/sandbox/wechatpay/parking/deductions/{no}/complete", complete_deduction)
    app.router.add_post("/sandbox/wechatpay/parking/outage", set_outage)


def _desk(request: web.Request) -> tuple[PaySandbox, ParkingDesk]:
    sandbox = request.app[SANDBOX_KEY]
    return sandbox, sandbox.parking


def _service(request: web.Request) -> tuple[PaySandbox, ParkingDesk]:
    """The desk for a parking-service call, unless WeChat Pay is told to be down for it."""
    sandbox, desk = _desk(request)
    if desk.outage_calls > 0:
        desk.outage_calls -= 1
        raise SandboxApiError(500, "SYSTEM_ERROR", "系统错误，请稍后重试")
    return sandbox, desk


async def set_outage(request: web.Request) -> web.Response:
    """Sandbox only: the next `calls` parking-service calls (find, enter, deduct, query) fail."""
    _, desk = _desk(request)
    calls = (await read_json(request)).get("calls")
    if not isinstance(calls, int) or isinstance(calls, bool) or calls < 0:
        raise SandboxApiError(400, "PARAM_ERROR", "calls 必须为非负整数")
    desk.outage_calls = calls
    return web.json_response({"outage_calls": calls})


def required(data: dict[str, Any], *names: str) -> None:
    """PARAM_ERROR unless every named field is given."""
    for name in names:
        if data.get(name) in (None, ""):
            raise SandboxApiError(400, "PARAM_ERROR", f"缺少参数 {name}")


def sub_mchid_in(data: dict[str, Any] | Any) -> str:
    """The sub-merchant a body or query names (digits), or PARAM_ERROR."""
    value = str(data.get("sub_mchid", ""))
    if not value.isdigit():
        raise SandboxApiError(400, "PARAM_ERROR", "缺少 sub_mchid")
    return value


async def find_service(request: web.Request) -> web.Response:
    """GET .../services/find: the plate's service state for this user (查询车牌服务开通信息)."""
    sandbox, desk = _service(request)
    query = request.query  # aiohttp decodes the percent-encoded plate
    required(dict(query), "appid", "plate_number", "plate_color", "openid")
    sub_mchid_in(query)
    if query["plate_color"] not in COLOURS:
        raise SandboxApiError(400, "PARAM_ERROR", "plate_color 取值不正确")
    setup = desk.plate(query["plate_number"], query["plate_color"])
    state = setup.state if setup.openid in ("", query["openid"]) else "OUT_SERVICE"
    body: dict[str, Any] = {
        "plate_number": query["plate_number"],
        "plate_color": query["plate_color"],
        "openid": query["openid"],
        "service_state": state,
    }
    if setup.opened_at is not None and state != "OUT_SERVICE":
        body["service_open_time"] = wechat_time(setup.opened_at)
    return answer(sandbox, 200, body)


async def enter(request: web.Request) -> web.Response:
    """POST .../parkings: an entry; NORMAL when the plate can be deducted, else BLOCKED."""
    sandbox, desk = _service(request)
    data = await read_json(request)
    required(data, "out_parking_no", "plate_number", "plate_color", "start_time", "notify_url")
    required(data, "parking_name")
    if not isinstance(data.get("free_duration"), int) or data["free_duration"] < 0:
        raise SandboxApiError(400, "PARAM_ERROR", "free_duration 必须为非负整数（秒）")
    key = f"{sub_mchid_in(data)}:{data['out_parking_no']}"
    existing = desk.entries.get(key)
    if existing is not None:
        return answer(sandbox, 200, existing.view())
    setup = desk.plate(str(data["plate_number"]), str(data["plate_color"]))
    blocked = {"PAUSE": "PAUSE", "OUT_SERVICE": "OUT_SERVICE"}.get(setup.state)
    entry = Entry(
        id=f"{secrets.token_hex(10).upper()}",
        request=data,
        state="BLOCKED" if blocked else "NORMAL",
        block_reason=blocked,
    )
    desk.entries[key] = entry
    return answer(sandbox, 200, entry.view())


async def deduct(request: web.Request) -> web.Response:
    """POST .../transactions/parking: a deduction is accepted (ACCEPTED), never paid at once."""
    sandbox, desk = _service(request)
    data = await read_json(request)
    required(data, "appid", "description", "out_trade_no", "notify_url", "trade_scene")
    if data["trade_scene"] != "PARKING":
        raise SandboxApiError(400, "PARAM_ERROR", "trade_scene 仅支持 PARKING")
    info = data.get("parking_info") or {}
    required(info, "parking_id", "plate_number", "plate_color", "start_time", "end_time")
    required(info, "charging_duration", "device_id", "parking_name")
    sub_mchid = sub_mchid_in(data)
    entry = next((e for e in desk.entries.values() if e.id == info["parking_id"]), None)
    if entry is None or entry.request["sub_mchid"] != sub_mchid:
        raise SandboxApiError(400, "PARAM_ERROR", "parking_id 不存在")
    if entry.state != "NORMAL":
        raise SandboxApiError(400, "NO_AUTH", "该车牌未开通停车服务或已暂停")
    existing = desk.parking_orders.get(str(data["out_trade_no"]))
    if existing is not None:
        if existing.request != data:
            raise SandboxApiError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
        return answer(sandbox, 200, _deduction_view(existing))
    order = _parking_order(sandbox, data, entry, sub_mchid)
    desk.parking_orders[order.out_trade_no] = order
    sandbox.books.orders[order.out_trade_no] = order  # refunds find it like any order
    delay = desk.completes_after(
        desk.plate(entry.request["plate_number"], entry.request["plate_color"])
    )
    if delay is not None:
        spawn(sandbox, _complete_later(sandbox, order, delay))
    return answer(sandbox, 200, _deduction_view(order))


async def _complete_later(sandbox: PaySandbox, order: Order, delay: float) -> None:
    await asyncio.sleep(delay)
    if order.trade_state == "ACCEPTED":  # not completed by hand meanwhile
        await finish_deduction(sandbox, order, notify=True)


def _parking_order(
    sandbox: PaySandbox, data: dict[str, Any], entry: Entry, sub_mchid: str
) -> Order:
    total = data.get("amount", {}).get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise SandboxApiError(400, "PARAM_ERROR", "amount.total 必须为正整数（分）")
    setup = sandbox.parking.plate(entry.request["plate_number"], entry.request["plate_color"])
    return Order(
        sp_appid=str(data["appid"]),
        sp_mchid=sandbox.books.sp_mchid,
        sub_mchid=sub_mchid,
        out_trade_no=str(data["out_trade_no"]),
        description=str(data["description"]),
        notify_url=str(data["notify_url"]),
        total=total,
        payer={"openid": setup.openid},
        attach=str(data.get("attach", "")),
        created_at=sandbox.clock.now(),
        prepay_id="",
        request=data,
        trade_state="ACCEPTED",
        trade_type="PARKING",
    )


def _deduction_view(order: Order) -> dict[str, Any]:
    body = order.view()
    body["appid"] = body.pop("sp_appid")
    body["create_time"] = wechat_time(order.created_at)
    body["parking_info"] = order.request.get("parking_info", {})
    return body


async def query_deduction(request: web.Request) -> web.Response:
    """GET .../transactions/out-trade-no/{no}?sub_mchid=: the deduction's state."""
    sandbox, desk = _service(request)
    order = desk.parking_orders.get(request.match_info["no"])
    if order is None or order.sub_mchid != request.query.get("sub_mchid"):
        raise SandboxApiError(404, "ORDER_NOT_EXIST", "订单不存在")
    return answer(sandbox, 200, _deduction_view(order))


async def set_plate(request: web.Request) -> web.Response:
    """Sandbox only: a user opens, pauses or closes the service for a plate; how deductions end."""
    sandbox, desk = _desk(request)
    data = await read_json(request)
    required(data, "plate_number", "plate_color")
    setup = desk.plate(str(data["plate_number"]), str(data["plate_color"]))
    state = str(data.get("state", setup.state))
    if state not in SERVICE_STATES:
        raise SandboxApiError(400, "PARAM_ERROR", "state 取值不正确")
    if state != "OUT_SERVICE" and setup.opened_at is None:
        setup.opened_at = sandbox.clock.now()
    setup.state = state
    setup.openid = str(data.get("openid", setup.openid))
    setup.deduction = str(data.get("deduction", setup.deduction))
    if setup.deduction not in ("SUCCESS", "PAY_FAIL"):
        raise SandboxApiError(400, "PARAM_ERROR", "deduction 取值不正确")
    setup.auto_complete = bool(data.get("auto_complete", setup.auto_complete))
    if "delay_seconds" in data:
        delay = data["delay_seconds"]
        if delay is not None and (not isinstance(delay, int | float) or delay < 0):
            raise SandboxApiError(400, "PARAM_ERROR", "delay_seconds 必须为非负数")
        setup.delay_seconds = None if delay is None else float(delay)
    sent = [describe(n) for n in await _entries_follow(sandbox, desk, data, state)]
    return web.json_response(
        {
            "state": setup.state,
            "deduction": setup.deduction,
            "completes_after": desk.completes_after(setup),
            "notifications": sent,
        }
    )


async def _entries_follow(
    sandbox: PaySandbox, desk: ParkingDesk, plate: dict[str, Any], state: str
) -> list[Notification]:
    """The plate's open entries take the new state; each change is notified (停车入场状态变更)."""
    sent = []
    new_state = "NORMAL" if state == "NORMAL" else "BLOCKED"
    for entry in desk.entries.values():
        request = entry.request
        same = (request["plate_number"], request["plate_color"]) == (
            plate["plate_number"],
            plate["plate_color"],
        )
        if not same or entry.state == new_state:
            continue
        entry.state = new_state
        entry.block_reason = None if new_state == "NORMAL" else state
        content = {
            "sp_mchid": sandbox.books.sp_mchid,
            "sub_mchid": request["sub_mchid"],
            "parking_id": entry.id,
            "out_parking_no": request["out_parking_no"],
            "plate_number": request["plate_number"],
            "plate_color": request["plate_color"],
            "start_time": request["start_time"],
            "parking_name": request["parking_name"],
            "free_duration": request["free_duration"],
            "parking_state": new_state,
            "state_update_time": wechat_time(sandbox.clock.now()),
        }
        if entry.block_reason:
            content["blocked_state_description"] = entry.block_reason
        sent.append(
            await sandbox.outbox.send(
                str(request["notify_url"]),
                "VEHICLE.ENTRANCE_STATE_CHANGE",
                "停车入场状态变更",
                "parking",
                content,
            )
        )
    return sent


async def complete_deduction(request: web.Request) -> web.Response:
    """Sandbox only: the deduction ends as the plate is set up; the result is notified.

    `{"notify": false}` ends it without a notify (a lost notify the query must find).
    """
    sandbox, desk = _desk(request)
    order = desk.parking_orders.get(request.match_info["no"])
    if order is None:
        raise SandboxApiError(404, "ORDER_NOT_EXIST", "订单不存在")
    data = await read_json(request) if request.can_read_body else {}
    sent = await finish_deduction(sandbox, order, notify=bool(data.get("notify", True)))
    return web.json_response({"trade_state": order.trade_state, "notification": describe(sent)})


async def finish_deduction(
    sandbox: PaySandbox, order: Order, *, notify: bool
) -> Notification | None:
    """An accepted deduction ends as its plate is set up; the result is notified when asked."""
    if order.trade_state == "ACCEPTED":
        info = order.request["parking_info"]
        outcome = sandbox.parking.plate(info["plate_number"], info["plate_color"]).deduction
        if outcome == "SUCCESS":
            paid(order, sandbox.clock.now())
        else:
            order.trade_state = "PAY_FAIL"
    if not notify:
        return None
    event = "TRANSACTION.SUCCESS" if order.trade_state == "SUCCESS" else "TRANSACTION.FAIL"
    summary = "支付成功" if order.trade_state == "SUCCESS" else "支付失败"
    return await sandbox.outbox.send(
        order.notify_url, event, summary, "transaction", _deduction_view(order)
    )
