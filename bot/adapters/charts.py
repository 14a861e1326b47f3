"""The metrics picture: the weekly seller-activation trend beside the win rates, as a PNG.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global state), so a chart can
be drawn in a worker thread while the bot goes on answering Slack.
"""

from __future__ import annotations

import io
import math
from datetime import timedelta

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from bot.domain.metrics import MetricsReport
from bot.domain.periods import quarter_label

ACTIVE = "#2a9d8f"
IDLE = "#e76f51"


def render_chart(report: MetricsReport) -> bytes:
    buffer = io.BytesIO()
    chart_figure(report).savefig(buffer, format="png")
    return buffer.getvalue()


def chart_figure(report: MetricsReport) -> Figure:
    figure = Figure(figsize=(10, 4.2), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    trend_ax, win_ax = figure.subplots(1, 2, width_ratios=[2.2, 1])
    figure.suptitle(
        f"PTM co-sell metrics — {report.scope}, {report.period.label()}", fontweight="bold"
    )

    days = [t.day for t in report.trend]
    rates = [
        100 * t.activation.rate if t.activation.rate is not None else math.nan for t in report.trend
    ]
    trend_ax.plot(days, rates, marker="o", color=ACTIVE, linewidth=2)
    trend_ax.set_ylim(0, 105)
    trend_ax.set_ylabel(f"% of sellers active ({report.window_days} days)")
    trend_ax.set_title("Seller activation, weekly")
    trend_ax.grid(alpha=0.3)
    locator = AutoDateLocator()
    trend_ax.xaxis.set_major_locator(locator)
    trend_ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if days:
        # Weeks without a rate are NaN: without explicit limits an all-empty trend would put
        # the axis at matplotlib's default date range (1970).
        pad = timedelta(days=3)
        trend_ax.set_xlim(days[0] - pad, days[-1] + pad)
    if all(math.isnan(r) for r in rates):
        trend_ax.text(
            0.5,
            0.5,
            "No seller was on an open trio deal in these weeks yet.\n"
            "Name a trio with /ptm trio to start measuring.",
            transform=trend_ax.transAxes,
            ha="center",
            va="center",
            fontsize=10,
            color="#555555",
        )
    for point, rate in zip(report.trend, rates, strict=True):
        if not math.isnan(rate):
            label = f"{point.activation.part}/{point.activation.whole}"
            trend_ax.annotate(
                label,
                (point.day, rate),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
            )

    win = report.win
    groups = [
        ("Seller activated", win.activated, ACTIVE),
        ("Not activated", win.not_activated, IDLE),
    ]
    heights = [100 * r.rate if r.rate is not None else 0 for _, r, _ in groups]
    bars = win_ax.bar([g[0] for g in groups], heights, color=[g[2] for g in groups])
    for bar, (_, ratio, _) in zip(bars, groups, strict=True):
        text = f"{ratio.percent()}\n{ratio.part} won of {ratio.whole}"
        win_ax.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            textcoords="offset points",
            xytext=(0, 4),
            ha="center",
            fontsize=9,
        )
    win_ax.set_ylim(0, 120)
    win_ax.set_yticks(range(0, 101, 25))
    win_ax.set_title("Win rate (closed in period)")
    win_ax.set_ylabel("% won")
    win_ax.grid(axis="y", alpha=0.3)

    check = report.operator
    verdict = "passes" if check.passes else f"{len(check.deals)} of {check.minimum} deals"
    figure.text(
        0.01,
        0.01,
        f"Operator check {quarter_label(check.quarter)}: {verdict}",
        fontsize=8,
        color="#555555",
    )
    return figure
