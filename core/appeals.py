"""Fee appeals and complaints: kinds, categories, decisions, deadlines and approval limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailedError
from core.money import format_yuan

MAX_PHOTOS = 3


class CaseKind(StrEnum):
    """Where a case came from: a driver's appeal, or a WeChat Pay consumer complaint."""

    APPEAL = "appeal"
    WECHATPAY_COMPLAINT = "wechatpay_complaint"


class Category(StrEnum):
    """What the driver disputes."""

    WRONG_FEE = "wrong_fee"  # the amount is wrong (tariff, time)
    NOT_MY_CAR = "not_my_car"  # plate misread, another car's stay
    DID_NOT_PARK = "did_not_park"  # the sensor saw a stay that was not there
    CHARGED_TWICE = "charged_twice"
    SERVICE = "service"  # staff, signage, equipment
    OTHER = "other"


class CaseStatus(StrEnum):
    """Where a case stands."""

    OPEN = "open"
    AWAITING_APPROVAL = "awaiting_approval"
    RESOLVED = "resolved"
    REJECTED = "rejected"


OPEN_CASES = (CaseStatus.OPEN, CaseStatus.AWAITING_APPROVAL)


class Action(StrEnum):
    """What support decides on a case."""

    REJECT = "reject"
    WAIVE = "waive"  # all or part of what is unpaid (a discount of an unpaid fee)
    REFUND = "refund"  # all or part of what was paid (a discount of a paid fee)


MONEY_ACTIONS = (Action.WAIVE, Action.REFUND)


class ApprovalStatus(StrEnum):
    """Where a money action waiting for a second person stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    FAILED = "failed"  # approved, but the service refused to apply it


class CaseNotFoundError(NotFoundError):
    """No appeal or complaint with this id (or not the caller's)."""

    code = "appeal_not_found"
    message_zh = "未找到该申诉"


class CaseClosedError(ConflictError):
    """The case was already decided or waits for approval."""

    code = "appeal_closed"
    message_zh = "该申诉已处理或正在等待审批"


class AppealExistsError(ConflictError):
    """The stay already has an open appeal."""

    code = "appeal_exists"
    message_zh = "该停车记录已有处理中的申诉"


class TooManyPhotosError(ValidationFailedError):
    """More photos than an appeal takes."""

    code = "too_many_photos"
    message_zh = f"最多上传{MAX_PHOTOS}张照片"


class ApprovalNotFoundError(NotFoundError):
    """No approval with this id."""

    code = "approval_not_found"
    message_zh = "未找到该审批"


class ApprovalDecidedError(ConflictError):
    """Someone else approved or rejected it first."""

    code = "approval_decided"
    message_zh = "该审批已被处理"


class OwnActionError(PermissionDeniedError):
    """An approver named in the request is the one who asked for it."""

    code = "own_action"
    message_zh = "不能审批自己提交的操作"


@dataclass(frozen=True, slots=True)
class ApprovalLimits:
    """Per role and money action, the most fen applied without a second person."""

    by_role: dict[str, dict[str, int]]

    def limit(self, role: str, action: Action) -> int:
        """The limit; a role or action not configured has none (every amount waits)."""
        return self.by_role.get(role, {}).get(action.value, 0)

    def needs_approval(self, role: str, action: Action, amount_fen: int) -> bool:
        """Whether a money action of this amount waits for a finance approver."""
        return action in MONEY_ACTIONS and amount_fen > self.limit(role, action)

    def check_direct(self, role: str, action: Action, amount_fen: int) -> None:
        """A waiver or refund made outside an appeal: above the role's limit it is refused (it
        goes through an appeal, where a finance approver decides), so the limit has no bypass."""
        if self.needs_approval(role, action, amount_fen):
            limit = self.limit(role, action)
            raise OverLimitError(
                f"金额超过本岗位的处理额度（{format_yuan(limit)}元），请通过申诉由财务审批",
                detail=f"{role} {action.value} {amount_fen} > {limit}",
            )


class OverLimitError(PermissionDeniedError):
    """A direct waiver or refund above the role's limit: it needs an appeal and an approver."""

    code = "over_limit"
    message_zh = "金额超过本岗位的处理额度，请通过申诉由财务审批"


def check_photos(refs: list[str], driver_id: int) -> None:
    """At most three, each one the driver uploaded (their own key prefix)."""
    if len(refs) > MAX_PHOTOS:
        raise TooManyPhotosError(detail=str(len(refs)))
    prefix = photo_prefix(driver_id)
    for ref in refs:
        if not ref.startswith(prefix) or "/" in ref[len(prefix) :] or ".." in ref:
            raise ValidationFailedError("照片无效，请重新上传", detail=ref)


def photo_prefix(driver_id: int) -> str:
    """The object-storage key prefix of one driver's appeal photos."""
    return f"appeals/{driver_id}/"


def deadline(created_at: datetime, days: int) -> datetime:
    """When support must have answered an appeal."""
    return created_at + timedelta(days=days)


def is_overdue(status: CaseStatus, due_at: datetime, now: datetime) -> bool:
    """An open case past its deadline."""
    return status in OPEN_CASES and now > due_at


def check_decision(action: Action, amount_fen: int | None) -> int:
    """A money action has a positive amount; a rejection none. Answers the amount (0 for reject)."""
    if action is Action.REJECT:
        if amount_fen:
            raise ValidationFailedError("驳回时不能填写金额")
        return 0
    if amount_fen is None or amount_fen <= 0:
        raise ValidationFailedError("减免或退款金额须大于 0")
    return amount_fen


def check_approver(requested_by_id: int, approver_id: int) -> None:
    """A second person approves: never the one who asked."""
    if requested_by_id == approver_id:
        raise OwnActionError(detail=f"staff {approver_id} asked for it")
