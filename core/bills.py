"""WeChat Pay trade bills (交易账单): the rows of one day and sub-merchant, parsed exactly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from core.errors import ConflictError, ValidationFailedError

SHANGHAI = ZoneInfo("Asia/Shanghai")
# WeChat Pay serves bills of the last three months only; 90 days is the safe reading of that.
BILL_HISTORY = timedelta(days=90)
_YUAN = re.compile(r"^-?\d+(\.\d{1,2})?$")


class BillFormatError(ValueError):
    """The bill text is not a WeChat Pay trade bill."""


class BillDateError(ValidationFailedError):
    """Bills exist for past days of the last three months only."""

    code = "bill_date"
    message_zh = "账单日期须为三个月内的过去日期"


class BillNotReadyError(ConflictError):
    """WeChat Pay is still generating the day's bill."""

    code = "bill_not_ready"
    message_zh = "账单生成中，请在次日上午10点后再试"


class BillTradeState(StrEnum):
    """What a bill row records: a payment, or a refund of one."""

    SUCCESS = "SUCCESS"
    REFUND = "REFUND"
    REVOKED = "REVOKED"  # a codepay order paid, then reversed


@dataclass(frozen=True, slots=True)
class BillRow:
    """One row of an ALL trade bill; money in fen except the fee (five decimals of yuan)."""

    trade_time: datetime
    sub_mchid: str
    transaction_id: str
    out_trade_no: str
    trade_type: str
    trade_state: BillTradeState
    settlement_fen: int  # 应结订单金额
    order_fen: int  # 订单金额
    refund_id: str | None
    out_refund_no: str | None
    refund_fen: int  # 退款金额
    requested_refund_fen: int  # 申请退款金额
    refund_status: str | None
    fee_yuan: Decimal


@dataclass(frozen=True, slots=True)
class BillSummary:
    """The bill's last line: its own count and sums."""

    trade_count: int
    settlement_fen: int
    refund_fen: int
    fee_yuan: Decimal
    order_fen: int
    requested_refund_fen: int


@dataclass(frozen=True, slots=True)
class TradeBill:
    """A day's trade bill of one sub-merchant."""

    rows: tuple[BillRow, ...]
    summary: BillSummary


class TradeBillSource(Protocol):
    """Where trade bills come from (adapters/wechatpay_bills.py)."""

    async def trade_bill(self, day: date, sub_mchid: str) -> TradeBill | None:
        """The day's ALL bill of the sub-merchant; None when it had no trades that day."""
        ...


def check_bill_date(day: date, now: datetime) -> None:
    """Refuse today, future days and days older than the bill history."""
    today = now.astimezone(SHANGHAI).date()
    if day >= today:
        raise BillDateError("账单日期须早于今天", detail=f"{day} is not before {today}")
    if day < today - BILL_HISTORY:
        raise BillDateError("只能对账三个月内的账单", detail=f"{day} is older than 3 months")


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The instants a Beijing calendar day starts and ends (bills cut at 00:00 Beijing)."""
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def yuan_to_fen(text: str) -> int:
    """'12.34' yuan -> 1234 fen, exactly; more than two decimals is an error, not a rounding."""
    if not _YUAN.match(text):
        raise BillFormatError(f"not an amount in yuan: {text!r}")
    return int(Decimal(text) * 100)


_ROW_FIELDS = {
    "交易时间": "trade_time",
    "特约商户号": "sub_mchid",
    "微信订单号": "transaction_id",
    "商户订单号": "out_trade_no",
    "交易类型": "trade_type",
    "交易状态": "trade_state",
    "应结订单金额": "settlement",
    "微信退款单号": "refund_id",
    "商户退款单号": "out_refund_no",
    "退款金额": "refund",
    "退款状态": "refund_status",
    "手续费": "fee",
    "订单金额": "order",
    "申请退款金额": "requested_refund",
}
_SUMMARY_FIELDS = {
    "总交易单数": "count",
    "应结订单总金额": "settlement",
    "退款总金额": "refund",
    "手续费总金额": "fee",
    "订单总金额": "order",
    "申请退款总金额": "requested_refund",
}


def parse_trade_bill(text: str) -> TradeBill:
    """Parse an ALL trade bill: header, backquoted rows, summary header, summary line."""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    split = next((i for i, line in enumerate(lines) if line.startswith("总交易单数")), None)
    if split is None or split == 0 or len(lines) != split + 2:
        raise BillFormatError("a trade bill has a header, rows, a summary header and a summary")
    header = columns_of(lines[0], _ROW_FIELDS)
    rows = tuple(_row(named_cells(header, line)) for line in lines[1:split])
    summary = _summary(named_cells(columns_of(lines[split], _SUMMARY_FIELDS), lines[split + 1]))
    return TradeBill(rows, summary)


def columns_of(line: str, wanted: dict[str, str]) -> list[str | None]:
    names = [wanted.get(name.strip()) for name in line.split(",")]
    missing = set(wanted.values()) - set(names)
    if missing:
        raise BillFormatError(f"bill header lacks {sorted(missing)}")
    return names


def named_cells(columns: list[str | None], line: str) -> dict[str, str]:
    # Every field starts with a backquote (so spreadsheets keep long numbers as text), which
    # also lets a field such as the goods' name hold a comma.
    if not line.startswith("`"):
        raise BillFormatError("bill fields start with a backquote")
    cells = line[1:].split(",`")
    if len(cells) != len(columns):
        raise BillFormatError(f"{len(cells)} fields where the header has {len(columns)}")
    return {name: cell.strip() for name, cell in zip(columns, cells, strict=True) if name}


def _row(cells: dict[str, str]) -> BillRow:
    try:
        moment = datetime.strptime(cells["trade_time"], "%Y-%m-%d %H:%M:%S")
        state = BillTradeState(cells["trade_state"])
        fee = Decimal(cells["fee"])
    except ValueError as exc:  # InvalidOperation is a ValueError too
        raise BillFormatError(f"bad bill row: {exc}") from exc
    return BillRow(
        trade_time=moment.replace(tzinfo=SHANGHAI),
        sub_mchid=cells["sub_mchid"],
        transaction_id=cells["transaction_id"],
        out_trade_no=cells["out_trade_no"],
        trade_type=cells["trade_type"],
        trade_state=state,
        settlement_fen=yuan_to_fen(cells["settlement"]),
        order_fen=yuan_to_fen(cells["order"]),
        refund_id=_id(cells["refund_id"]),
        out_refund_no=_id(cells["out_refund_no"]),
        refund_fen=yuan_to_fen(cells["refund"]),
        requested_refund_fen=yuan_to_fen(cells["requested_refund"]),
        refund_status=cells["refund_status"] or None,
        fee_yuan=fee,
    )


def _id(cell: str) -> str | None:
    # A payment row writes "0" where a refund row has its refund numbers.
    return None if cell in ("", "0") else cell


def _summary(cells: dict[str, str]) -> BillSummary:
    try:
        count, fee = int(cells["count"]), Decimal(cells["fee"])
    except ValueError as exc:
        raise BillFormatError(f"bad bill summary: {exc}") from exc
    return BillSummary(
        trade_count=count,
        settlement_fen=yuan_to_fen(cells["settlement"]),
        refund_fen=yuan_to_fen(cells["refund"]),
        fee_yuan=fee,
        order_fen=yuan_to_fen(cells["order"]),
        requested_refund_fen=yuan_to_fen(cells["requested_refund"]),
    )
