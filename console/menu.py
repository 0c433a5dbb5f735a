"""The console's sections: which permission opens each, and the pages listed under it."""

from __future__ import annotations

from dataclasses import dataclass

from core.staff import Permission, StaffIdentity

P = Permission


@dataclass(frozen=True, slots=True)
class Section:
    """A group of pages for one kind of work, opened by one permission."""

    title: str
    permission: Permission
    pages: tuple[tuple[str, str], ...]  # (path, title)


# Each section's permission is one only its roles hold (core/staff.py ROLE_PERMISSIONS),
# so a role sees its own pages and gets the 403 page on any other's.
SECTIONS: tuple[Section, ...] = (
    Section(
        "巡查执法",
        P.PATROL,
        (("/console/officer/arrears", "欠费追缴"), ("/console/officer/plate", "车牌查询")),
    ),
    Section(
        "客服",
        P.CHAT_TAKEOVER,
        (("/console/support/queue", "会话队列"), ("/console/support/appeals", "申诉处理")),
    ),
    Section("收费", P.CASHIER_SHIFT, (("/console/cashier", "班次与收费"),)),
    Section(
        "财务",
        P.REPORTS_READ,
        (
            ("/console/finance/payments", "支付与退款"),
            ("/console/finance/approvals", "待审批"),
            ("/console/finance/invoices", "发票"),
            ("/console/finance/reconcile", "对账差异"),
        ),
    ),
    Section(
        "系统管理",
        P.STAFF_MANAGE,
        (
            ("/console/admin/staff", "人员与角色"),
            ("/console/admin/lots", "停车场与路段"),
            ("/console/admin/tariffs", "收费标准"),
            ("/console/admin/devices", "设备健康"),
        ),
    ),
    Section("车道值守", P.LANE_CONTROL, (("/console/lanes", "远程值守"),)),
)


def sections_for(staff: StaffIdentity) -> list[Section]:
    """The sections this account's role opens, in menu order."""
    return [section for section in SECTIONS if staff.may(section.permission)]


def home_of(staff: StaffIdentity) -> str:
    """The first page an account lands on after logging in."""
    found = sections_for(staff)
    return found[0].pages[0][0] if found else "/console/me"
