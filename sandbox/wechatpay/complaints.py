"""WeChat Pay 消费者投诉 2.0 stand-in: a payer complains about an order; the merchant lists,
reads, reads the history, responds and completes; a COMPLAINT.* notification announces it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.wechatpay.orders import SandboxApiError, wechat_time
from sandbox.wechatpay.state import SANDBOX_KEY, answer, read_json


@dataclass
class Complaint:
    """One complaint as WeChat Pay keeps it."""

    complaint_id: str
    sub_mchid: str
    out_trade_no: str
    transaction_id: str
    amount: int
    detail: str
    problem_type: str
    complaint_time: str
    state: str = "PENDING"  # PENDING, PROCESSING, PROCESSED
    history: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        """The detail answer (complaints-v2/{id})."""
        return {
            "complaint_id": self.complaint_id,
            "complaint_time": self.complaint_time,
            "complaint_detail": self.detail,
            "complaint_state": self.state,
            "complainted_mchid": self.sub_mchid,
            "problem_type": self.problem_type,
            "problem_description": self.detail,
            "complaint_order_info": [
                {
                    "transaction_id": self.transaction_id,
                    "out_trade_no": self.out_trade_no,
                    "amount": self.amount,
                }
            ],
            "complaint_full_refunded": False,
            "incoming_user_response": False,
            "user_complaint_times": 1,
        }


COMPLAINTS_KEY = web.AppKey("wechatpay_complaints", dict)
NOTIFY_URL_KEY = web.AppKey("wechatpay_complaint_notify", list)


def install(app: web.Application) -> None:
    """Add the complaint routes to the WeChat Pay sandbox."""
    app[COMPLAINTS_KEY] = {}
    app[NOTIFY_URL_KEY] = []
    base = "/v3/merchant-service/complaints-v2"
    app.router.add_get(base, list_complaints)
    app.router.add_get(base + "/{id}", show_complaint)
    app.router.add_get(base + "/{id}/negotiation-historys", show_history)
    app.router.add_post(base + "/{id}/response", respond)
    app.router.add_post(base + "/{id}/complete", complete)
    app.router.add_post("/v3/merchant-service/complaint-notifications", set_notify_url)
    app.router.add_post("/sandbox/wechatpay/complaints", file_complaint)


def _complaint(request: web.Request) -> Complaint:
    found: Complaint | None = request.app[COMPLAINTS_KEY].get(request.match_info["id"])
    if found is None:
        raise SandboxApiError(404, "RESOURCE_NOT_EXISTS", "投诉单不存在")
    return found


async def list_complaints(request: web.Request) -> web.Response:
    """GET complaints-v2: a sub-merchant's complaints (begin_date..end_date ignored: all)."""
    mchid = request.query.get("complainted_mchid", "")
    everything = [c for c in request.app[COMPLAINTS_KEY].values() if c.sub_mchid == mchid]
    limit, offset = int(request.query.get("limit", "10")), int(request.query.get("offset", "0"))
    page = [c.view() for c in everything[offset : offset + limit]]
    body = {"data": page, "limit": limit, "offset": offset, "total_count": len(everything)}
    return answer(request.app[SANDBOX_KEY], 200, body)


async def show_complaint(request: web.Request) -> web.Response:
    """GET complaints-v2/{id}."""
    return answer(request.app[SANDBOX_KEY], 200, _complaint(request).view())


async def show_history(request: web.Request) -> web.Response:
    """GET complaints-v2/{id}/negotiation-historys."""
    history = _complaint(request).history
    body = {"data": history, "limit": 100, "offset": 0, "total_count": len(history)}
    return answer(request.app[SANDBOX_KEY], 200, body)


def _check_mchid(sandbox_sp: str, found: Complaint, data: dict[str, Any]) -> None:
    # wechatpayv3 2.0.4 sends the service provider's number; WeChat documents the sub-merchant.
    if data.get("complainted_mchid") not in (found.sub_mchid, sandbox_sp):
        raise SandboxApiError(400, "PARAM_ERROR", "被诉商户号不正确")


async def respond(request: web.Request) -> web.Response:
    """POST complaints-v2/{id}/response: the merchant's answer, at most 200 characters."""
    sandbox, found = request.app[SANDBOX_KEY], _complaint(request)
    data = await read_json(request)
    _check_mchid(sandbox.books.sp_mchid, found, data)
    content = str(data.get("response_content", ""))
    if not content or len(content) > 200:
        raise SandboxApiError(400, "PARAM_ERROR", "回复内容须为 1-200 字")
    if found.state == "PROCESSED":
        raise SandboxApiError(400, "INVALID_REQUEST", "投诉单已处理完成")
    found.state = "PROCESSING"
    found.history.append(_event(sandbox, "MERCHANT_RESPONSE", content))
    return answer(sandbox, 204, None)


async def complete(request: web.Request) -> web.Response:
    """POST complaints-v2/{id}/complete: only after a response."""
    sandbox, found = request.app[SANDBOX_KEY], _complaint(request)
    _check_mchid(sandbox.books.sp_mchid, found, await read_json(request))
    if not any(h["operate_type"] == "MERCHANT_RESPONSE" for h in found.history):
        raise SandboxApiError(400, "INVALID_REQUEST", "请先回复用户")
    found.state = "PROCESSED"
    found.history.append(_event(sandbox, "MERCHANT_CONFIRM_COMPLETE", "处理完成"))
    return answer(sandbox, 204, None)


async def set_notify_url(request: web.Request) -> web.Response:
    """POST complaint-notifications: where COMPLAINT.* notifications go."""
    data = await read_json(request)
    request.app[NOTIFY_URL_KEY][:] = [str(data.get("url", ""))]
    return answer(
        request.app[SANDBOX_KEY],
        200,
        {"mchid": request.app[SANDBOX_KEY].books.sp_mchid, "url": data.get("url")},
    )


def _event(sandbox: Any, kind: str, details: str) -> dict[str, Any]:
    return {
        "complaint_media_list": [],
        "log_id": f"log-{len(details)}-{wechat_time(sandbox.clock.now())}",
        "operator": "商户" if kind.startswith("MERCHANT") else "用户",
        "operate_time": wechat_time(sandbox.clock.now()),
        "operate_type": kind,
        "operate_details": details,
    }


async def file_complaint(request: web.Request) -> web.Response:
    """Sandbox only: the payer of a paid order complains; {out_trade_no, detail, notify_url?}."""
    sandbox = request.app[SANDBOX_KEY]
    data = await read_json(request)
    order = sandbox.books.orders.get(str(data.get("out_trade_no", "")))
    if order is None or order.transaction_id is None:
        raise SandboxApiError(404, "ORDER_NOT_EXIST", "订单不存在或未支付")
    complaints = request.app[COMPLAINTS_KEY]
    complaint_id = f"2002018{len(complaints) + 1:020d}"
    found = Complaint(
        complaint_id=complaint_id,
        sub_mchid=order.sub_mchid,
        out_trade_no=order.out_trade_no,
        transaction_id=order.transaction_id,
        amount=order.total,
        detail=str(data.get("detail", "乱收费")),
        problem_type=str(data.get("problem_type", "REFUND")),
        complaint_time=wechat_time(sandbox.clock.now()),
    )
    found.history.append(_event(sandbox, "USER_CREATE_COMPLAINT", found.detail))
    complaints[complaint_id] = found
    urls = [u for u in [str(data.get("notify_url", "")), *request.app[NOTIFY_URL_KEY]] if u]
    deliveries: list[int | None] = []
    if urls:
        sent = await sandbox.outbox.send(
            urls[0],
            "COMPLAINT.CREATE",
            "产生新投诉",
            "complaint",
            {"complaint_id": complaint_id, "action_type": "CREATE_COMPLAINT"},
        )
        deliveries = sent.deliveries
    return web.json_response({"complaint_id": complaint_id, "deliveries": deliveries})
