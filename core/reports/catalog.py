"""Each report's shape: from summed roll-up rows to columns, rows, totals and chart (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from core.reports.ageing import BUCKET_ZH, BUCKETS
from core.reports.channels import CHANNEL_ZH, STAY_CHANNELS, Channel, Flow
from core.reports.occupancy import occupancy_rate, turnover
from core.reports.periods import DateRange
from core.reports.tables import Cell, Chart, Column, ColumnKind, Report, add_totals, ratio

Rows = Sequence[tuple[Any, ...]]
TEXT, COUNT, RATIO = ColumnKind.TEXT, ColumnKind.COUNT, ColumnKind.RATIO

BY_ZH = {
    "day": "日期",
    "lot": "停车场",
    "zone": "路段片区",
    "district": "行政区",
    "operator": "运营单位",
    "sub_merchant": "特约商户号",
}
WECHAT_CHANNELS = frozenset({Channel.SCAN, Channel.AUTO_DEDUCT, Channel.ARREARS})


def _report(
    name: str,
    title: str,
    period: DateRange,
    columns: tuple[Column, ...],
    rows: list[dict[str, Cell]],
    chart: Chart | None,
    summary: dict[str, Cell] | None = None,
) -> Report:
    return Report(
        name=name,
        title_zh=title,
        first=period.first.isoformat(),
        last=period.last.isoformat(),
        columns=columns,
        rows=tuple(rows),
        totals=add_totals(columns, rows),
        summary=summary or {},
        chart=chart,
    )


def revenue(period: DateRange, by: str, found: Rows) -> Report:
    """Stay revenue by channel, refunds and waivers apart, grouped by one dimension."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, channel, flow, _, fen in found:
        if channel == Channel.TOP_UP or flow == Flow.RECOGNISED:
            continue  # stored value sold is owed, not earned: the passes report shows it
        text = key.isoformat() if isinstance(key, date) else (key or "-")
        column = channel if flow == Flow.COLLECTED else flow
        sums[text][column] += int(fen)
    rows: list[dict[str, Cell]] = []
    for key in sorted(sums):
        row: dict[str, Cell] = {"key": key, **{c.value: sums[key][c.value] for c in STAY_CHANNELS}}
        collected = sum(int(row[c.value]) for c in STAY_CHANNELS)
        refunded, waived = sums[key][Flow.REFUNDED.value], sums[key][Flow.WAIVED.value]
        row.update(collected=collected, refunded=refunded, waived=waived, net=collected - refunded)
        rows.append(row)
    columns = (
        Column("key", BY_ZH[by], TEXT),
        *(Column(c.value, CHANNEL_ZH[c]) for c in STAY_CHANNELS),
        Column("collected", "实收合计"),
        Column("refunded", "退款"),
        Column("waived", "减免"),
        Column("net", "净收入"),
    )
    chart = Chart("key", tuple(c.value for c in STAY_CHANNELS))
    return _report(f"revenue-by-{by}", f"营收报表（按{BY_ZH[by]}）", period, columns, rows, chart)


def occupancy(period: DateRange, by: str, found: Rows) -> Report:
    """Occupancy rate and turnover per zone or lot, or per hour of the day over all of them.

    `found` holds (key, berths, arrivals, occupied seconds); a place's rates span the whole
    day, an hour's rates are over every berth the scope covers.
    """
    hourly = by == "hour"
    hours = 1 if hourly else 24
    rows: list[dict[str, Cell]] = [
        {
            "key": f"{int(key):02d}:00" if hourly else key,
            "berths": int(berths),
            "arrivals": int(arrivals),
            "occupancy": occupancy_rate(int(seconds), int(berths), hours * period.days),
            "turnover": turnover(int(arrivals), int(berths), period.days),
        }
        for key, berths, arrivals, seconds in found
    ]
    columns = (
        Column("key", "时段" if hourly else "片区/停车场", TEXT),
        Column("berths", "泊位数", COUNT),
        Column("arrivals", "驶入车次", COUNT),
        Column("occupancy", "占用率", RATIO),
        Column("turnover", "周转率（次/泊位/日）", RATIO),
    )
    chart = Chart("key", ("occupancy",), line=True) if hourly else None
    title = "泊位占用率与周转率（按时段）" if hourly else "泊位占用率与周转率（按片区/停车场）"
    report = _report("occupancy", title, period, columns, rows, chart)
    if not hourly:
        return report
    totals = dict(report.totals or {})
    totals["berths"] = ""  # every hour counts the same berths: their sum means nothing
    return replace(report, totals=totals)


def arrears_ageing(period: DateRange, found: Rows, recovered_fen: int) -> Report:
    """Unpaid on-street fees at the range's end by age, and the share recovered in the range."""
    by_bucket = {bucket: (int(n), int(fen)) for bucket, n, fen in found}
    rows: list[dict[str, Cell]] = [
        {
            "bucket": BUCKET_ZH[key],
            "stays": by_bucket.get(key, (0, 0))[0],
            "due": by_bucket.get(key, (0, 0))[1],
        }
        for _, key, _ in BUCKETS
    ]
    columns = (
        Column("bucket", "账龄", TEXT),
        Column("stays", "笔数", COUNT),
        Column("due", "欠费金额"),
    )
    outstanding = sum(int(r["due"]) for r in rows)
    summary: dict[str, Cell] = {
        "recovered_fen": recovered_fen,
        "outstanding_fen": outstanding,
        "recovery_rate": ratio(recovered_fen, recovered_fen + outstanding),
    }
    chart = Chart("bucket", ("due",))
    return _report("arrears-ageing", "欠费账龄与追缴率", period, columns, rows, chart, summary)


def passes(period: DateRange, found: Rows) -> Report:
    """Pass and top-up sales by month, with pass revenue recognised as the months are served."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    names = {
        (Channel.PASS, Flow.COLLECTED): "pass_sold",
        (Channel.PASS, Flow.REFUNDED): "pass_refunded",
        (Channel.TOP_UP, Flow.COLLECTED): "top_up",
        (Channel.TOP_UP, Flow.REFUNDED): "top_up_refunded",
        (Channel.PASS, Flow.RECOGNISED): "recognised",
    }
    for day, channel, flow, _, fen in found:
        name = names.get((Channel(channel), Flow(flow)))
        if name is not None:
            sums[f"{day:%Y-%m}"][name] += int(fen)
    rows: list[dict[str, Cell]] = [
        {"month": month, **{name: sums[month][name] for name in names.values()}}
        for month in sorted(sums)
    ]
    columns = (
        Column("month", "月份", TEXT),
        Column("pass_sold", "月卡销售"),
        Column("pass_refunded", "月卡退款"),
        Column("top_up", "储值充值"),
        Column("top_up_refunded", "储值退款"),
        Column("recognised", "月卡确认收入"),
    )
    chart = Chart("month", ("pass_sold", "top_up", "recognised"))
    return _report("passes", "月卡与储值销售及递延收入确认", period, columns, rows, chart)


def cashier_shifts(period: DateRange, found: Rows) -> Report:
    """Shifts closed by lot and cashier: expected against counted cash."""
    rows: list[dict[str, Cell]] = [
        {
            "lot": lot,
            "cashier": cashier,
            "shifts": int(n),
            "expected": int(expected),
            "counted": int(counted),
            "difference": int(diff),
        }
        for lot, cashier, n, expected, counted, diff in found
    ]
    columns = (
        Column("lot", "停车场", TEXT),
        Column("cashier", "收费员", TEXT),
        Column("shifts", "班次数", COUNT),
        Column("expected", "应有现金"),
        Column("counted", "实点现金"),
        Column("difference", "长短款"),
    )
    chart = Chart("cashier", ("expected", "counted"))
    return _report("cashier-shifts", "收费员班次现金核对", period, columns, rows, chart)


def device_uptime(period: DateRange, found: Rows) -> Report:
    """Devices per place and kind and the share of device-hours they were heard in."""
    rows: list[dict[str, Cell]] = [
        {
            "place": place or "-",
            "kind": kind,
            "devices": int(n),
            "uptime": ratio(int(hours), int(n) * 24 * period.days),
        }
        for place, kind, n, hours, _ in found
    ]
    columns = (
        Column("place", "片区/停车场", TEXT),
        Column("kind", "设备类型", TEXT),
        Column("devices", "设备数", COUNT),
        Column("uptime", "在线率", RATIO),
    )
    chart = Chart("place", ("uptime",))
    return _report("device-uptime", "设备在线率", period, columns, rows, chart)


def invoices(period: DateRange, found: Rows, paid: Rows) -> Report:
    """Invoices issued against the WeChat payments taken, per operator."""
    payable: dict[str, int] = defaultdict(int)
    for operator, channel, flow, _, fen in paid:
        if channel in WECHAT_CHANNELS or channel in (Channel.PASS, Channel.TOP_UP):
            sign = {Flow.COLLECTED: 1, Flow.REFUNDED: -1}.get(Flow(flow), 0)
            payable[operator] += sign * int(fen)
    issued = {op: (int(n), int(fen), int(rn), int(rfen)) for op, n, fen, rn, rfen in found}
    rows: list[dict[str, Cell]] = []
    for operator in sorted(payable.keys() | issued.keys()):
        n, fen, rn, rfen = issued.get(operator, (0, 0, 0, 0))
        rows.append(
            {
                "operator": operator,
                "paid": payable[operator],
                "issued": n,
                "issued_fen": fen,
                "reversed": rn,
                "reversed_fen": rfen,
                "coverage": ratio(fen - rfen, payable[operator]),
            }
        )
    columns = (
        Column("operator", "运营单位", TEXT),
        Column("paid", "微信实收"),
        Column("issued", "开票张数", COUNT),
        Column("issued_fen", "开票金额"),
        Column("reversed", "红冲张数", COUNT),
        Column("reversed_fen", "红冲金额"),
        Column("coverage", "开票覆盖率", RATIO),
    )
    chart = Chart("operator", ("paid", "issued_fen"))
    return _report("invoices", "发票开具与收款对照", period, columns, rows, chart)
