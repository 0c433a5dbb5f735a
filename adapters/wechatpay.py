"""The PaymentGateway port on WeChat Pay API v3 partner mode, through wechatpayv3's async client."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from wechatpayv3.async_ import AsyncWeChatPay
from wechatpayv3.async_.type import RequestType, WeChatPayType
from wechatpayv3.utils import rsa_encrypt

from adapters.call_metrics import ExternalCall
from core.clock import Clock
from core.payment_gateway import (
    CombineReport,
    EntryStateReport,
    GatewayError,
    JsapiOrder,
    Notice,
    NotifyRejectedError,
    ProviderRefundStatus,
    RefundOrder,
    RefundReport,
    RequestPayment,
    TradeState,
    TransactionReport,
)
from core.payment_gateway import GatewayRejectedError as Rejected

log = logging.getLogger(__name__)

PRODUCTION_BASE_URL = "https://api.mch.weixin.qq.com"
# WeChat Pay signs notifications with its clock; older or newer ones are treated as replays.
NOTIFY_MAX_SKEW = timedelta(minutes=5)
# A notification from an unknown certificate makes us download certificates at most this often.
CERT_REFRESH_EVERY = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class WeChatPayConfig:
    """The service provider's credentials; sp_appid is the mini-program payers pay in."""

    sp_mchid: str
    sp_appid: str
    private_key_pem: str
    cert_serial_no: str
    api_v3_key: str
    base_url: str = PRODUCTION_BASE_URL
    cert_dir: str | None = None
    timeout_seconds: float = 10.0


class WeChatPayGateway:
    """Partner-mode JSAPI orders, queries, closes, refunds and verified notifications."""

    def __init__(self, config: WeChatPayConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        # Building the client does no I/O; the platform certificates are fetched on first use.
        self._client = AsyncWeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG,
            mchid=config.sp_mchid,
            private_key=config.private_key_pem,
            cert_serial_no=config.cert_serial_no,
            appid=config.sp_appid,
            apiv3_key=config.api_v3_key,
            cert_dir=config.cert_dir,
            partner_mode=True,
            timeout=(5.0, config.timeout_seconds),
        )
        # wechatpayv3 2.0.4 has no setting for the gateway: it hard-codes the production
        # host in AsyncCore.__init__, so the base URL (the sandbox, or api2 as the backup
        # domain) is set on the core before its first request.
        self._client._core._gate_way = config.base_url.rstrip("/")
        self._connected = False
        self._lock = asyncio.Lock()
        self._certs_refreshed_at: datetime | None = None

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._connected:
            await self._client.__aexit__(None, None, None)
            self._connected = False

    async def _ready(self) -> AsyncWeChatPay:
        """The client with its HTTP session open and the platform certificates loaded."""
        async with self._lock:
            if not self._connected:
                try:
                    await self._client.__aenter__()
                except Exception as exc:  # wechatpayv3 raises bare Exception; httpx its own
                    await self._client.__aexit__(None, None, None)
                    raise GatewayError(detail=f"wechatpay connect: {exc!r}") from exc
                self._connected = True
        return self._client

    async def platform_certificates_valid_until(self) -> datetime | None:
        """When the newest loaded platform certificate expires; loads them on first use."""
        client = await self._ready()
        expiries = [cert.not_valid_after_utc for cert in client._core._certificates]
        return max(expiries, default=None)

    @property
    def appid(self) -> str:
        """The service provider's app (the mini-program payers pay in)."""
        return self._config.sp_appid

    @property
    def sp_mchid(self) -> str:
        """The service provider's merchant number."""
        return self._config.sp_mchid

    async def call(self, name: str, **kwargs: Any) -> tuple[int, Any]:
        """Call a wechatpayv3 method; errors translated once: GatewayError or Rejected."""
        client = await self._ready()
        return await self._translated(name, getattr(client, name)(**kwargs))

    async def call_core(
        self, path: str, method: Any, data: dict[str, Any] | None
    ) -> tuple[int, Any]:
        """A signed request through the library's core, for calls its helpers get wrong."""
        client = await self._ready()
        return await self._translated(path, client._core.request(path, method=method, data=data))

    async def signed_request(
        self, method: str, path: str, data: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """A signed, answer-verified call through wechatpayv3's own request path, for endpoints
        whose helpers leave out a field partner mode needs (the fapiao calls' sub_mchid)."""
        return await self.call_core(path, RequestType(method), data)

    async def sensitive_post(
        self, path: str, data: dict[str, Any], fields: tuple[str, ...]
    ) -> tuple[int, Any]:
        """A signed POST whose `fields` are encrypted to the newest platform certificate, named
        in Wechatpay-Serial. wechatpayv3 2.0.4 picks that certificate by the deprecated
        not_valid_after (a warning since cryptography 42), so it is picked here instead."""
        client = await self._ready()
        core = client._core
        if not core._certificates:
            raise GatewayError(detail="no WeChat Pay platform certificate to encrypt with")
        newest = max(core._certificates, key=lambda cert: cert.not_valid_after_utc)
        body = dict(data)
        for name in fields:
            body[name] = rsa_encrypt(text=body[name], public_key=newest.public_key())
        headers = {"Wechatpay-Serial": format(newest.serial_number, "X")}
        request = core.request(path, method=RequestType.POST, data=body, headers=headers)
        return await self._translated(path, request)

    async def _translated(self, name: str, request: Any) -> tuple[int, Any]:
        with ExternalCall("wechatpay", name) as timed:
            try:
                code, body = await request
            except httpx.HTTPError as exc:
                raise GatewayError(detail=f"wechatpay {name}: {exc!r}") from exc
            except Exception as exc:  # e.g. "failed to verify the signature" of the answer
                raise GatewayError(detail=f"wechatpay {name}: {exc}") from exc
            if 200 <= code < 300:
                timed.outcome = "ok"
                return code, json.loads(body) if isinstance(body, str) and body else None
            error = _error_body(body)
            if code >= 500 or error.get("code") in _RETRYABLE:
                raise GatewayError(detail=f"wechatpay {name}: {code} {error}")
            timed.outcome = "rejected"
            raise Rejected(str(error.get("code", "")), str(error.get("message", "")), code)

    async def create_jsapi(self, order: JsapiOrder) -> str:
        """POST /v3/pay/partner/transactions/jsapi for the order's sub-merchant."""
        _, body = await self.call(
            "pay",
            description=order.description,
            out_trade_no=order.out_trade_no,
            amount={"total": order.amount_fen, "currency": "CNY"},
            payer={"sp_openid": order.payer_openid},
            time_expire=order.expires_at.isoformat(timespec="seconds"),
            attach=order.attach or None,
            notify_url=order.notify_url,
            appid=order.appid,
            sub_mchid=order.sub_mchid,
            pay_type=WeChatPayType.JSAPI,
            settle_info={"profit_sharing": True} if order.profit_sharing else None,
        )
        return str(body["prepay_id"])

    def request_payment(self, appid: str, prepay_id: str, now: datetime) -> RequestPayment:
        """The wx.requestPayment parameters, signed RSA over appId, timeStamp, nonceStr, package."""
        time_stamp, nonce_str = str(int(now.timestamp())), secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        signature = self._client.sign([appid, time_stamp, nonce_str, package])
        return RequestPayment(appid, time_stamp, nonce_str, package, "RSA", signature)

    async def query(self, out_trade_no: str, sub_mchid: str) -> TransactionReport:
        """GET the order by out_trade_no."""
        _, body = await self.call("query", out_trade_no=out_trade_no, sub_mchid=sub_mchid)
        return parse_transaction(body)

    async def close(self, out_trade_no: str, sub_mchid: str) -> None:
        """POST .../close; WeChat Pay answers 204."""
        await self.call("close", out_trade_no=out_trade_no, sub_mchid=sub_mchid)

    async def refund(self, order: RefundOrder) -> RefundReport:
        """POST /v3/refund/domestic/refunds for part or all of an order."""
        _, body = await self.call(
            "refund",
            out_refund_no=order.out_refund_no,
            amount={"refund": order.refund_fen, "total": order.total_fen, "currency": "CNY"},
            out_trade_no=order.out_trade_no,
            reason=order.reason[:80] or None,
            notify_url=order.notify_url,
            sub_mchid=order.sub_mchid,
        )
        return _refund(body, order.sub_mchid)

    async def download(self, url: str) -> bytes:
        """GET a bill's download_url, signed; the answer is unsigned (its hash is checked)."""
        if not url.startswith(f"{self._config.base_url.rstrip('/')}/"):
            # Signing a request to another host would hand it our Authorization.
            raise GatewayError(detail=f"download URL on another host: {url[:80]}")
        client = await self._ready()
        with ExternalCall("wechatpay", "download_bill") as timed:
            try:
                code, body = await client.download_bill(url)
            except httpx.HTTPError as exc:
                raise GatewayError(detail=f"wechatpay download: {exc!r}") from exc
            if 200 <= code < 300 and isinstance(body, bytes):
                timed.outcome = "ok"
                return body
            error = _error_body(body)
            if code >= 500 or not error:
                raise GatewayError(detail=f"wechatpay download: {code} {error}")
            timed.outcome = "rejected"
            raise Rejected(str(error.get("code", "")), str(error.get("message", "")), code)

    def decrypt_key(self, encrypt_key: str) -> bytes:
        """A bill file's AES key, RSA-OAEP encrypted to our API certificate."""
        try:
            return str(self._client.decrypt(encrypt_key)).encode()
        except (ValueError, TypeError) as exc:  # bad base64, wrong key, not UTF-8
            raise GatewayError(detail=f"bill key does not decrypt: {exc!r}") from exc

    async def parse_notice(self, headers: Mapping[str, str], body: bytes) -> Notice | None:
        """Verify and decrypt a notification; None for events the platform does not act on."""
        data = await self.decode_notification(headers, body)
        event = str(data.get("event_type", ""))
        if event not in (*_TRANSACTION_EVENTS, ENTRY_STATE_EVENT) and not event.startswith(
            "REFUND."
        ):
            log.info("ignoring WeChat Pay notification %s", event)
            return None
        resource = data["resource"]
        merchant = resource.get("sp_mchid") or resource.get("combine_mchid")
        if merchant != self._config.sp_mchid:
            raise NotifyRejectedError(detail="notification for another service provider")
        if "combine_out_trade_no" in resource:
            return parse_combine(resource)
        if event == ENTRY_STATE_EVENT:
            return parse_entry_state(resource)
        if event in _TRANSACTION_EVENTS:
            return parse_transaction(resource)
        return _refund(resource, str(resource.get("sub_mchid", "")))

    async def decode_notification(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """The notification with its resource decrypted, once its time and signature check out."""
        client = await self._ready()
        sent = headers.get("Wechatpay-Timestamp", "")
        if not sent.isdigit():
            raise NotifyRejectedError(detail="notification without a timestamp")
        skew = abs(self._clock.now().timestamp() - int(sent))
        if skew > NOTIFY_MAX_SKEW.total_seconds():
            raise NotifyRejectedError(detail=f"notification {skew:.0f} s from our clock")
        data = self._decrypt(client, headers, body)
        serial = headers.get("Wechatpay-Serial", "")
        if data is None and await self._refresh_certificates(client, serial):
            data = self._decrypt(client, headers, body)
        if data is None or not isinstance(data.get("resource"), dict):
            raise NotifyRejectedError(detail="notification signature or ciphertext is wrong")
        return data

    def _decrypt(
        self, client: AsyncWeChatPay, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any] | None:
        try:
            data = client.callback(headers, body)
        except Exception as exc:  # wechatpayv3 raises bare Exception for bad algorithms
            raise NotifyRejectedError(detail=f"notification: {exc}") from exc
        return data if isinstance(data, dict) else None

    async def _refresh_certificates(self, client: AsyncWeChatPay, serial: str) -> bool:
        """Download the platform certificates when a notification names an unknown one.

        WeChat Pay rotates its certificate, and a notification signed by a new one is only
        verifiable after this download. A known serial with a bad signature is a forgery and
        triggers nothing; downloads happen at most every CERT_REFRESH_EVERY. (wechatpayv3 keeps
        the certificates and the download in private members of its core, see __init__.)
        """
        core = client._core
        if any(format(cert.serial_number, "X") == serial.upper() for cert in core._certificates):
            return False
        now = self._clock.now()
        last = self._certs_refreshed_at
        if last is not None and now - last < CERT_REFRESH_EVERY:
            return False
        self._certs_refreshed_at = now
        known = list(core._certificates)
        try:
            await core._update_certificates()
        except Exception as exc:  # wechatpayv3 raises bare Exception; httpx its own
            log.warning("could not download WeChat Pay certificates: %r", exc)
        if not core._certificates:
            # The library empties its list before downloading; a failed download must not
            # leave us unable to verify anything.
            core._certificates.extend(known)
            return False
        return True


# Answers that say "try again later", however their HTTP status reads.
_RETRYABLE = ("SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED")
# TRANSACTION.FAIL: a parking-service deduction that failed (trade state PAY_FAIL).
_TRANSACTION_EVENTS = ("TRANSACTION.SUCCESS", "TRANSACTION.FAIL")


# The parking service's 停车入场状态变更通知 (a user paused or resumed the service mid-stay).
ENTRY_STATE_EVENT = "VEHICLE.ENTRANCE_STATE_CHANGE"


def parse_entry_state(body: dict[str, Any]) -> EntryStateReport:
    """An entry's new state as the parking service notifies it."""
    try:
        return EntryStateReport(
            out_parking_no=str(body["out_parking_no"]),
            sub_mchid=str(body["sub_mchid"]),
            parking_id=str(body["parking_id"]),
            state=str(body["parking_state"]),
            block_reason=body.get("blocked_state_description") or None,
        )
    except (KeyError, TypeError) as exc:
        raise GatewayError(detail=f"unusable entry state: {exc!r}") from exc


def parse_combine(body: dict[str, Any]) -> CombineReport:
    """A combined order (query or notify) as one TransactionReport per sub-order."""
    try:
        subs = tuple(
            TransactionReport(
                out_trade_no=str(sub["out_trade_no"]),
                sub_mchid=str(sub["sub_mchid"]),
                trade_state=TradeState(sub["trade_state"]),
                amount_fen=int(sub["amount"]["total_amount"]),
                transaction_id=sub.get("transaction_id"),
                success_time=_time(sub.get("success_time")),
            )
            for sub in body["sub_orders"]
        )
        return CombineReport(str(body["combine_out_trade_no"]), subs)
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayError(detail=f"unusable combined order: {exc!r}") from exc


def _error_body(body: Any) -> dict[str, Any]:
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else None
    except json.JSONDecodeError:
        data = None
    return data if isinstance(data, dict) else {}


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def parse_transaction(body: dict[str, Any]) -> TransactionReport:
    """An order as WeChat Pay describes it (query answer, notification, codepay answer)."""
    try:
        return TransactionReport(
            out_trade_no=str(body["out_trade_no"]),
            sub_mchid=str(body["sub_mchid"]),
            trade_state=TradeState(body["trade_state"]),
            amount_fen=int(body["amount"]["total"]),
            transaction_id=body.get("transaction_id"),
            success_time=_time(body.get("success_time")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayError(detail=f"unusable transaction from WeChat Pay: {exc!r}") from exc


def _refund(body: dict[str, Any], sub_mchid: str) -> RefundReport:
    try:
        return RefundReport(
            out_refund_no=str(body["out_refund_no"]),
            out_trade_no=str(body["out_trade_no"]),
            sub_mchid=sub_mchid,
            refund_id=str(body["refund_id"]),
            status=ProviderRefundStatus(body.get("status") or body["refund_status"]),
            refund_fen=int(body["amount"]["refund"]),
            success_time=_time(body.get("success_time")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayError(detail=f"unusable refund from WeChat Pay: {exc!r}") from exc
