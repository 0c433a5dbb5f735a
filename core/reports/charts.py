"""A report's chart as SVG (pygal): text stays text, so Chinese shows in any browser's font."""

from __future__ import annotations

import pygal
from pygal.style import Style

from core.reports.tables import ColumnKind, Report

_STYLE = Style(font_family="'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', sans-serif")


class NoChartError(ValueError):
    """The report has no chart."""


def as_svg(report: Report) -> bytes:
    """The report's chart; money plotted in yuan, ratios in percent."""
    if report.chart is None:
        raise NoChartError(report.name)
    spec = report.chart
    chart_type = pygal.Line if spec.line else pygal.Bar
    chart = chart_type(
        style=_STYLE, x_label_rotation=30, width=960, height=480, legend_at_bottom=True
    )
    chart.title = f"{report.title_zh}（{report.first} 至 {report.last}）"
    chart.x_labels = [str(row[spec.x]) for row in report.rows]
    for key in spec.series:
        column = next(c for c in report.columns if c.key == key)
        scale = {ColumnKind.FEN: 0.01, ColumnKind.RATIO: 100.0}.get(column.kind, 1.0)
        unit = {ColumnKind.FEN: "（元）", ColumnKind.RATIO: "（%）"}.get(column.kind, "")
        chart.add(
            column.header_zh + unit, [round(float(row[key]) * scale, 2) for row in report.rows]
        )
    return bytes(chart.render())
