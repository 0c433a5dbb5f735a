"""Roles grant the documented permissions; scopes, lock-out, passwords and tokens behave."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from argon2 import PasswordHasher

from core import passwords, staff_tokens
from core.clock import FrozenClock
from core.errors import AuthenticationError, ValidationFailedError
from core.staff import (
    CITY_WIDE,
    ROLE_NAMES_ZH,
    ROLE_PERMISSIONS,
    AccountLockedError,
    LockoutPolicy,
    LoginState,
    OtherMerchantError,
    Permission,
    Role,
    Scope,
    StaffIdentity,
    acts_for_merchant,
    after_failure,
    after_success,
    check_merchant_binding,
    covers,
    grants,
    is_locked,
    minutes_left,
    parse_role,
    parse_scope,
    scope_within,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "staff.md"
NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
POLICY = LockoutPolicy(max_failed=5, lock_minutes=15)
READ_ONLY = {
    Permission.SELF,
    Permission.STAYS_READ,
    Permission.ARREARS_READ,
    Permission.LEDGER_READ,
    Permission.REPORTS_READ,
    Permission.AUDIT_READ,
    Permission.MERCHANT_USAGE_READ,
}


def _matrix() -> str:
    head = "| permission | " + " | ".join(role.value for role in Role) + " |"
    rule = "| --- |" + " :-: |" * len(Role)
    rows = [
        f"| `{p.value}` | "
        + " | ".join("✓" if p in ROLE_PERMISSIONS[role] else "" for role in Role)
        + " |"
        for p in Permission
    ]
    return "\n".join([head, rule, *rows])


def test_docs_show_the_permission_table_in_force() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(
        r"<!-- permission-matrix:start -->\n(.*?)\n<!-- permission-matrix:end -->", text, re.S
    )
    assert found is not None
    assert found.group(1) == _matrix()


def test_every_role_has_permissions_a_chinese_name_and_self() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert set(ROLE_NAMES_ZH) == set(Role)
    for role in Role:
        assert grants(role, Permission.SELF)


def test_admin_has_everything_and_is_the_only_staff_manager() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert [r for r in Role if grants(r, Permission.STAFF_MANAGE)] == [Role.ADMIN]


def test_viewer_is_read_only() -> None:
    assert ROLE_PERMISSIONS[Role.VIEWER] <= READ_ONLY
    assert not grants(Role.VIEWER, Permission.AUDIT_READ)


@pytest.mark.parametrize(
    ("role", "permission", "expected"),
    [
        (Role.CASHIER, Permission.CASHIER_SHIFT, True),
        (Role.CASHIER, Permission.PAYMENTS_REFUND, False),
        (Role.ENFORCEMENT_OFFICER, Permission.ARREARS_MANAGE, True),
        (Role.ENFORCEMENT_OFFICER, Permission.LANE_CONTROL, False),
        (Role.SUPPORT_AGENT, Permission.CHAT_TAKEOVER, True),
        (Role.SUPPORT_AGENT, Permission.TARIFFS_MANAGE, False),
        (Role.REMOTE_ATTENDANT, Permission.LANE_CONTROL, True),
        (Role.REMOTE_ATTENDANT, Permission.ARREARS_READ, False),
        (Role.FINANCE, Permission.AUDIT_READ, True),
        (Role.FINANCE, Permission.DEVICES_MANAGE, False),
        (Role.CASHIER, Permission.RIGHTS_MANAGE, True),
        (Role.CASHIER, Permission.LOTS_MANAGE, False),
        (Role.ENFORCEMENT_OFFICER, Permission.BLOCKS_MANAGE, True),
        (Role.SUPPORT_AGENT, Permission.STAYS_REVIEW, True),
        (Role.REMOTE_ATTENDANT, Permission.STAYS_REVIEW, False),
        (Role.VIEWER, Permission.MERCHANT_USAGE_READ, True),
        (Role.MERCHANT, Permission.MERCHANT_VALIDATE, True),
        (Role.MERCHANT, Permission.STAYS_READ, False),
        (Role.MERCHANT, Permission.REPORTS_READ, False),
    ],
)
def test_role_grants(role: Role, permission: Permission, expected: bool) -> None:
    assert grants(role, permission) is expected


def test_unknown_role_is_a_chinese_400() -> None:
    assert parse_role("cashier") is Role.CASHIER
    with pytest.raises(ValidationFailedError) as caught:
        parse_role("root")
    assert caught.value.message_zh.startswith("未知角色：root")


def test_city_wide_scope_covers_everything() -> None:
    assert CITY_WIDE.city_wide
    assert covers(CITY_WIDE)
    assert covers(CITY_WIDE, operator_code="OP-X", lot_code="LOT-Y")


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ({"lot_code": "LOT-HOSP"}, True),
        ({"lot_code": "LOT-TIANYI", "district_code": "D-HAISHU"}, True),
        ({"operator_code": "OP-CITY", "district_code": "D-JIANGBEI"}, True),
        ({"lot_code": "LOT-TIANYI", "district_code": "D-JIANGBEI"}, False),
        ({"operator_code": "OP-TIANYI"}, False),
        ({}, False),
    ],
)
def test_limited_scope_covers_any_named_code(codes: dict[str, str], expected: bool) -> None:
    scope = parse_scope(["lot:LOT-HOSP", "district:D-HAISHU", "operator:OP-CITY"])
    assert covers(scope, **codes) is expected


def test_parse_scope_reads_kind_code_words() -> None:
    scope = parse_scope(["lot:LOT-HOSP", "district:D-HAISHU", "lot:LOT-HOSP"])
    assert scope == Scope(lots=frozenset({"LOT-HOSP"}), districts=frozenset({"D-HAISHU"}))
    assert not scope.city_wide
    assert parse_scope([]) == CITY_WIDE


@pytest.mark.parametrize("word", ["LOT-HOSP", "berth:HS1-001", "lot:", "lot:has space"])
def test_parse_scope_refuses_bad_words(word: str) -> None:
    with pytest.raises(ValidationFailedError):
        parse_scope([word])


def test_scope_within_is_conservative() -> None:
    haishu = parse_scope(["district:D-HAISHU"])
    assert scope_within(haishu, CITY_WIDE)
    assert scope_within(haishu, haishu)
    assert not scope_within(CITY_WIDE, haishu)
    assert not scope_within(parse_scope(["lot:LOT-HOSP"]), haishu)
    assert scope_within(parse_scope(["lot:LOT-HOSP"]), parse_scope(["lot:LOT-HOSP", "lot:X"]))


def test_lockout_after_max_failures_then_success_resets() -> None:
    state = LoginState()
    for attempt in range(1, POLICY.max_failed):
        state = after_failure(state, NOW, POLICY)
        assert state == LoginState(attempt, None)
        assert not is_locked(state, NOW)
    state = after_failure(state, NOW, POLICY)
    assert state.failed_logins == POLICY.max_failed
    assert state.locked_until == NOW + timedelta(minutes=15)
    assert is_locked(state, NOW + timedelta(minutes=14, seconds=59))
    assert not is_locked(state, NOW + timedelta(minutes=15))
    assert after_success() == LoginState(0, None)


def test_minutes_left_rounds_up() -> None:
    state = LoginState(5, NOW + timedelta(minutes=15))
    assert minutes_left(state, NOW) == 15
    assert minutes_left(state, NOW + timedelta(minutes=14, seconds=1)) == 1
    assert minutes_left(state, NOW + timedelta(minutes=15)) == 0
    assert minutes_left(LoginState(), NOW) == 0


def test_expired_lock_gives_a_fresh_set_of_attempts() -> None:
    locked = LoginState(5, NOW)
    later = NOW + timedelta(minutes=1)
    assert after_failure(locked, later, POLICY) == LoginState(1, None)


def test_locked_error_names_the_minutes_in_chinese() -> None:
    error = AccountLockedError(7)
    assert error.message_zh == "账号已锁定，请7分钟后再试"
    assert error.status == 403
    assert error.code == "account_locked"


def test_password_hash_verifies_only_the_right_password() -> None:
    stored = passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "correct horse battery!")
    assert not passwords.verify("not-a-hash", "x")
    assert not passwords.needs_rehash(stored)
    assert passwords.needs_rehash("not-a-hash")
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("x")
    assert passwords.verify(weak, "x")
    assert passwords.needs_rehash(weak)


def test_token_round_trip_carries_id_role_token_id_and_times() -> None:
    issued = staff_tokens.issue(42, "cashier", NOW, 30, SECRET)
    claims = staff_tokens.decode(issued.token, NOW + timedelta(minutes=29), SECRET)
    assert (claims.staff_id, claims.role) == (42, "cashier")
    assert claims.token_id == issued.token_id and len(claims.token_id) == 32
    assert claims.issued_at == NOW
    assert claims.expires_at == issued.expires_at == NOW + timedelta(minutes=30)
    assert staff_tokens.issue(42, "cashier", NOW, 30, SECRET).token_id != issued.token_id


def test_token_expires_by_the_injected_clock() -> None:
    clock = FrozenClock(NOW)
    token = staff_tokens.issue(1, "admin", clock.now(), 30, SECRET).token
    clock.advance(timedelta(minutes=29, seconds=59))
    staff_tokens.decode(token, clock.now(), SECRET)
    clock.advance(timedelta(seconds=1))
    with pytest.raises(AuthenticationError) as caught:
        staff_tokens.decode(token, clock.now(), SECRET)
    assert caught.value.status == 401
    assert caught.value.message_zh == "登录已过期，请重新登录"


def test_token_from_the_past_clock_is_valid_whatever_the_machine_time() -> None:
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    token = staff_tokens.issue(1, "admin", long_ago, 30, SECRET).token
    assert staff_tokens.decode(token, long_ago, SECRET).staff_id == 1


def test_token_issued_in_the_future_is_refused() -> None:
    token = staff_tokens.issue(1, "admin", NOW + timedelta(hours=1), 120, SECRET).token
    with pytest.raises(AuthenticationError):
        staff_tokens.decode(token, NOW, SECRET)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        staff_tokens.issue(1, "admin", NOW, 30, "another-secret-that-is-long-enough-too!").token,
        jwt.encode({"sub": "1", "role": "admin", "iat": 0, "exp": 2**40}, SECRET),  # no jti
        jwt.encode(
            {"sub": "x", "role": "admin", "jti": "j", "iat": 0, "exp": 2**40}, SECRET
        ),  # sub not an id
        jwt.encode({"sub": "1", "role": "admin", "jti": "j", "iat": 0, "exp": 2**40}, "", "none"),
    ],
)
def test_forged_or_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        staff_tokens.decode(token, NOW, SECRET)
    assert caught.value.message_zh == "登录凭证无效，请重新登录"


def test_merchant_accounts_act_only_for_their_own_merchant() -> None:
    cafe = StaffIdentity(9, "cafe", Role.MERCHANT, CITY_WIDE, "M-TIANYI-CAFE")
    acts_for_merchant(cafe, "M-TIANYI-CAFE")
    with pytest.raises(OtherMerchantError) as caught:
        acts_for_merchant(cafe, "M-HOSP-CLINIC")
    assert (caught.value.status, caught.value.message_zh) == (403, "只能操作本商户的优惠")
    admin = StaffIdentity(1, "admin", Role.ADMIN, CITY_WIDE)
    acts_for_merchant(admin, "M-HOSP-CLINIC")  # staff act for any merchant


@pytest.mark.parametrize(
    ("role", "code", "message"),
    [
        (Role.MERCHANT, None, "商户账号须指定商户编码"),
        (Role.CASHIER, "M-TIANYI-CAFE", "只有商户账号可以指定商户编码"),
    ],
)
def test_merchant_binding_is_exactly_for_merchant_accounts(
    role: Role, code: str | None, message: str
) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        check_merchant_binding(role, code)
    assert caught.value.message_zh == message
    check_merchant_binding(Role.MERCHANT, "M-TIANYI-CAFE")
    check_merchant_binding(Role.CASHIER, None)
