"""A report's chart as SVG, drawn here: text stays text, so Chinese shows in the viewer's font.

Grouped bars or lines over the rows, a value axis with five gridlines, a legend; money
plotted in yuan and ratios in percent.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from core.reports.tables import ColumnKind, Report

WIDTH, HEIGHT = 960, 480
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 50, 110
COLOURS = ("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477")
FONT = "'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"
_SCALE = {ColumnKind.FEN: 0.01, ColumnKind.RATIO: 100.0}
_UNIT = {ColumnKind.FEN: "（元）", ColumnKind.RATIO: "（%）"}


class NoChartError(ValueError):
    """The report has no chart."""


def _text(
    x: float, y: float, text: str, size: int = 12, anchor: str = "middle", extra: str = ""
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" {extra}>'
        f"{escape(text)}</text>"
    )


def _series(report: Report) -> list[tuple[str, list[float]]]:
    assert report.chart is not None
    found = []
    for key in report.chart.series:
        column = next(c for c in report.columns if c.key == key)
        scale = _SCALE.get(column.kind, 1.0)
        values = [round(float(row[key]) * scale, 2) for row in report.rows]
        found.append((column.header_zh + _UNIT.get(column.kind, ""), values))
    return found


def _nice_top(value: float) -> float:
    """A round axis maximum at or above `value`."""
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1)
    return float(((int(value) // step) + 1) * step)


def as_svg(report: Report) -> bytes:
    """The report's chart as an SVG document."""
    if report.chart is None:
        raise NoChartError(report.name)
    labels = [str(row[report.chart.x]) for row in report.rows]
    series = _series(report)
    top = _nice_top(max((v for _, values in series for v in values), default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT}">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        _text(WIDTH / 2, 28, f"{report.title_zh}（{report.first} 至 {report.last}）", 16),
    ]
    for n in range(6):
        y = TOP + plot_h - plot_h * n / 5
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#dddddd"/>'
        )
        parts.append(_text(LEFT - 6, y + 4, f"{top * n / 5:g}", 11, "end"))
    for i, label in enumerate(labels):
        x = LEFT + slot * (i + 0.5)
        rotate = f'transform="rotate(-30 {x:.1f} {TOP + plot_h + 16:.1f})"'
        parts.append(_text(x, TOP + plot_h + 16, label, 11, "end", rotate))
    for s, (name, values) in enumerate(series):
        colour = COLOURS[s % len(COLOURS)]
        points = [
            (LEFT + slot * (i + 0.5), TOP + plot_h - plot_h * v / top) for i, v in enumerate(values)
        ]
        if report.chart.line:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        else:
            width = slot * 0.8 / len(series)
            for i, (x, y) in enumerate(points):
                left = x - slot * 0.4 + width * s
                parts.append(
                    f'<rect x="{left:.1f}" y="{y:.1f}" width="{width:.1f}" '
                    f'height="{TOP + plot_h - y:.1f}" fill="{colour}"><title>'
                    f"{escape(labels[i])} {escape(name)}: {values[i]:g}</title></rect>"
                )
        legend_x = LEFT + s * 150
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 24}" width="12" height="12" fill="{colour}"/>'
        )
        parts.append(_text(legend_x + 16, HEIGHT - 14, name, 12, "start"))
    parts.append("</svg>")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + "\n".join(parts)).encode("utf-8")
