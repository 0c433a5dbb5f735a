"""Hand-over batches of escalated arrears to the traffic police, and the port that sends them.

Each batch gathers unpaid stays already escalated (core/arrears.py: a notice served, its period
passed) and not in an earlier batch; it is exported as CSV or XLSX, sent through the port and
then marked handed over with the receiving system's receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.errors import ConflictError, NotFoundError
from core.sheets import Sheet


class BatchStatus(StrEnum):
    """A batch is drafted, then handed over once."""

    DRAFT = "draft"
    HANDED_OVER = "handed_over"


class BatchNotFoundError(NotFoundError):
    """No hand-over batch with this reference."""

    code = "handover_not_found"
    message_zh = "未找到该移交批次"


class NothingToHandOverError(ConflictError):
    """No escalated arrear in scope is waiting for a batch."""

    code = "nothing_to_hand_over"
    message_zh = "没有待移交的欠费记录"


class BatchHandedOverError(ConflictError):
    """The batch was handed over already."""

    code = "handover_done"
    message_zh = "该批次已移交"


@dataclass(frozen=True, slots=True)
class HandoverLine:
    """One unpaid stay as the traffic police receive it."""

    stay_ref: str
    plate: str
    colour: str
    place: str  # zone, street and berth
    entered_at: datetime
    exited_at: datetime
    evidence: tuple[str, ...]  # image references of the stay and of the notice
    amount_fen: int
    notice_served_at: datetime | None


@dataclass(frozen=True, slots=True)
class HandoverBatch:
    """A batch and its lines."""

    ref: str
    status: BatchStatus
    created_by: str
    created_at: datetime
    lines: tuple[HandoverLine, ...]
    handed_over_at: datetime | None = None
    receipt: str | None = None

    @property
    def total_fen(self) -> int:
        """What the batch's stays owe."""
        return sum(line.amount_fen for line in self.lines)


class TrafficPoliceGateway(Protocol):
    """Where batches go: a real interface of the traffic police, or a file drop."""

    async def submit(self, batch: HandoverBatch) -> str:
        """Deliver the batch; answers the receiving side's receipt number."""
        ...


COLOUR_ZH = {
    "BLUE": "蓝",
    "GREEN": "绿",
    "YELLOW": "黄",
    "BLACK": "黑",
    "WHITE": "白",
    "LIMEGREEN": "黄绿",
}
HEADERS = (
    "车牌号", "车牌颜色", "停车地点", "驶入时间", "驶离时间",
    "证据材料", "欠费金额（元）", "催缴通知送达时间", "停车记录号",
)  # fmt: skip


def batch_sheet(batch: HandoverBatch) -> Sheet:
    """The batch as the sheet the traffic police open, with the total owed."""
    rows = tuple(
        (
            line.plate,
            COLOUR_ZH.get(line.colour, line.colour or "未知"),
            line.place,
            line.entered_at,
            line.exited_at,
            "; ".join(line.evidence),
            line.amount_fen,
            line.notice_served_at,
            line.stay_ref,
        )
        for line in batch.lines
    )
    return Sheet(f"移交批次 {batch.ref}", HEADERS, rows, frozenset({6}), total_label="合计")
