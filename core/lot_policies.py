"""A lot's entry policy as staff set it, and the rules every stored policy keeps."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from core.errors import DomainError
from core.lanes import ListAction

MAX_STALE_HOURS = 24 * 365
MAX_THRESHOLD_FEN = 10_000_000


class PolicyInvalidError(DomainError):
    """The policy asked for breaks a rule of the lot (422, the message says which)."""

    code = "policy_invalid"
    status = 422
    message_zh = "停车场规则有误"


@dataclass(frozen=True, slots=True)
class PolicyValues:
    """The stored fields of a lot policy (`lot_policies`); defaults are a lot without a row."""

    sold_spaces: int = 0
    temporary_capacity: int | None = None
    block_action: str = ListAction.REFUSE.value
    arrears_threshold_fen: int | None = None
    arrears_action: str = ListAction.REFUSE.value
    stale_after_hours: int = 24 * 30
    min_confidence: int = 0
    collect_arrears_at_exit: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The values by field name (for the audit log)."""
        return {name: getattr(self, name) for name in FIELDS}


FIELDS = (
    "sold_spaces",
    "temporary_capacity",
    "block_action",
    "arrears_threshold_fen",
    "arrears_action",
    "stale_after_hours",
    "min_confidence",
    "collect_arrears_at_exit",
)


def default_policy(hospital: bool) -> PolicyValues:
    """What a lot without its own row does: refuse; a hospital flags and collects at the exit."""
    action = ListAction.FLAG.value if hospital else ListAction.REFUSE.value
    return PolicyValues(
        block_action=action, arrears_action=action, collect_arrears_at_exit=hospital
    )


def changed(current: PolicyValues, changes: dict[str, Any]) -> PolicyValues:
    """The policy with some fields replaced; unknown field names are refused."""
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise PolicyInvalidError(f"未知规则字段：{', '.join(unknown)}")
    return replace(current, **changes)


def check_policy(
    values: PolicyValues, *, capacity: int, hospital: bool, owned_spaces: int
) -> PolicyValues:
    """Raise PolicyInvalidError unless the policy fits the lot; return it unchanged."""
    if not 0 <= values.sold_spaces <= capacity:
        raise PolicyInvalidError(f"已售车位须在0至{capacity}之间（总车位{capacity}个）")
    if values.sold_spaces < owned_spaces:
        raise PolicyInvalidError(f"已登记业主车位{owned_spaces}个，已售车位不能少于此数")
    public = capacity - values.sold_spaces
    if values.temporary_capacity is not None and not 0 <= values.temporary_capacity <= public:
        raise PolicyInvalidError(f"临时车位数须在0至{public}之间（总车位减已售车位）")
    for name, label in (("block_action", "禁入名单"), ("arrears_action", "欠费")):
        action = getattr(values, name)
        if action not in (ListAction.REFUSE.value, ListAction.FLAG.value):
            raise PolicyInvalidError(f"{label}处理方式须为 refuse（拒绝）或 flag（标记）")
        if hospital and action == ListAction.REFUSE.value:
            raise PolicyInvalidError(f"医院停车场不能因{label}拒绝入场，只能标记")
    threshold = values.arrears_threshold_fen
    if threshold is not None and not 1 <= threshold <= MAX_THRESHOLD_FEN:
        raise PolicyInvalidError("欠费门槛须在0.01元至100000元之间")
    if not 1 <= values.stale_after_hours <= MAX_STALE_HOURS:
        raise PolicyInvalidError(f"超时复核小时数须在1至{MAX_STALE_HOURS}之间")
    if not 0 <= values.min_confidence <= 100:
        raise PolicyInvalidError("最低识别置信度须在0至100之间")
    return values
