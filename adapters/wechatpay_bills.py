"""Trade and fund-flow bills of WeChat Pay API v3 partner mode, as bill sources.

GET /v3/bill/tradebill?bill_date=...&bill_type=ALL&tar_type=GZIP&sub_mchid=... answers (signed)
{hash_type: SHA1, hash_value, download_url}; a signed GET of download_url gives the gzipped bill,
which WeChat Pay does not sign: the SHA1 of the uncompressed text is what proves it intact.
A day without trades is 400 NO_STATEMENT_EXIST; a bill not yet generated 400 STATEMENT_CREATING.

GET /v3/bill/sub-merchant-fundflowbill (资金账单 of a sub-merchant's BASIC account) answers a
list of files, each sealed with AEAD_AES_256_GCM: its encrypt_key is RSA-OAEP encrypted to our
API certificate, its nonce given; decrypted (then unzipped) parts join in bill_sequence order.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import zlib
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.wechatpay import WeChatPayGateway
from core.bills import BillFormatError, BillNotReadyError, TradeBill, parse_trade_bill
from core.fund_flow_bills import FundFlowBill, parse_fund_flow_bill
from core.payment_gateway import GatewayError
from core.payment_gateway import GatewayRejectedError as Rejected

T = TypeVar("T")


class WeChatPayBills:
    """Fetches, verifies and parses a sub-merchant's trade and fund-flow bills of one day."""

    def __init__(self, gateway: WeChatPayGateway) -> None:
        self._gateway = gateway

    async def trade_bill(self, day: date, sub_mchid: str) -> TradeBill | None:
        """The day's bill; None when WeChat Pay has none because nothing was traded."""
        answer = await self._apply(
            "trade_bill",
            bill_date=day.isoformat(),
            bill_type="ALL",
            tar_type="GZIP",
            sub_mchid=sub_mchid,
        )
        if answer is None:
            return None
        if answer.get("hash_type") != "SHA1":
            raise GatewayError(detail=f"unusable bill answer: {answer!r}")
        raw = await self._gateway.download(str(answer.get("download_url", "")))
        return read_bill(raw, str(answer.get("hash_value", "")))

    async def fund_flow_bill(self, day: date, sub_mchid: str) -> FundFlowBill | None:
        """The day's BASIC-account bill; None when no money of the sub-merchant moved."""
        answer = await self._apply(
            "submch_fundflow_bill",
            sub_mchid=sub_mchid,
            bill_date=day.isoformat(),
            account_type="BASIC",
            algorithm="AEAD_AES_256_GCM",
            tar_type="GZIP",
        )
        if answer is None:
            return None
        parts = answer.get("download_bill_list")
        if (
            not isinstance(parts, list)
            or not parts
            or len(parts) != answer.get("download_bill_count")
        ):
            raise GatewayError(detail=f"unusable fund-flow bill answer: {answer!r}")
        texts = [await self._sealed_part(part) for part in sorted(parts, key=_sequence)]
        return _parsed(parse_fund_flow_bill, "".join(texts))

    async def _apply(self, name: str, **kwargs: Any) -> dict[str, Any] | None:
        """Ask for a bill; None when there is none, BillNotReadyError while it is made."""
        try:
            _, answer = await self._gateway.call(name, **kwargs)
        except Rejected as exc:
            if exc.provider_code == "NO_STATEMENT_EXIST":
                return None
            if exc.provider_code == "STATEMENT_CREATING":
                raise BillNotReadyError(detail=exc.detail) from exc
            raise
        if not isinstance(answer, dict):
            raise GatewayError(detail=f"unusable bill answer: {answer!r}")
        return answer

    async def _sealed_part(self, part: Any) -> str:
        if not isinstance(part, dict) or part.get("hash_type") != "SHA1":
            raise GatewayError(detail=f"unusable bill part: {part!r}")
        raw = await self._gateway.download(str(part.get("download_url", "")))
        key = self._gateway.decrypt_key(str(part.get("encrypt_key", "")))
        return open_sealed(raw, key, str(part.get("nonce", "")), str(part.get("hash_value", "")))


def read_bill(raw: bytes, sha1_hex: str) -> TradeBill:
    """Unzip a downloaded bill, check its SHA1, parse it."""
    return _parsed(parse_trade_bill, _checked(_unzipped(raw), sha1_hex))


def open_sealed(raw: bytes, key: bytes, nonce: str, sha1_hex: str) -> str:
    """Decrypt a gzipped fund-flow bill file (AES-256-GCM, no associated data), check it."""
    try:
        sealed = AESGCM(key).decrypt(nonce.encode(), raw, b"")
    except (InvalidTag, ValueError) as exc:
        raise GatewayError(detail=f"bill does not decrypt: {exc!r}") from exc
    return _checked(_unzipped(sealed), sha1_hex)


def _sequence(part: Any) -> int:
    number = part.get("bill_sequence") if isinstance(part, dict) else None
    return number if isinstance(number, int) else 0


def _unzipped(raw: bytes) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise GatewayError(detail=f"bill is not gzip: {exc!r}") from exc


def _checked(text: bytes, sha1_hex: str) -> str:
    if not hmac.compare_digest(hashlib.sha1(text).hexdigest(), sha1_hex.lower()):
        raise GatewayError(detail="bill SHA1 does not match the hash WeChat Pay gave")
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GatewayError(detail=f"bill is not UTF-8: {exc}") from exc


def _parsed(parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except BillFormatError as exc:
        raise GatewayError(detail=f"unusable bill: {exc}") from exc
