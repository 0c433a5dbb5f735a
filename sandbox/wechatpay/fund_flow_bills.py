"""Sub-merchant fund-flow bills (子商户资金账单), written from the sandbox's own books.

A sub-merchant's BASIC account receives each payment at its success time, less the fee
(0.6%, rounded half up to the fen), and pays out each refund when it is accepted, less the
share of the fee that comes back; every row carries the balance after it (the account starts
empty). `GET /v3/bill/sub-merchant-fundflowbill` answers a signed list of encrypted files:
the bill (gzip when tar_type=GZIP) is sealed with AEAD_AES_256_GCM under a fresh key, the
key is RSA-OAEP encrypted to the merchant's API certificate (encrypt_key), and the SHA1 is of
the plain bill text, as for trade bills. The file is downloaded from /v3/billdownload/file.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.money import format_yuan
from sandbox.wechatpay.bills import LINK_VALID, RATE, bill_date_of
from sandbox.wechatpay.orders import SHANGHAI, PayBooks, SandboxApiError
from sandbox.wechatpay.state import SANDBOX_KEY, BillFile, PaySandbox, answer, sub_mchid_of

HEADER = (
    "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,"
    "账户结余（元）,资金变更提交申请人,备注,业务凭证号"
)
SUMMARY_HEADER = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额"
ACCOUNT_TYPES = ("BASIC", "OPERATION", "FEES", "DEPOSIT")


@dataclass(frozen=True, slots=True)
class Flow:
    """One movement of a sub-merchant's money."""

    at: datetime
    business_no: str
    flow_no: str
    kind: str  # 业务名称 and 业务类型
    amount: int  # signed fen
    applicant: str
    remark: str
    voucher_no: str


def install(app: web.Application) -> None:
    """Add the fund-flow bill route (downloads share the trade bills' route)."""
    app.router.add_get("/v3/bill/sub-merchant-fundflowbill", sub_merchant_fund_flow_bill)


async def sub_merchant_fund_flow_bill(request: web.Request) -> web.Response:
    """GET /v3/bill/sub-merchant-fundflowbill: the encrypted day's bill, as a list of one."""
    sandbox = request.app[SANDBOX_KEY]
    now = sandbox.clock.now()
    sub_mchid = sub_mchid_of(request)
    day = bill_date_of(request.query.get("bill_date", ""), now)
    account_type = request.query.get("account_type", "")
    tar_type = request.query.get("tar_type", "")
    if account_type not in ACCOUNT_TYPES or tar_type not in ("", "GZIP"):
        raise SandboxApiError(400, "PARAM_ERROR", "account_type 或 tar_type 不正确")
    if request.query.get("algorithm") != "AEAD_AES_256_GCM":
        raise SandboxApiError(400, "PARAM_ERROR", "沙箱仅支持 AEAD_AES_256_GCM 加密算法")
    # Parking fees land in the BASIC account; the others see no flows in the sandbox.
    text = render(sandbox.books, day, sub_mchid) if account_type == "BASIC" else None
    if text is None:
        raise SandboxApiError(400, "NO_STATEMENT_EXIST", "请求的账单文件不存在")
    raw = text.encode()
    entry = _seal(sandbox, gzip.compress(raw, mtime=0) if tar_type else raw, now)
    entry["download_url"] = f"{request.url.origin()}{entry['download_url']}"
    entry["hash_value"] = hashlib.sha1(raw).hexdigest()
    return answer(sandbox, 200, {"download_bill_count": 1, "download_bill_list": [entry]})


def _seal(sandbox: PaySandbox, content: bytes, now: datetime) -> dict[str, object]:
    # The key is 32 ASCII characters, so its RSA plaintext decodes as UTF-8 the way SDKs read it.
    key, nonce = secrets.token_hex(16), secrets.token_hex(8)
    sealed = AESGCM(key.encode()).encrypt(nonce.encode(), content, b"")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    token = secrets.token_urlsafe(24)
    sandbox.bill_files[token] = BillFile(sealed, now + LINK_VALID)
    return {
        "bill_sequence": 1,
        "download_url": f"/v3/billdownload/file?token={token}",
        "encrypt_key": base64.b64encode(sandbox.merchant_key.encrypt(key.encode(), oaep)).decode(),
        "hash_type": "SHA1",
        "nonce": nonce,
    }


def render(books: PayBooks, day: date, sub_mchid: str) -> str | None:
    """The bill text of a day, or None when no money moved that day."""
    balance, lines, amounts = 0, [], []
    for flow in sorted(flows(books, sub_mchid), key=lambda f: f.at):
        balance += flow.amount
        if flow.at.astimezone(SHANGHAI).date() == day:
            lines.append(_line(flow, balance))
            amounts.append(flow.amount)
    if not lines:
        return None
    income = [a for a in amounts if a > 0]
    expense = [-a for a in amounts if a <= 0]
    summary = [
        len(amounts),
        len(income),
        format_yuan(sum(income)),
        len(expense),
        format_yuan(sum(expense)),
    ]
    return "\r\n".join([HEADER, *lines, SUMMARY_HEADER, _fields(summary)]) + "\r\n"


def flows(books: PayBooks, sub_mchid: str) -> list[Flow]:
    """Every movement of the sub-merchant's BASIC account the sandbox has seen."""
    found: list[Flow] = []
    for order in books.orders.values():
        if order.sub_mchid != sub_mchid or order.success_time is None or not order.transaction_id:
            continue
        paid, txn = order.success_time, order.transaction_id
        found.append(Flow(paid, txn, txn, "交易", order.total, "system", "", order.out_trade_no))
        fee = fee_of(order.total)
        if fee:  # a fee that rounds to nothing moves no money
            found.append(
                Flow(paid, txn, f"{txn}F", "扣除交易手续费", -fee, "system", "", order.out_trade_no)
            )
    for refund in books.refunds.values():
        if refund.order.sub_mchid != sub_mchid:
            continue
        returned = fee_of(refund.amount)
        remark = f"退款总金额{format_yuan(refund.amount)}元;含手续费{format_yuan(returned)}元"
        applicant = f"{refund.order.sp_mchid}API"
        amount = returned - refund.amount
        no = refund.refund_id
        found.append(
            Flow(refund.created_at, no, no, "退款", amount, applicant, remark, refund.out_refund_no)
        )
    return found


def fee_of(fen: int) -> int:
    """The fee on an amount in whole fen, rounded half up as the account is charged."""
    return int((Decimal(fen) * RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _line(flow: Flow, balance: int) -> str:
    direction = "收入" if flow.amount > 0 else "支出"
    return _fields(
        [
            f"{flow.at.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S}",
            flow.business_no,
            flow.flow_no,
            flow.kind,
            flow.kind,
            direction,
            format_yuan(abs(flow.amount)),
            format_yuan(balance),
            flow.applicant,
            flow.remark,
            flow.voucher_no,
        ]
    )


def _fields(values: list[object]) -> str:
    return "`" + ",`".join(str(value) for value in values)
