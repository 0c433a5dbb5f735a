"""The statement's arithmetic and sheets: net, concession outstanding, totals in yuan."""

from __future__ import annotations

from datetime import UTC, date, datetime

from core.settlement import Statement, month_bounds, month_of, statement_sheet
from core.shares import ShareBasis
from core.sheets import Sheet, to_csv
from core.write_offs import WriteOff, WriteOffStatus, write_offs_sheet


def test_months_cut_at_beijing_midnight() -> None:
    assert month_of(date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 2, 28))
    start, end = month_bounds(date(2026, 12, 5))
    assert start.astimezone(UTC) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def test_net_reconciliation_and_concession_outstanding() -> None:
    statement = Statement(
        operator_code="OP-CITY",
        operator_name="市城投停车",
        sub_mchid="1900000101",
        month=date(2026, 11, 1),
        basis=ShareBasis.CONCESSION_FEE,
        payments_fen=100_000,
        payments_count=40,
        refunds_fen=2_000,
        shares_sent={"city": 30_000, "platform": 5_000},
        shares_returned={"city": 600},
        concession_due_fen=50_000,
        ledger_clearing_fen=63_600,
    )
    assert statement.net_fen == 100_000 - 2_000 - 35_000 + 600
    assert statement.reconciled
    assert (statement.concession_paid_fen, statement.concession_outstanding_fen) == (
        29_400,
        20_600,
    )
    rows = {row[0]: row[1] for row in statement_sheet(statement).rows}
    assert rows["尚欠特许经营费"] == 20_600 and rows["运营单位净收入"] == 63_600


def test_a_sheet_totals_its_fen_columns_and_writes_yuan() -> None:
    sheet = Sheet(
        "t", ("车牌号", "金额（元）"), (("浙B1", 150), ("浙B2", 5)), frozenset({1}), "合计"
    )
    assert sheet.total_row() == ("合计", 155)
    text = to_csv(sheet).decode("utf-8")
    assert text.startswith("\ufeff车牌号,金额（元）")
    assert text.splitlines()[-1] == "合计,1.55" and "浙B2,0.05" in text


def test_write_offs_as_a_sheet_with_their_total() -> None:
    asked = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    found = [
        WriteOff(
            1, "s1", "浙B1", "OP-CITY", 1_200, "车辆已报废", WriteOffStatus.APPROVED, "a", asked
        ),
        WriteOff(2, "s2", "浙B2", "OP-CITY", 350, "超过时效", WriteOffStatus.APPROVED, "a", asked),
    ]
    sheet = write_offs_sheet("2026-11 坏账核销", found)
    assert sheet.headers[4] == "核销金额（元）"
    assert sheet.rows[0][0] == "WO1" and sheet.rows[0][6] == "已核销"
    total = sheet.total_row()
    assert total is not None and total[4] == 1_550
