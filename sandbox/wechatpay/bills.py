"""Trade bills (交易账单) as WeChat Pay serves them, written from the sandbox's own books.

The ALL bill of a day (Beijing time) lists each payment at its success time and each refund at
the time it was accepted, a sub-merchant's or all of the service provider's. The rows' fields
start with a backquote; a summary header and line end the file. `GET /v3/bill/tradebill`
answers a signed {hash_type, hash_value, download_url}; the download is gzip (tar_type=GZIP)
or plain text, never signed, and its link works for five minutes.
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal

from aiohttp import web

from core.money import format_yuan
from sandbox.wechatpay.orders import SHANGHAI, Order, PayBooks, Refund, SandboxApiError
from sandbox.wechatpay.state import SANDBOX_KEY, BillFile, answer

HISTORY = timedelta(days=90)
LINK_VALID = timedelta(minutes=5)
RATE = Decimal("0.006")
HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注"
)
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
BILL_TYPES = ("ALL", "SUCCESS", "REFUND")


def install(app: web.Application) -> None:
    """Add the bill routes."""
    app.router.add_get("/v3/bill/tradebill", trade_bill)
    app.router.add_get("/v3/billdownload/file", download)


async def trade_bill(request: web.Request) -> web.Response:
    """GET /v3/bill/tradebill: where to download the day's bill and its SHA1."""
    sandbox = request.app[SANDBOX_KEY]
    now = sandbox.clock.now()
    day = bill_date_of(request.query.get("bill_date", ""), now)
    bill_type = request.query.get("bill_type", "ALL")
    tar_type = request.query.get("tar_type", "")
    if bill_type not in BILL_TYPES or tar_type not in ("", "GZIP"):
        raise SandboxApiError(400, "PARAM_ERROR", "bill_type 或 tar_type 不正确")
    text = render(sandbox.books, day, request.query.get("sub_mchid") or None, bill_type)
    if text is None:
        raise SandboxApiError(400, "NO_STATEMENT_EXIST", "请求的账单文件不存在")
    raw = text.encode()
    content = gzip.compress(raw, mtime=0) if tar_type == "GZIP" else raw
    token = secrets.token_urlsafe(24)
    sandbox.bill_files[token] = BillFile(content, now + LINK_VALID)
    url = f"{request.url.origin()}/v3/billdownload/file?token={token}"
    if tar_type:
        url += "&tartype=gzip"
    digest = hashlib.sha1(raw).hexdigest()
    return answer(sandbox, 200, {"hash_type": "SHA1", "hash_value": digest, "download_url": url})


async def download(request: web.Request) -> web.Response:
    """GET /v3/billdownload/file: the bill itself, unsigned."""
    sandbox = request.app[SANDBOX_KEY]
    found = sandbox.bill_files.get(request.query.get("token", ""))
    if found is None or sandbox.clock.now() > found.expires_at:
        raise SandboxApiError(400, "INVALID_REQUEST", "下载链接过期，请重新请求文件下载")
    return web.Response(body=found.content, content_type="application/octet-stream")


def bill_date_of(text: str, now: datetime) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise SandboxApiError(400, "PARAM_ERROR", "bill_date 格式应为 yyyy-MM-DD") from None
    today = now.astimezone(SHANGHAI).date()
    if day > today:
        raise SandboxApiError(400, "PARAM_ERROR", "账单日期不能晚于今天")
    if day == today:
        raise SandboxApiError(400, "STATEMENT_CREATING", "账单生成中")
    if day < today - HISTORY:
        raise SandboxApiError(400, "PARAM_ERROR", "仅支持三个月内的账单下载申请")
    return day


def render(books: PayBooks, day: date, sub_mchid: str | None, bill_type: str) -> str | None:
    """The bill text of a day, or None when nothing was paid or refunded that day."""
    paid = [
        o
        for o in books.orders.values()
        if o.success_time is not None
        and _on(o.success_time, day)
        and sub_mchid in (None, o.sub_mchid)
    ]
    refunded = [
        r
        for r in books.refunds.values()
        if _on(r.created_at, day) and sub_mchid in (None, r.order.sub_mchid)
    ]
    rows = [
        (o.success_time or o.created_at, _payment_row(o)) for o in paid if bill_type != "REFUND"
    ]
    rows += [(r.created_at, _refund_row(r)) for r in refunded if bill_type != "SUCCESS"]
    if not rows:
        return None
    rows.sort(key=lambda pair: pair[0])
    lines = [HEADER, *("`" + ",`".join(fields) for _, fields in rows)]
    lines += [SUMMARY_HEADER, "`" + ",`".join(_summary([fields for _, fields in rows]))]
    return "\r\n".join(lines) + "\r\n"


def _on(moment: datetime, day: date) -> bool:
    return moment.astimezone(SHANGHAI).date() == day


def _fee(fen: int) -> str:
    return f"{Decimal(fen) / 100 * RATE:.5f}"


def _common(order: Order, moment: datetime) -> list[str]:
    return [
        f"{moment.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S}",
        order.sp_appid,
        order.sp_mchid,
        order.sub_mchid,
        "",
        order.transaction_id or "",
        order.out_trade_no,
        next(iter(order.payer.values()), ""),
        order.trade_type,
    ]


def _payment_row(order: Order) -> list[str]:
    state = "REVOKED" if order.trade_state == "REVOKED" else "SUCCESS"
    total = format_yuan(order.total)
    return [
        *_common(order, order.success_time or order.created_at),
        state,
        "OTHERS",
        "CNY",
        total,
        "0.00",
        "0",
        "0",
        "0.00",
        "0.00",
        "",
        "",
        order.description,
        order.attach,
        _fee(order.total),
        "0.60%",
        total,
        "0.00",
        "",
    ]


def _refund_row(refund: Refund) -> list[str]:
    amount = format_yuan(refund.amount)
    return [
        *_common(refund.order, refund.created_at),
        "REFUND",
        "OTHERS",
        "CNY",
        "0.00",
        "0.00",
        refund.refund_id,
        refund.out_refund_no,
        amount,
        "0.00",
        "ORIGINAL",
        refund.status,
        refund.order.description,
        refund.order.attach,
        _fee(-refund.amount),
        "0.60%",
        "0.00",
        amount,
        "",
    ]


def _summary(rows: list[list[str]]) -> list[str]:
    def total(column: int, places: int) -> str:
        return f"{sum(Decimal(row[column]) for row in rows):.{places}f}"

    # Columns: 12 应结订单金额, 16 退款金额, 17 充值券退款金额, 22 手续费,
    # 24 订单金额, 25 申请退款金额.
    return [
        str(len(rows)),
        total(12, 2),
        total(16, 2),
        total(17, 2),
        total(22, 5),
        total(24, 2),
        total(25, 2),
    ]
