"""Staff roles, their permissions, where an account may act, and the login lock-out rule."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from core.errors import PermissionDeniedError, ValidationFailedError

# The documented password of the demo accounts: refused outside development.
DEMO_PASSWORD = "demo-password-2026"


class Role(StrEnum):
    """The one role a staff account has."""

    ADMIN = "admin"
    FINANCE = "finance"
    CASHIER = "cashier"
    ENFORCEMENT_OFFICER = "enforcement_officer"
    SUPPORT_AGENT = "support_agent"
    REMOTE_ATTENDANT = "remote_attendant"
    VIEWER = "viewer"
    MERCHANT = "merchant"  # a shop or hospital department, bound to one merchant code


class Permission(StrEnum):
    """One thing a staff endpoint may demand; roles grant sets of these."""

    SELF = "self"  # see one's own account; every role has it
    STAFF_MANAGE = "staff_manage"
    AUDIT_READ = "audit_read"
    LEDGER_READ = "ledger_read"
    STAYS_READ = "stays_read"
    TARIFFS_MANAGE = "tariffs_manage"
    DEVICES_MANAGE = "devices_manage"
    ARREARS_READ = "arrears_read"
    ARREARS_MANAGE = "arrears_manage"
    PAYMENTS_REFUND = "payments_refund"
    CASHIER_SHIFT = "cashier_shift"
    LANE_CONTROL = "lane_control"
    CHAT_TAKEOVER = "chat_takeover"
    REPORTS_READ = "reports_read"
    PATROL = "patrol"
    RIGHTS_MANAGE = "rights_manage"
    BLOCKS_MANAGE = "blocks_manage"
    LOTS_MANAGE = "lots_manage"
    STAYS_REVIEW = "stays_review"
    MERCHANT_VALIDATE = "merchant_validate"
    MERCHANT_USAGE_READ = "merchant_usage_read"
    DRIVER_CONTACT_READ = "driver_contact_read"  # a driver's openid and phone unmasked
    APPEALS_HANDLE = "appeals_handle"
    APPEALS_APPROVE = "appeals_approve"
    INVOICES_MANAGE = "invoices_manage"
    SETTLEMENT_MANAGE = "settlement_manage"  # operator contracts, profit sharing runs
    WRITE_OFFS_REQUEST = "write_offs_request"
    WRITE_OFFS_APPROVE = "write_offs_approve"
    HANDOVERS_MANAGE = "handovers_manage"  # batches of arrears for the traffic police
    NETWORK_MANAGE = "network_manage"  # the register of networked lots and their keys


P = Permission

# Why each role has what it has is written out in docs/staff.md; a test keeps the two in step.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.FINANCE: frozenset(
        {
            P.SELF,
            P.LEDGER_READ,
            P.REPORTS_READ,
            P.STAYS_READ,
            P.ARREARS_READ,
            P.ARREARS_MANAGE,
            P.PAYMENTS_REFUND,
            P.AUDIT_READ,
            P.STAYS_REVIEW,
            P.MERCHANT_USAGE_READ,
            P.APPEALS_HANDLE,
            P.APPEALS_APPROVE,
            P.INVOICES_MANAGE,
            P.SETTLEMENT_MANAGE,
            P.WRITE_OFFS_REQUEST,
            P.WRITE_OFFS_APPROVE,
        }
    ),
    Role.CASHIER: frozenset(
        {
            P.SELF,
            P.CASHIER_SHIFT,
            P.LANE_CONTROL,
            P.STAYS_READ,
            P.ARREARS_READ,
            P.RIGHTS_MANAGE,
            P.STAYS_REVIEW,
        }
    ),
    Role.ENFORCEMENT_OFFICER: frozenset(
        {
            P.SELF,
            P.ARREARS_READ,
            P.ARREARS_MANAGE,
            P.STAYS_READ,
            P.PATROL,
            P.BLOCKS_MANAGE,
            P.WRITE_OFFS_REQUEST,
            P.HANDOVERS_MANAGE,
        }
    ),
    Role.SUPPORT_AGENT: frozenset(
        {
            P.SELF,
            P.CHAT_TAKEOVER,
            P.STAYS_READ,
            P.LEDGER_READ,
            P.ARREARS_READ,
            P.ARREARS_MANAGE,
            P.PAYMENTS_REFUND,
            P.STAYS_REVIEW,
            P.APPEALS_HANDLE,
            P.WRITE_OFFS_REQUEST,
        }
    ),
    Role.REMOTE_ATTENDANT: frozenset({P.SELF, P.LANE_CONTROL, P.STAYS_READ}),
    Role.VIEWER: frozenset(
        {P.SELF, P.STAYS_READ, P.ARREARS_READ, P.LEDGER_READ, P.REPORTS_READ, P.MERCHANT_USAGE_READ}
    ),
    # Bound to its own merchant code: every merchant route checks `acts_for_merchant`.
    Role.MERCHANT: frozenset({P.SELF, P.MERCHANT_VALIDATE, P.MERCHANT_USAGE_READ}),
}

ROLE_NAMES_ZH: dict[Role, str] = {
    Role.ADMIN: "管理员",
    Role.FINANCE: "财务",
    Role.CASHIER: "收费员",
    Role.ENFORCEMENT_OFFICER: "巡查执法员",
    Role.SUPPORT_AGENT: "客服",
    Role.REMOTE_ATTENDANT: "云坐席",
    Role.VIEWER: "只读用户",
    Role.MERCHANT: "商户",
}


def permissions_of(role: Role) -> frozenset[Permission]:
    """Every permission a role grants."""
    return ROLE_PERMISSIONS[role]


def grants(role: Role, permission: Permission) -> bool:
    """Whether a role grants a permission."""
    return permission in ROLE_PERMISSIONS[role]


def parse_role(text: str) -> Role:
    """The role named by text, or a 400 listing the valid ones."""
    try:
        return Role(text)
    except ValueError:
        valid = ", ".join(role.value for role in Role)
        raise ValidationFailedError(f"未知角色：{text}（可选：{valid}）") from None


class ScopeKind(StrEnum):
    """What a scope entry names."""

    OPERATOR = "operator"
    DISTRICT = "district"
    LOT = "lot"


@dataclass(frozen=True, slots=True)
class Scope:
    """Operators, districts and lots an account may act on; all empty means city-wide."""

    operators: frozenset[str] = field(default_factory=frozenset)
    districts: frozenset[str] = field(default_factory=frozenset)
    lots: frozenset[str] = field(default_factory=frozenset)

    @property
    def city_wide(self) -> bool:
        """Whether the account is not limited to any place."""
        return not (self.operators or self.districts or self.lots)

    def entries(self) -> list[tuple[ScopeKind, str]]:
        """The scope as sorted (kind, code) pairs, the form it is stored in."""
        pairs = [(ScopeKind.OPERATOR, code) for code in self.operators]
        pairs += [(ScopeKind.DISTRICT, code) for code in self.districts]
        pairs += [(ScopeKind.LOT, code) for code in self.lots]
        return sorted(pairs)

    def as_dict(self) -> dict[str, list[str]]:
        """A JSON-friendly form with sorted codes."""
        return {
            "operators": sorted(self.operators),
            "districts": sorted(self.districts),
            "lots": sorted(self.lots),
        }


CITY_WIDE = Scope()

_CODE = re.compile(r"^[^\s:]{1,32}$")


def scope_from_entries(entries: Iterable[tuple[str, str]]) -> Scope:
    """Build a scope from (kind, code) pairs, as stored or typed."""
    found: dict[ScopeKind, set[str]] = {kind: set() for kind in ScopeKind}
    for kind_text, code in entries:
        try:
            kind = ScopeKind(kind_text)
        except ValueError:
            raise ValidationFailedError(
                f"未知范围类型：{kind_text}（可选：operator, district, lot）"
            ) from None
        if not _CODE.match(code):
            raise ValidationFailedError(f"范围编码格式有误：{code}")
        found[kind].add(code)
    return Scope(
        operators=frozenset(found[ScopeKind.OPERATOR]),
        districts=frozenset(found[ScopeKind.DISTRICT]),
        lots=frozenset(found[ScopeKind.LOT]),
    )


def parse_scope(texts: Iterable[str]) -> Scope:
    """Parse `kind:code` words such as `lot:LOT-HOSP`; none means city-wide."""
    pairs = []
    for text in texts:
        kind, sep, code = text.partition(":")
        if not sep:
            raise ValidationFailedError(f"范围应写作 类型:编码，例如 lot:LOT-HOSP，收到：{text}")
        pairs.append((kind.strip(), code.strip()))
    return scope_from_entries(pairs)


def covers(
    scope: Scope,
    operator_code: str | None = None,
    district_code: str | None = None,
    lot_code: str | None = None,
) -> bool:
    """Whether an account with this scope may act on a place described by these codes.

    A place is covered when any one of its codes is in the scope: an operator scope covers
    everything that operator runs, a district scope everything located there, a lot scope that
    lot. A city-wide scope covers everything; a limited scope covers nothing unnamed.
    """
    if scope.city_wide:
        return True
    return (
        (operator_code is not None and operator_code in scope.operators)
        or (district_code is not None and district_code in scope.districts)
        or (lot_code is not None and lot_code in scope.lots)
    )


def scope_within(inner: Scope, outer: Scope) -> bool:
    """Whether every place of `inner` is certainly inside `outer` (for delegating accounts).

    Without the city map at hand this is conservative: a lot counts as inside only when the
    outer scope names that lot itself, even if it also names the lot's district or operator.
    """
    if outer.city_wide:
        return True
    if inner.city_wide:
        return False
    return (
        inner.operators <= outer.operators
        and inner.districts <= outer.districts
        and inner.lots <= outer.lots
    )


@dataclass(frozen=True, slots=True)
class StaffIdentity:
    """Who is acting: the authenticated staff account as handlers and services see it."""

    id: int
    username: str
    role: Role
    scope: Scope
    merchant_code: str | None = None  # set for (and only for) merchant accounts

    @property
    def actor(self) -> str:
        """The name written into the audit log."""
        return self.username

    def may(self, permission: Permission) -> bool:
        """Whether this account's role grants a permission."""
        return grants(self.role, permission)

    def require(self, permission: Permission) -> None:
        """Raise PermissionDeniedError unless the role grants the permission."""
        if not self.may(permission):
            raise PermissionDeniedError(detail=f"{self.role} lacks {permission}")


class OtherMerchantError(PermissionDeniedError):
    """A merchant account asked about another merchant."""

    code = "other_merchant"
    message_zh = "只能操作本商户的优惠"


def acts_for_merchant(identity: StaffIdentity, merchant_code: str) -> None:
    """Raise OtherMerchantError when a merchant-bound account names another merchant."""
    if identity.role is Role.MERCHANT and identity.merchant_code != merchant_code:
        raise OtherMerchantError(detail=f"{identity.username} is {identity.merchant_code}")


def check_merchant_binding(role: Role, merchant_code: str | None) -> None:
    """A merchant account names exactly one merchant; no other account names any."""
    if role is Role.MERCHANT and not merchant_code:
        raise ValidationFailedError("商户账号须指定商户编码")
    if role is not Role.MERCHANT and merchant_code:
        raise ValidationFailedError("只有商户账号可以指定商户编码")


class AccountLockedError(PermissionDeniedError):
    """Too many wrong passwords in a row; the account waits out its lock."""

    code = "account_locked"
    message_zh = "账号已锁定，请稍后再试"

    def __init__(self, minutes_left: int, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(f"账号已锁定，请{minutes_left}分钟后再试", detail="account locked")
        self.minutes_left = minutes_left
        self.retry_after_seconds = retry_after_seconds or minutes_left * 60


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """After `max_failed` wrong passwords in a row the account is locked for `lock_minutes`."""

    max_failed: int
    lock_minutes: int


@dataclass(frozen=True, slots=True)
class LoginState:
    """The lock-out counters stored on a staff account."""

    failed_logins: int = 0
    locked_until: datetime | None = None


def is_locked(state: LoginState, now: datetime) -> bool:
    """Whether the account is locked at this moment."""
    return state.locked_until is not None and now < state.locked_until


def minutes_left(state: LoginState, now: datetime) -> int:
    """Whole minutes until the lock ends, rounded up; 0 when not locked."""
    if state.locked_until is None or now >= state.locked_until:
        return 0
    return math.ceil((state.locked_until - now).total_seconds() / 60)


def after_failure(state: LoginState, now: datetime, policy: LockoutPolicy) -> LoginState:
    """The counters after a wrong password; the failure that reaches the limit locks."""
    expired = state.locked_until is not None and now >= state.locked_until
    # A lock that has run out gives a fresh set of attempts rather than re-locking at once.
    failed = (0 if expired else state.failed_logins) + 1
    if failed >= policy.max_failed:
        return LoginState(failed, now + timedelta(minutes=policy.lock_minutes))
    return LoginState(failed, None)


def after_success() -> LoginState:
    """The counters after a right password: all clear."""
    return LoginState(0, None)
