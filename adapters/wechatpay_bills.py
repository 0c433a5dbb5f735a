"""Trade bills (交易账单) of WeChat Pay API v3 partner mode, as a TradeBillSource.

GET /v3/bill/tradebill?bill_date=...&bill_type=ALL&tar_type=GZIP&sub_mchid=... answers (signed)
{hash_type: SHA1, hash_value, download_url}; a signed GET of download_url gives the gzipped bill,
which WeChat Pay does not sign: the SHA1 of the uncompressed text is what proves it intact.
A day without trades is 400 NO_STATEMENT_EXIST; a bill not yet generated 400 STATEMENT_CREATING.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import zlib
from datetime import date

from adapters.wechatpay import WeChatPayGateway
from core.bills import BillFormatError, BillNotReadyError, TradeBill, parse_trade_bill
from core.payment_gateway import GatewayError
from core.payment_gateway import GatewayRejectedError as Rejected


class WeChatPayBills:
    """Fetches, verifies and parses a sub-merchant's ALL trade bill of one day."""

    def __init__(self, gateway: WeChatPayGateway) -> None:
        self._gateway = gateway

    async def trade_bill(self, day: date, sub_mchid: str) -> TradeBill | None:
        """The day's bill; None when WeChat Pay has none because nothing was traded."""
        try:
            _, answer = await self._gateway.call(
                "trade_bill",
                bill_date=day.isoformat(),
                bill_type="ALL",
                tar_type="GZIP",
                sub_mchid=sub_mchid,
            )
        except Rejected as exc:
            if exc.provider_code == "NO_STATEMENT_EXIST":
                return None
            if exc.provider_code == "STATEMENT_CREATING":
                raise BillNotReadyError(detail=exc.detail) from exc
            raise
        if not isinstance(answer, dict) or answer.get("hash_type") != "SHA1":
            raise GatewayError(detail=f"unusable bill answer: {answer!r}")
        raw = await self._gateway.download(str(answer.get("download_url", "")))
        return read_bill(raw, str(answer.get("hash_value", "")))


def read_bill(raw: bytes, sha1_hex: str) -> TradeBill:
    """Unzip a downloaded bill, check its SHA1, parse it."""
    try:
        text = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise GatewayError(detail=f"bill is not gzip: {exc!r}") from exc
    if not hmac.compare_digest(hashlib.sha1(text).hexdigest(), sha1_hex.lower()):
        raise GatewayError(detail="bill SHA1 does not match the hash WeChat Pay gave")
    try:
        return parse_trade_bill(text.decode("utf-8"))
    except (UnicodeDecodeError, BillFormatError) as exc:
        raise GatewayError(detail=f"unusable bill: {exc}") from exc
