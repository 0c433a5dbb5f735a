"""Write-offs of arrears (坏账核销): asked for with a reason, applied only by a second person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.errors import ConflictError, NotFoundError
from core.sheets import Sheet


class WriteOffStatus(StrEnum):
    """Where a write-off stands: pending -> approved (applied) | rejected."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class WriteOffNotFoundError(NotFoundError):
    """No write-off with this id in the account's scope."""

    code = "write_off_not_found"
    message_zh = "未找到该核销申请"


class WriteOffPendingError(ConflictError):
    """The arrear already has a write-off waiting for approval."""

    code = "write_off_pending"
    message_zh = "该欠费已有待审批的核销申请"


class WriteOffDecidedError(ConflictError):
    """Someone else approved or rejected it first."""

    code = "write_off_decided"
    message_zh = "该核销申请已被处理"


class WriteOffStaleError(ConflictError):
    """What is due changed since the request (paid, waived, re-priced): it must be asked anew."""

    code = "write_off_stale"
    message_zh = "欠费金额已变化，请驳回后重新申请"


@dataclass(frozen=True, slots=True)
class WriteOff:
    """A request to write off what a stay still owes, and its decision."""

    id: int
    stay_ref: str
    plate: str
    operator_code: str
    amount_fen: int
    reason: str
    status: WriteOffStatus
    requested_by: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None

    @property
    def reference(self) -> str:
        """The ledger and audit reference of the write-off."""
        return f"WO{self.id}"


WRITE_OFF_HEADERS = (
    "核销单号", "停车记录号", "车牌号", "运营单位", "核销金额（元）", "原因",
    "状态", "申请人", "申请时间", "审批人", "审批时间", "审批意见",
)  # fmt: skip
STATUS_ZH = {
    WriteOffStatus.PENDING: "待审批",
    WriteOffStatus.APPROVED: "已核销",
    WriteOffStatus.REJECTED: "已驳回",
}


def write_offs_sheet(title: str, found: list[WriteOff]) -> Sheet:
    """Write-offs as a sheet (reports, exports) with the total written off."""
    rows = tuple(
        (
            w.reference,
            w.stay_ref,
            w.plate,
            w.operator_code,
            w.amount_fen,
            w.reason,
            STATUS_ZH[w.status],
            w.requested_by,
            w.requested_at,
            w.decided_by,
            w.decided_at,
            w.decision_note,
        )
        for w in found
    )
    return Sheet(title, WRITE_OFF_HEADERS, rows, frozenset({4}), total_label="合计")
