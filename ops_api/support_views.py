"""Wire forms of the support console: conversations, messages, the driver panel, metrics."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from core.services.support_panel import BoundPlate, DriverPanel, QueueEntry
from core.staff import Permission, StaffIdentity
from core.store.chat import ChatHandoffRow, ChatMessageRow
from core.support import AgentDay, mask_openid, mask_phone


class ChatMessageOut(BaseModel):
    """One message of a conversation."""

    id: int
    sender: str = Field(description="driver, agent or system")
    author: str | None = Field(description="the agent's username")
    kind: str
    body: str
    at: datetime


class BoundPlateOut(BaseModel):
    """A plate bound to the driver."""

    plate: str
    verified: bool
    bound_at: datetime


class SupportConversationOut(BaseModel):
    """A conversation: why it came, who holds it, how it ended."""

    id: int
    status: str = Field(description="open (queued), taken or closed")
    reason: str = Field(description="asked, complaint or missed")
    openid: str = Field(description="masked unless the role may read contacts")
    driver_id: int | None
    created_at: datetime
    waiting_seconds: float = Field(description="queued until claimed (or now)")
    taken_by: str | None
    claimed_at: datetime | None
    first_response_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    category: str | None
    resolution: str | None
    rating: int | None
    plates: list[BoundPlateOut]
    last_messages: list[ChatMessageOut]


class SupportConversationsOut(BaseModel):
    """Conversations, oldest first."""

    items: list[SupportConversationOut]


class SupportHistoryOut(BaseModel):
    """A conversation and every message of it."""

    conversation: SupportConversationOut
    messages: list[ChatMessageOut]


class PanelStay(BaseModel):
    """A stay of one of the driver's plates."""

    ref: str
    plate: str | None
    status: str
    entered_at: datetime
    exited_at: datetime | None
    fee_fen: int | None


class PanelPayment(BaseModel):
    """A payment of the driver."""

    out_trade_no: str
    plate: str
    stay_ref: str | None
    amount_fen: int
    status: str
    created_at: datetime


class PanelRefund(BaseModel):
    """A refund of one of the driver's payments."""

    out_refund_no: str
    out_trade_no: str
    amount_fen: int
    status: str
    reason: str
    created_at: datetime


class PanelArrears(BaseModel):
    """A stay of a verified plate with money due."""

    ref: str
    plate: str
    place: str
    entered_at: datetime
    exited_at: datetime | None
    due_fen: int


class PanelNotice(BaseModel):
    """A notification to the driver."""

    kind: str
    reference: str
    created_at: datetime
    sent_at: datetime | None


class DriverPanelOut(BaseModel):
    """The driver behind a conversation; contacts masked unless the role may read them."""

    conversation_id: int
    driver_id: int | None
    openid: str
    phone: str | None
    plates: list[BoundPlateOut]
    stays: list[PanelStay]
    payments: list[PanelPayment]
    refunds: list[PanelRefund]
    arrears: list[PanelArrears]
    notices: list[PanelNotice]
    invoices: list[str] = Field(description="e-invoices do not exist yet: always empty")


class AgentDayOut(BaseModel):
    """One agent's day."""

    agent: str
    conversations: int
    waiting_seconds: float
    first_response_seconds: float | None
    handling_seconds: float | None
    ratings: int
    rating_average: float | None


class SupportMetricsOut(BaseModel):
    """Per agent, the conversations claimed on a day."""

    day: str
    agents: list[AgentDayOut]


def _contacts(staff: StaffIdentity) -> bool:
    return staff.may(Permission.DRIVER_CONTACT_READ)


def openid_for(staff: StaffIdentity, openid: str) -> str:
    """The openid as this staff account may see it."""
    return openid if _contacts(staff) else mask_openid(openid)


def message_out(row: ChatMessageRow) -> ChatMessageOut:
    """The wire form of a message."""
    return ChatMessageOut(
        id=row.id,
        sender=row.sender,
        author=row.author,
        kind=row.kind,
        body=row.body,
        at=row.created_at,
    )


def plate_out(plate: BoundPlate) -> BoundPlateOut:
    """The wire form of a bound plate."""
    return BoundPlateOut(plate=plate.plate, verified=plate.verified, bound_at=plate.bound_at)


def conversation_out(
    staff: StaffIdentity, row: ChatHandoffRow, now: datetime, entry: QueueEntry | None = None
) -> SupportConversationOut:
    """The wire form of a conversation."""
    waited = (row.claimed_at or row.closed_at or now) - row.created_at
    return SupportConversationOut(
        id=row.id,
        status=row.status,
        reason=row.reason,
        openid=openid_for(staff, row.openid),
        driver_id=row.driver_id,
        created_at=row.created_at,
        waiting_seconds=max(waited.total_seconds(), 0.0),
        taken_by=row.taken_by,
        claimed_at=row.claimed_at,
        first_response_at=row.first_response_at,
        closed_at=row.closed_at,
        outcome=row.outcome,
        category=row.category,
        resolution=row.resolution,
        rating=row.rating,
        plates=[plate_out(p) for p in entry.plates] if entry else [],
        last_messages=[message_out(m) for m in entry.last_messages] if entry else [],
    )


def panel_out(staff: StaffIdentity, panel: DriverPanel) -> DriverPanelOut:
    """The wire form of the driver panel, masked by role."""
    row = panel.row
    return DriverPanelOut(
        conversation_id=row.id,
        driver_id=row.driver_id,
        openid=openid_for(staff, row.openid),
        phone=panel.phone if _contacts(staff) else mask_phone(panel.phone),
        plates=[plate_out(p) for p in panel.plates],
        stays=[PanelStay.model_validate(s, from_attributes=True) for s in panel.stays],
        payments=[PanelPayment.model_validate(p, from_attributes=True) for p in panel.payments],
        refunds=[PanelRefund.model_validate(r, from_attributes=True) for r in panel.refunds],
        arrears=[PanelArrears.model_validate(a, from_attributes=True) for a in panel.arrears],
        notices=[PanelNotice.model_validate(n, from_attributes=True) for n in panel.notices],
        invoices=[],
    )


def day_out(day: AgentDay) -> AgentDayOut:
    """The wire form of an agent's day."""
    return AgentDayOut.model_validate(day, from_attributes=True)
