"""The ProfitSharingGateway port on wechatpayv3 2.0.4's profitsharing calls (partner mode)."""

from __future__ import annotations

from typing import Any

from adapters.wechatpay import WeChatPayGateway
from core.payment_gateway import GatewayError
from core.profit_sharing import (
    ReturnReport,
    ReturnRequest,
    ReturnResult,
    ShareLineReport,
    ShareOrderReport,
    ShareOrderRequest,
    ShareOrderState,
    ShareResult,
)
from core.shares import ReceiverAccount

# Every receiver is a merchant (the city's body, the platform) paid as a partner.
RECEIVER_TYPE = "MERCHANT_ID"
RELATION = "PARTNER"


class WeChatPayProfitSharing:
    """Add receivers, share, query, unfreeze and return through the gateway's client."""

    def __init__(self, gateway: WeChatPayGateway) -> None:
        self._gateway = gateway

    async def add_receiver(self, sub_mchid: str, receiver: ReceiverAccount) -> None:
        """POST /v3/profitsharing/receivers/add; the name goes encrypted to the platform key.

        Built here rather than by the library's profitsharing_add_receiver, whose encryption
        reads a deprecated certificate property (see WeChatPayGateway.sensitive_post).
        """
        body = {
            "sub_mchid": sub_mchid,
            "appid": self._gateway.appid,
            "type": RECEIVER_TYPE,
            "account": receiver.mchid,
            "name": receiver.name,
            "relation_type": RELATION,
        }
        await self._gateway.sensitive_post("/v3/profitsharing/receivers/add", body, ("name",))

    async def order(self, request: ShareOrderRequest) -> ShareOrderReport:
        """POST /v3/profitsharing/orders."""
        receivers = [
            {
                "type": RECEIVER_TYPE,
                "account": line.account,
                "amount": line.amount_fen,
                "description": line.description[:80],
            }
            for line in request.lines
        ]
        _, body = await self._gateway.call(
            "profitsharing_order",
            transaction_id=request.transaction_id,
            out_order_no=request.out_order_no,
            receivers=receivers,
            unfreeze_unsplit=request.unfreeze_rest,
            sub_mchid=request.sub_mchid,
        )
        return parse_order(body)

    async def query(
        self, sub_mchid: str, transaction_id: str, out_order_no: str
    ) -> ShareOrderReport:
        """GET /v3/profitsharing/orders/{out_order_no}."""
        _, body = await self._gateway.call(
            "profitsharing_order_query",
            transaction_id=transaction_id,
            out_order_no=out_order_no,
            sub_mchid=sub_mchid,
        )
        return parse_order(body)

    async def unfreeze(
        self, sub_mchid: str, transaction_id: str, out_order_no: str, description: str
    ) -> ShareOrderReport:
        """POST /v3/profitsharing/orders/unfreeze."""
        _, body = await self._gateway.call(
            "profitsharing_unfreeze",
            transaction_id=transaction_id,
            out_order_no=out_order_no,
            description=description[:80],
            sub_mchid=sub_mchid,
        )
        return parse_order(body)

    async def return_share(self, request: ReturnRequest) -> ReturnReport:
        """POST /v3/profitsharing/return-orders."""
        _, body = await self._gateway.call(
            "profitsharing_return",
            out_return_no=request.out_return_no,
            return_mchid=request.account,
            amount=request.amount_fen,
            description=request.description[:80],
            out_order_no=request.out_order_no,
            sub_mchid=request.sub_mchid,
        )
        try:
            return ReturnReport(
                out_return_no=str(body["out_return_no"]),
                return_id=str(body["return_id"]),
                result=ReturnResult(body["result"]),
                amount_fen=int(body["amount"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayError(detail=f"unusable profit sharing return: {exc!r}") from exc


def parse_order(body: Any) -> ShareOrderReport:
    """A sharing order as WeChat Pay describes it (order, query and unfreeze answers)."""
    try:
        lines = tuple(
            ShareLineReport(
                account=str(line["account"]),
                amount_fen=int(line["amount"]),
                result=ShareResult(line["result"]),
            )
            for line in body.get("receivers", [])
        )
        return ShareOrderReport(
            out_order_no=str(body["out_order_no"]),
            order_id=str(body["order_id"]),
            state=ShareOrderState(body["state"]),
            lines=lines,
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise GatewayError(detail=f"unusable profit sharing order: {exc!r}") from exc
