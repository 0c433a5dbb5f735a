"""WeChat Pay fund-flow bills (资金账单): a day's money in and out of one account, exactly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from core.bills import SHANGHAI, BillFormatError, columns_of, named_cells, yuan_to_fen


class FundDirection(StrEnum):
    """Whether a flow put money into the account or took it out."""

    INCOME = "收入"
    EXPENSE = "支出"


@dataclass(frozen=True, slots=True)
class FundFlowRow:
    """One movement of money; amount and balance in fen, the amount never negative."""

    booked_at: datetime  # 记账时间
    business_no: str  # 微信支付业务单号: the transaction or refund id
    flow_no: str  # 资金流水单号
    business_name: str  # 业务名称
    business_type: str  # 业务类型, e.g. 交易, 退款, 扣除交易手续费
    direction: FundDirection
    amount_fen: int
    balance_fen: int  # the account's balance after this flow
    applicant: str  # 资金变更提交申请人
    remark: str
    voucher_no: str  # 业务凭证号: our out_trade_no or out_refund_no

    @property
    def signed_fen(self) -> int:
        """The amount as the balance sees it: negative for an expense."""
        return self.amount_fen if self.direction is FundDirection.INCOME else -self.amount_fen


@dataclass(frozen=True, slots=True)
class FundFlowSummary:
    """The bill's last line: its own counts and sums."""

    flow_count: int
    income_count: int
    income_fen: int
    expense_count: int
    expense_fen: int


@dataclass(frozen=True, slots=True)
class FundFlowBill:
    """A day's fund-flow bill of one account."""

    rows: tuple[FundFlowRow, ...]
    summary: FundFlowSummary

    @property
    def net_fen(self) -> int:
        """Income minus expense over the day."""
        return sum(row.signed_fen for row in self.rows)


class FundFlowBillSource(Protocol):
    """Where fund-flow bills come from (adapters/wechatpay_bills.py)."""

    async def fund_flow_bill(self, day: date, sub_mchid: str) -> FundFlowBill | None:
        """The day's BASIC-account bill of the sub-merchant; None when no money moved."""
        ...


_ROW_FIELDS = {
    "记账时间": "booked_at",
    "微信支付业务单号": "business_no",
    "资金流水单号": "flow_no",
    "业务名称": "business_name",
    "业务类型": "business_type",
    "收支类型": "direction",
    "收支金额(元)": "amount",
    "账户结余(元)": "balance",
    "资金变更提交申请人": "applicant",
    "备注": "remark",
    "业务凭证号": "voucher_no",
}
_SUMMARY_FIELDS = {
    "资金流水总笔数": "count",
    "收入笔数": "income_count",
    "收入金额": "income",
    "支出笔数": "expense_count",
    "支出金额": "expense",
}
_SUMMARY_START = "资金流水总笔数"


def parse_fund_flow_bill(text: str) -> FundFlowBill:
    """Parse a fund-flow bill: header, backquoted rows, summary header, summary line."""
    # Downloaded files write the unit in full-width brackets, some samples in ASCII ones.
    text = text.lstrip("\ufeff").replace("（", "(").replace("）", ")")
    lines = [line for line in text.splitlines() if line.strip()]
    split = next((i for i, line in enumerate(lines) if _SUMMARY_START in line[:9]), None)
    if split is None or split == 0 or len(lines) != split + 2:
        raise BillFormatError("a fund-flow bill has a header, rows, a summary header and a line")
    header = columns_of(lines[0].replace("`", ""), _ROW_FIELDS)
    rows = tuple(_row(named_cells(header, line)) for line in lines[1:split])
    summary_header = columns_of(lines[split].replace("`", ""), _SUMMARY_FIELDS)
    return FundFlowBill(rows, _summary(named_cells(summary_header, lines[split + 1])))


def _row(cells: dict[str, str]) -> FundFlowRow:
    try:
        moment = datetime.strptime(cells["booked_at"], "%Y-%m-%d %H:%M:%S")
        direction = FundDirection(cells["direction"])
    except ValueError as exc:
        raise BillFormatError(f"bad fund-flow row: {exc}") from exc
    amount = yuan_to_fen(cells["amount"])
    if amount < 0:
        raise BillFormatError("a fund-flow amount is never negative; 收支类型 gives its sign")
    return FundFlowRow(
        booked_at=moment.replace(tzinfo=SHANGHAI),
        business_no=cells["business_no"],
        flow_no=cells["flow_no"],
        business_name=cells["business_name"],
        business_type=cells["business_type"],
        direction=direction,
        amount_fen=amount,
        balance_fen=yuan_to_fen(cells["balance"]),
        applicant=cells["applicant"],
        remark=cells["remark"],
        voucher_no=cells["voucher_no"],
    )


def _summary(cells: dict[str, str]) -> FundFlowSummary:
    try:
        counts = [int(cells[name]) for name in ("count", "income_count", "expense_count")]
    except ValueError as exc:
        raise BillFormatError(f"bad fund-flow summary: {exc}") from exc
    return FundFlowSummary(
        flow_count=counts[0],
        income_count=counts[1],
        income_fen=yuan_to_fen(cells["income"]),
        expense_count=counts[2],
        expense_fen=yuan_to_fen(cells["expense"]),
    )
