"""消费者投诉 2.0 through wechatpayv3's complaint calls, on the partner-mode gateway."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.wechatpay import WeChatPayGateway
from core.complaints import ComplaintDetail, ComplaintEvent
from core.payment_gateway import GatewayError


class WeChatPayComplaints:
    """The complaint API of the service provider's sub-merchants."""

    def __init__(self, gateway: WeChatPayGateway) -> None:
        self._gateway = gateway

    async def detail(self, complaint_id: str) -> ComplaintDetail:
        """GET complaints-v2/{id}."""
        _, body = await self._gateway.call("complaint_detail_query", complaint_id=complaint_id)
        return parse_detail(_object(body))

    async def listed(self, day: str, sub_mchid: str) -> list[ComplaintDetail]:
        """GET complaints-v2 for one day, every page."""
        found: list[ComplaintDetail] = []
        while True:
            _, body = await self._gateway.call(
                "complaint_list_query",
                begin_date=day,
                end_date=day,
                limit=50,
                offset=len(found),
                complainted_mchid=sub_mchid,
            )
            page = _object(body).get("data") or []
            found += [parse_detail(item) for item in page]
            if not page or len(found) >= int(_object(body).get("total_count", 0)):
                return found

    async def history(self, complaint_id: str) -> list[ComplaintEvent]:
        """GET complaints-v2/{id}/negotiation-historys."""
        _, body = await self._gateway.call("complaint_history_query", complaint_id=complaint_id)
        return [
            ComplaintEvent(
                datetime.fromisoformat(str(item["operate_time"])),
                str(item.get("operator", "")),
                str(item.get("operate_type", "")),
                str(item.get("operate_details", "")),
            )
            for item in _object(body).get("data") or []
        ]

    async def respond(self, complaint_id: str, text: str) -> None:
        """POST complaints-v2/{id}/response."""
        await self._gateway.call(
            "complaint_response", complaint_id=complaint_id, response_content=text
        )

    async def complete(self, complaint_id: str) -> None:
        """POST complaints-v2/{id}/complete."""
        await self._gateway.call("complaint_complete", complaint_id=complaint_id)


def parse_detail(body: dict[str, Any]) -> ComplaintDetail:
    """A complaint of the detail or list answer."""
    orders = body.get("complaint_order_info") or [{}]
    first = orders[0] if isinstance(orders, list) and orders else {}
    try:
        return ComplaintDetail(
            complaint_id=str(body["complaint_id"]),
            sub_mchid=str(body.get("complainted_mchid", "")),
            out_trade_no=first.get("out_trade_no"),
            amount_fen=int(first["amount"]) if "amount" in first else None,
            state=str(body.get("complaint_state", "")),
            detail=str(body.get("complaint_detail", ""))[:2000],
            problem_type=str(body.get("problem_type", "")),
            complained_at=datetime.fromisoformat(str(body["complaint_time"])),
        )
    except (KeyError, ValueError) as exc:
        raise GatewayError(detail=f"unusable complaint: {exc!r}") from exc


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise GatewayError(detail=f"unusable complaint answer: {body!r}")
    return body
