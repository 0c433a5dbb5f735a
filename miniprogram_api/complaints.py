"""WeChat Pay's complaint notifications (消费者投诉 2.0): each one lands in the appeal queue."""

from __future__ import annotations

import logging

from aiohttp import web

from core.complaints import COMPLAINT_EVENTS
from core.errors import DomainError
from core.payment_gateway import NotifyRejectedError
from core.services import complaints
from server.http import ApiRoutes
from server.resources import clock, unit_of_work
from server.wechat import wechat

log = logging.getLogger(__name__)
routes = ApiRoutes("miniprogram")


@routes.route(
    "POST",
    "/wechatpay/complaints/notify",
    "WeChat Pay complaint notifications (signed, AES-GCM encrypted; COMPLAINT.*)",
    status=204,
)
async def complaint_notify(request: web.Request, _: None) -> web.StreamResponse:
    """Verify, decrypt, fetch the complaint and queue it (again: its state is updated)."""
    services = wechat(request)
    try:
        data = await services.gateway.decode_notification(request.headers, await request.read())
    except NotifyRejectedError as exc:
        log.warning("rejected a WeChat Pay complaint notification: %s", exc.detail)
        return _fail(401, "验签失败")
    if str(data.get("event_type", "")) not in COMPLAINT_EVENTS:
        log.info("ignoring WeChat Pay notification %s", data.get("event_type"))
        return web.Response(status=204)
    complaint_id = str(data["resource"].get("complaint_id", ""))
    try:
        await complaints.receive(
            lambda: unit_of_work(request), clock(request), services.complaints, complaint_id
        )
    except DomainError as exc:  # a failure answer makes WeChat Pay deliver it again later
        log.error("complaint %s not taken in: %s %s", complaint_id, exc.code, exc.detail)
        return _fail(500, exc.message_zh)
    return web.Response(status=204)


def _fail(status: int, message: str) -> web.Response:
    return web.json_response({"code": "FAIL", "message": message}, status=status)
