"""Each role logs in to the console and does its main task on the demo city, in chromium."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from console.menu import SECTIONS
from tests.browser.conftest import Console, screenshot

Page = Any

ROLE_SECTIONS = {
    "demo-officer": {"巡查执法"},
    "demo-support": {"客服"},
    "demo-cashier": {"收费", "车道值守"},  # a cashier at a lane also answers its attendant
    "demo-finance": {"财务"},
    "demo-attendant": {"车道值守"},
}


def test_an_officer_filters_arrears_looks_up_a_plate_and_serves_a_notice(
    page_of: Any, console: Console
) -> None:
    page: Page = page_of("demo-officer")
    assert page.url.endswith("/console/officer/arrears")
    table = page.locator("#arrears")
    expect(table).to_contain_text("浙B11111")
    expect(table).to_contain_text("浙B22222")
    screenshot(page, "officer-arrears")
    page.fill("input[name=min_age_days]", "5")
    page.click("form.card button[type=submit]")
    expect(table).to_contain_text("浙B11111")
    expect(table).not_to_contain_text("浙B22222")

    page.goto(f"{console.url}/console/officer/plate")
    page.fill("input[name=plate]", "浙B22222")
    page.click("form.card button[type=submit]")
    found = page.locator("#plate-found")
    expect(found).to_contain_text("¥20.00")
    screenshot(page, "officer-plate")

    found.get_by_role("link", name="证据与催缴").click()
    expect(page.locator("h1")).to_contain_text("停车证据")
    expect(page.locator("main")).to_contain_text("HS2-001")
    screenshot(page, "officer-stay")
    page.fill("input[name=evidence]", "photo-notice-001")
    page.get_by_role("button", name="记录送达").click()
    expect(page.get_by_role("status")).to_contain_text("已记录催缴通知送达")
    page.goto(f"{console.url}/console/officer/arrears?order=largest")
    row = page.locator("#arrears tr", has_text="浙B22222")
    expect(row).to_contain_text("已送达催缴")


def test_an_agent_claims_the_live_queue_replies_and_waives_within_the_limit(
    page_of: Any, console: Console
) -> None:
    queue: Page = page_of("demo-support")
    assert queue.url.endswith("/console/support/queue")
    expect(queue.locator("#live")).to_have_attribute("data-ready", "true")
    expect(queue.locator("#queue")).to_contain_text("停车费扣错了")
    screenshot(queue, "support-queue")
    # The same agent claims it in a second tab: the first tab's queue follows the stream.
    other: Page = page_of("demo-support")
    other.get_by_role("button", name="接入").first.click()
    expect(other.locator("h1")).to_contain_text("会话")
    expect(queue.locator("#queue")).to_contain_text("我的会话（1）")
    expect(queue.locator("#queue")).to_contain_text("等待接入（0）")

    other.fill("textarea[name=text]", "您好，我来帮您核对这笔停车费。")
    other.get_by_role("button", name="发送").click()
    expect(other.locator("#messages")).to_contain_text("我来帮您核对这笔停车费")
    panel = other.locator("#driver-panel")
    expect(panel).to_contain_text(console.scenario.support_plate)
    expect(panel).to_contain_text("HS1-002")  # the unpaid stay, whatever the appeal waived
    panel.locator("input[name=amount_fen]").first.fill("500")
    panel.locator("input[name=reason]").first.fill("核实为计时误差")
    panel.get_by_role("button", name="减免").first.click()
    expect(other.locator("#waiver-result")).to_contain_text("已减免 ¥5.00")
    panel.locator("input[name=amount_fen]").first.fill("2500")  # over the agent's 20 yuan
    panel.get_by_role("button", name="减免").first.click()
    expect(other.locator("#waiver-result")).to_contain_text("超过本岗位的处理额度")
    screenshot(other, "support-conversation")


def test_an_appeal_over_the_agents_limit_waits_for_finance_who_approves_it(
    page_of: Any, console: Console
) -> None:
    agent: Page = page_of("demo-support")
    agent.goto(f"{console.url}/console/support/appeals")
    expect(agent.locator("#cases")).to_contain_text("收费不对")
    agent.goto(f"{console.url}/console/support/appeals/{console.scenario.appeal_id}")
    agent.select_option("select[name=action]", "waive")
    agent.fill("input[name=amount_fen]", "3000")
    agent.fill("input[name=reason]", "核实只停一小时，减免多收部分")
    agent.get_by_role("button", name="提交").click()
    expect(agent.locator("#decision")).to_contain_text("已提交财务审批")
    screenshot(agent, "support-appeal")

    finance: Page = page_of("demo-finance")
    assert finance.url.endswith("/console/finance/payments")
    screenshot(finance, "finance-payments")
    finance.goto(f"{console.url}/console/finance/approvals")
    row = finance.locator("#approvals tr", has_text="核实只停一小时")
    expect(row).to_contain_text("30.00")
    screenshot(finance, "finance-approvals")
    row.locator("input[name=note]").fill("已核对地磁记录")
    row.get_by_role("button", name="批准").click()
    expect(row).to_contain_text(f"申诉 {console.scenario.appeal_id}")

    finance.goto(f"{console.url}/console/finance/invoices")
    expect(finance.locator("#invoices")).to_be_visible()
    finance.goto(f"{console.url}/console/finance/reconcile")
    finance.fill("input[name=date]", "2026-11-24")
    finance.fill("input[name=sub_mchid]", "1900000101")
    finance.get_by_role("button", name="下载账单并对账").click()
    expect(finance.locator("#reconciliation")).to_contain_text("1900000101")
    screenshot(finance, "finance-reconcile")


def test_a_cashier_takes_cash_and_a_payment_code_handles_a_lost_ticket_and_closes(
    page_of: Any, console: Console
) -> None:
    page: Page = page_of("demo-cashier")
    assert page.url.endswith("/console/cashier")
    page.fill("input[name=lane]", "X1")
    page.fill("input[name=opening_float_fen]", "20000")
    page.get_by_role("button", name="开班").click()
    expect(page.get_by_role("status")).to_contain_text("已开班")
    row = page.locator("#waiting tr", has_text=console.scenario.cash_plate)
    expect(row).to_contain_text("6.00")
    screenshot(page, "cashier-shift")
    row.get_by_role("button", name="收现金").click()
    expect(page.locator("#taken")).to_contain_text("¥6.00")
    expect(page.locator("#taken pre")).to_contain_text("实收现金：6.00元")

    page.goto(f"{console.url}/console/cashier")
    row = page.locator("#waiting tr", has_text=console.scenario.code_plate)
    row.locator("input[name=auth_code]").fill("130000000000000001")  # the sandbox pays it
    row.get_by_role("button", name="扫码收款").click()
    expect(page.locator("#taken")).to_contain_text("付款码收费完成")
    expect(page.locator("#taken")).to_contain_text("¥9.00")  # two hours and a minute

    page.goto(f"{console.url}/console/lanes")
    card = page.locator("section.card", has_text=console.scenario.lost_ticket_plate)
    card.get_by_role("button", name="补录入场 / 遗失票").click()
    expect(card.get_by_role("status")).to_be_visible()
    screenshot(page, "lanes-attendant")

    page.goto(f"{console.url}/console/cashier")
    lost = page.locator("#waiting tr", has_text=console.scenario.lost_ticket_plate)
    lost.locator("input[name=reason]").fill("遗失票，按规则收费后免收")
    lost.get_by_role("button", name="免费放行").click()
    expect(page.locator("#taken")).to_contain_text("免费放行完成")

    page.goto(f"{console.url}/console/cashier")
    page.fill("input[name=counted_cash_fen]", "20600")
    page.get_by_role("button", name="交班").click()
    expect(page.locator("#report")).to_contain_text("已交班")
    expect(page.locator("#difference")).to_have_text("¥0.00")
    expect(page.locator("#report")).to_contain_text("micropay")
    screenshot(page, "cashier-report")


def test_an_admin_adds_staff_previews_a_price_and_sees_lots_and_devices(
    page_of: Any, console: Console
) -> None:
    page: Page = page_of("demo-admin")
    page.goto(f"{console.url}/console/admin/staff")
    page.fill("input[name=username]", "console-officer")
    page.fill("input[name=display_name]", "新巡查员")
    page.fill("input[name=password]", "console-pass-2026")
    page.select_option("select[name=role]", "enforcement_officer")
    page.fill("input[name=scope]", "district:D-HAISHU")
    page.fill("input[name=reason]", "新员工入职")
    page.get_by_role("button", name="创建").click()
    expect(page.get_by_role("status")).to_contain_text("已创建账号 console-officer")
    expect(page.locator("#staff")).to_contain_text("district:D-HAISHU")
    screenshot(page, "admin-staff")

    page.goto(f"{console.url}/console/admin/tariffs")
    page.fill("input[name=minutes]", "120")
    price = page.locator("#price-result .price")
    expect(price).to_contain_text("¥")
    two_hours = price.inner_text()
    page.fill("input[name=minutes]", "600")  # the preview follows the typing (htmx)
    expect(price).not_to_have_text(two_hours)
    screenshot(page, "admin-tariffs")

    page.goto(f"{console.url}/console/admin/lots")
    expect(page.locator("#lots")).to_contain_text("LOT-HOSP")
    expect(page.locator("#availability")).to_contain_text("HS1")
    screenshot(page, "admin-lots")
    page.goto(f"{console.url}/console/admin/devices")
    expect(page.locator("#devices")).to_be_visible()
    screenshot(page, "admin-devices")

    newcomer: Page = page_of("console-officer", "console-pass-2026")
    assert newcomer.url.endswith("/console/officer/arrears")


@pytest.mark.parametrize("username", sorted(ROLE_SECTIONS))
def test_a_role_sees_only_its_own_pages(page_of: Any, console: Console, username: str) -> None:
    page: Page = page_of(username)
    menu = page.locator("nav.menu")
    for section in SECTIONS:
        path = section.pages[0][0]
        if section.title in ROLE_SECTIONS[username]:
            expect(menu).to_contain_text(section.title)
            continue
        expect(menu).not_to_contain_text(section.title)
        response = page.goto(f"{console.url}{path}")
        assert response is not None and response.status == 403, (username, path)
        expect(page.locator("h1")).to_have_text("无权访问（403）")
