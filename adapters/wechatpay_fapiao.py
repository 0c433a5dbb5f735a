"""数电票 through WeChat Pay e-invoicing (/v3/new-tax-control-fapiao/), partner mode."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from adapters.wechatpay import WeChatPayGateway
from core.invoice_provider import InvoiceProviderError, ProviderReport, ProviderState
from core.invoices import (
    BuyerTitle,
    Invoice,
    InvoiceKind,
    IssuedDocument,
    TitleKind,
    TitleNotChosenError,
)
from core.payment_gateway import GatewayError, GatewayRejectedError, NotifyRejectedError

BASE = "/v3/new-tax-control-fapiao"
# 税收分类编码: 3040502020200000000 车辆停放服务; 6010000000000000000 预付卡销售和充值 (不征税).
PARKING_TAX_CODE = "3040502020200000000"
PREPAID_TAX_CODE = "6010000000000000000"
# Quantities are in units of 10^-8: one service.
ONE = 100_000_000
_STATES = {
    "ISSUE_ACCEPTED": ProviderState.ISSUING,
    "ISSUED": ProviderState.ISSUED,
    "ISSUE_FAILED": ProviderState.FAILED,
    "REVERSE_ACCEPTED": ProviderState.REVERSING,
    "REVERSED": ProviderState.REVERSED,
}


def application_body(invoice: Invoice) -> dict[str, Any]:
    """The fapiao-applications body with the sub-merchant partner mode requires."""
    title = invoice.title
    buyer: dict[str, Any] = {
        "type": "ORGANIZATION" if title.kind is TitleKind.COMPANY else "INDIVIDUAL",
        "name": title.name,
    }
    if title.tax_id:
        buyer["taxpayer_id"] = title.tax_id
    prepaid = invoice.kind is InvoiceKind.PREPAID
    item: dict[str, Any] = {
        "tax_code": PREPAID_TAX_CODE if prepaid else PARKING_TAX_CODE,
        "goods_name": "预付卡充值" if prepaid else "停车服务费",
        "quantity": ONE,
        "discount": False,
    }
    if prepaid:
        item["tax_prefer_mark"] = "OUTSIDE_VAT"  # 不征税
    items = [dict(item, total_amount=line.amount_fen) for line in invoice.lines]
    info = {
        "fapiao_id": invoice.invoice_no,
        "total_amount": invoice.amount_fen,
        "need_list": False,
        "items": items,
    }
    return {
        "sub_mchid": invoice.sub_mchid,
        "fapiao_apply_id": invoice.invoice_no,
        "buyer_information": buyer,
        "fapiao_information": [info],
        "scene": "WITH_WECHATPAY",
    }


class WeChatPayFapiao:
    """The InvoiceProvider of 数电票 and prepaid invoices for WeChat Pay sub-merchants."""

    def __init__(self, gateway: WeChatPayGateway) -> None:
        self._gateway = gateway

    async def set_callback(self, url: str) -> None:
        """PATCH merchant/development-config: where WeChat Pay sends FAPIAO.* notifies."""
        await self._gateway.call("fapiao_set_merchant_config", callback_url=url)

    async def parse_notice(self, headers: Mapping[str, str], body: bytes) -> str:
        """The application number a verified, decrypted FAPIAO.* notify is about."""
        data = await self._gateway.decode_notification(headers, body)
        apply_id = data["resource"].get("fapiao_apply_id")
        if not isinstance(apply_id, str) or not apply_id:
            raise NotifyRejectedError(detail="fapiao notify without fapiao_apply_id")
        return apply_id

    async def title_url(
        self, apply_id: str, total_fen: int, openid: str, appid: str, sub_mchid: str
    ) -> dict[str, str]:
        """WeChat's own title picker for the payer: the mini-program page to open."""
        query = urlencode(
            {
                "fapiao_apply_id": apply_id,
                "source": "MINIPROGRAM",
                "total_amount": total_fen,
                "appid": appid,
                "openid": openid,
                "sub_mchid": sub_mchid,
            }
        )
        body = await self._get_raw(f"{BASE}/user-title/title-url?{query}")
        return {k: str(v) for k, v in body.items() if isinstance(v, str)}

    async def user_title(self, apply_id: str, sub_mchid: str) -> BuyerTitle:
        """The title the payer filled in WeChat's picker for this application."""
        query = urlencode(
            {"fapiao_apply_id": apply_id, "scene": "WITH_WECHATPAY", "sub_mchid": sub_mchid}
        )
        try:
            _, body = await self._gateway.signed_request("GET", f"{BASE}/user-title?{query}")
        except GatewayRejectedError as exc:
            if exc.provider_code == "RESOURCE_NOT_EXISTS":
                raise TitleNotChosenError(detail=apply_id) from exc
            raise InvoiceProviderError(detail=exc.detail) from exc
        company = body.get("type") == "ORGANIZATION"
        kind = TitleKind.COMPANY if company else TitleKind.PERSONAL
        tax_id = str(body.get("taxpayer_id") or "") or None
        return BuyerTitle(kind, str(body.get("name", "")), tax_id if company else None)

    async def issue(self, invoice: Invoice, payer_openid: str) -> ProviderReport:
        """POST fapiao-applications; WeChat Pay answers 202 and issues asynchronously."""
        path = f"{BASE}/fapiao-applications"
        try:
            await self._gateway.signed_request("POST", path, application_body(invoice))
        except GatewayRejectedError as exc:
            return ProviderReport(ProviderState.FAILED, reason=exc.detail)
        return ProviderReport(ProviderState.ISSUING)

    async def query(self, invoice: Invoice) -> ProviderReport:
        """GET the application; an issued fapiao comes with its file's download URL."""
        body = await self._get(f"{BASE}/fapiao-applications/{invoice.invoice_no}", invoice)
        [info] = body.get("fapiao_information") or [{}]
        state = _STATES.get(str(info.get("status")), ProviderState.ISSUING)
        if state is not ProviderState.ISSUED:
            return ProviderReport(state, reason=str(info.get("status", "")))
        blue = info.get("blue_fapiao") or {}
        document = IssuedDocument(
            code=str(blue.get("fapiao_code", "")),
            number=str(blue.get("fapiao_number", "")),
            check_code=str(blue.get("check_code", "")),
            file_url=await self._file_url(invoice),
            issued_at=datetime.fromisoformat(str(blue["fapiao_time"])),
        )
        return ProviderReport(state, document)

    async def reverse(self, invoice: Invoice, reason: str) -> ProviderReport:
        """POST .../reverse for the whole blue fapiao, then where it is."""
        body = {
            "sub_mchid": invoice.sub_mchid,
            "reverse_reason": reason,
            "fapiao_information": [
                {
                    "fapiao_id": invoice.invoice_no,
                    "fapiao_code": invoice.document_code or "",
                    "fapiao_number": invoice.document_number or "",
                }
            ],
        }
        path = f"{BASE}/fapiao-applications/{invoice.invoice_no}/reverse"
        try:
            await self._gateway.signed_request("POST", path, body)
        except GatewayRejectedError as exc:
            raise InvoiceProviderError(detail=exc.detail) from exc
        return await self.query(invoice)

    async def download(self, invoice: Invoice) -> bytes:
        """The PDF, through a fresh download URL (they expire), signed."""
        return await self._gateway.download(await self._file_url(invoice))

    async def _file_url(self, invoice: Invoice) -> str:
        body = await self._get(
            f"{BASE}/fapiao-applications/{invoice.invoice_no}/fapiao-files", invoice
        )
        [entry] = body.get("fapiao_download_info_list") or [{}]
        url = entry.get("download_url")
        if not isinstance(url, str) or not url:
            raise InvoiceProviderError(detail=f"no file for {invoice.invoice_no}")
        return url

    async def _get(self, path: str, invoice: Invoice) -> dict[str, Any]:
        return await self._get_raw(f"{path}?sub_mchid={quote(invoice.sub_mchid)}")

    async def _get_raw(self, path_and_query: str) -> dict[str, Any]:
        try:
            _, body = await self._gateway.signed_request("GET", path_and_query)
        except (GatewayRejectedError, GatewayError) as exc:
            raise InvoiceProviderError(detail=exc.detail) from exc
        return body if isinstance(body, dict) else {}
