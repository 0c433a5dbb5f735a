"""The ParkingService port on wechatpayv3 2.0.4's parking-service and combine-order calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from wechatpayv3.async_.type import RequestType, WeChatPayType

from adapters.wechatpay import WeChatPayGateway, parse_combine, parse_transaction
from core.parking_gateway import (
    CombineReport,
    CombineRequest,
    DeductionRequest,
    EntryAnswer,
    EntryRequest,
    ServiceInfo,
)
from core.payment_gateway import GatewayError, TransactionReport
from core.payments import SHANGHAI


def _time(moment: datetime) -> str:
    return str(moment.astimezone(SHANGHAI).isoformat(timespec="seconds"))


class WeChatPayParking:
    """Partner-mode parking service and combined JSAPI orders through the gateway's client."""

    def __init__(self, gateway: WeChatPayGateway) -> None:
        self._gateway = gateway

    async def find(self, plate: str, colour: str, openid: str, sub_mchid: str) -> ServiceInfo:
        """GET /v3/vehicle/parking/services/find.

        wechatpayv3 2.0.4 puts the plate into the path as given and signs that path, while httpx
        percent-encodes it when sending: a plate with a Chinese province character would be
        signed one way and sent another. Passing it encoded makes both the same.
        """
        _, body = await self._gateway.call(
            "parking_service_find",
            plate_number=quote(plate, safe=""),
            plate_color=colour,
            openid=quote(openid, safe=""),
            sub_mchid=sub_mchid,
        )
        try:
            return ServiceInfo(
                plate=str(body["plate_number"]),
                colour=str(body["plate_color"]),
                openid=str(body["openid"]),
                service_state=str(body["service_state"]),
                opened_at=_parse_time(body.get("service_open_time")),
            )
        except (KeyError, TypeError) as exc:
            raise GatewayError(detail=f"unusable service info: {exc!r}") from exc

    async def enter(self, request: EntryRequest) -> EntryAnswer:
        """POST /v3/vehicle/parking/parkings.

        The library refuses a free_duration of 0 (it tests truthiness), which WeChat accepts,
        so the body is built here and sent, signed, through the library's core.
        """
        body = {
            "sub_mchid": request.sub_mchid,
            "out_parking_no": request.out_parking_no,
            "plate_number": request.plate,
            "plate_color": request.colour,
            "notify_url": request.notify_url,
            "start_time": _time(request.start_time),
            "parking_name": request.parking_name[:128],
            "free_duration": request.free_seconds,
        }
        answer = await self._post("/v3/vehicle/parking/parkings", body)
        try:
            return EntryAnswer(
                str(answer["id"]), str(answer["state"]), answer.get("block_reason") or None
            )
        except (KeyError, TypeError) as exc:
            raise GatewayError(detail=f"unusable parking entry: {exc!r}") from exc

    async def deduct(self, request: DeductionRequest) -> TransactionReport:
        """POST /v3/vehicle/transactions/parking (trade scene PARKING).

        The library's parking_order insists on a sub_appid in partner mode, which WeChat Pay
        makes optional (the payer's openid is in our app), so the body is built the same way
        without it and sent through the library's core.
        """
        body = {
            "appid": self._gateway.appid,
            "sub_mchid": request.sub_mchid,
            "description": request.description,
            "out_trade_no": request.out_trade_no,
            "notify_url": request.notify_url,
            "trade_scene": "PARKING",
            "profit_sharing": "Y" if request.profit_sharing else "N",
            "attach": request.attach or None,
            "amount": {"total": request.amount_fen, "currency": "CNY"},
            "parking_info": {
                "parking_id": request.parking_id,
                "plate_number": request.plate,
                "plate_color": request.colour,
                "start_time": _time(request.start_time),
                "end_time": _time(request.end_time),
                "parking_name": request.parking_name[:128],
                "charging_duration": max(request.charging_seconds, 1),
                "device_id": request.device_id,
            },
        }
        body = {k: v for k, v in body.items() if v is not None}
        return _report(await self._post("/v3/vehicle/transactions/parking", body))

    async def query_deduction(self, out_trade_no: str, sub_mchid: str) -> TransactionReport:
        """GET /v3/vehicle/transactions/out-trade-no/{no}."""
        _, body = await self._gateway.call(
            "parking_order_query", out_trade_no=out_trade_no, sub_mchid=sub_mchid
        )
        return _report(body)

    async def combine_prepay(self, request: CombineRequest) -> str:
        """POST /v3/combine-transactions/jsapi; each sub-order names its sub-merchant."""
        subs = [
            {
                "mchid": self._gateway.sp_mchid,
                "sub_mchid": sub.sub_mchid,
                "out_trade_no": sub.out_trade_no,
                "description": sub.description,
                "attach": sub.attach or sub.out_trade_no,
                "amount": {"total_amount": sub.amount_fen, "currency": "CNY"},
            }
            | ({"settle_info": {"profit_sharing": True}} if sub.profit_sharing else {})
            for sub in request.sub_orders
        ]
        _, body = await self._gateway.call(
            "combine_pay",
            combine_out_trade_no=request.combine_out_trade_no,
            sub_orders=subs,
            combine_payer_info={"openid": request.payer_openid},
            time_expire=_time(request.expires_at),
            combine_appid=request.appid,
            notify_url=request.notify_url,
            pay_type=WeChatPayType.JSAPI,
        )
        return str(body["prepay_id"])

    async def combine_query(self, combine_out_trade_no: str) -> CombineReport:
        """GET /v3/combine-transactions/out-trade-no/{no}."""
        _, body = await self._gateway.call(
            "combine_query", combine_out_trade_no=combine_out_trade_no
        )
        return parse_combine(body)

    async def combine_close(
        self, combine_out_trade_no: str, appid: str, sub_orders: tuple[tuple[str, str], ...]
    ) -> None:
        """POST /v3/combine-transactions/out-trade-no/{no}/close (204; again: 204 too)."""
        subs = [
            {"mchid": self._gateway.sp_mchid, "sub_mchid": sub_mchid, "out_trade_no": no}
            for sub_mchid, no in sub_orders
        ]
        await self._gateway.call(
            "combine_close",
            combine_out_trade_no=combine_out_trade_no,
            sub_orders=subs,
            combine_appid=appid,
        )

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        _, answer = await self._gateway.call_core(path, RequestType.POST, body)
        if not isinstance(answer, dict):
            raise GatewayError(detail=f"wechatpay {path}: empty answer")
        return answer


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _report(body: Any) -> TransactionReport:
    """A deduction as WeChat Pay describes it; its states are the parking service's."""
    if not isinstance(body, dict):
        raise GatewayError(detail="unusable deduction from WeChat Pay")
    return parse_transaction(body)
