"""`/ptm metrics` and the App Home's activation line: the four measures, readable in a minute."""

from __future__ import annotations

from typing import Any

from blocks import kit
from bot.domain.metrics import MetricsReport, Ratio, sparkline
from bot.domain.periods import quarter_label
from bot.views.report import attribution_name, money_text

MAX_NAMED_DEALS = 15


def activation_line(report: MetricsReport) -> str:
    a = report.activation
    if not a.whole:
        return (
            f"*Seller activation*: no sellers on open deals ({report.scope}). "
            "Name one with `/ptm trio`."
        )
    return (
        f"*Seller activation*: *{a.percent()}* — {a.part} of {a.whole} sellers on open deals "
        f"acted on one in the last {report.window_days} days"
    )


def trend_line(report: MetricsReport) -> str:
    first, last = report.trend[0], report.trend[-1]
    return (
        f"Weekly since {first.day.isoformat()}: `{sparkline(report.trend)}` "
        f"{first.activation.percent()} → {last.activation.percent()}"
    )


def _win(label: str, ratio: Ratio) -> str:
    if not ratio.whole:
        return f"{label}: no deals closed"
    return f"{label}: *{ratio.percent()}* ({ratio.part} won of {ratio.whole})"


def shared_line(report: MetricsReport) -> str:
    """Our people on the deals partner companies share with us (partnerships)."""
    a = report.on_shared
    if a is None or not a.whole:
        return ""
    return (
        f"\n*On deals partners share with you*: *{a.percent()}* — {a.part} of "
        f"{a.whole} of your people acted on one in the last {report.window_days} days"
    )


def _by_partner(report: MetricsReport) -> str:
    lines = ["*By partner company* — a deal with several partners counts for each"]
    for partner in report.by_partner[:15]:
        parts = " · ".join(
            f"{attribution_name(line)}: pipeline {money_text(line.pipeline)}, won "
            f"{money_text(line.closed_won)}"
            for line in partner.lines
        )
        lines.append(f"• *{kit.user_text(partner.company, 80)}* ({partner.deals}) — {parts}")
    return "\n".join(lines)


def build_metrics(report: MetricsReport) -> dict[str, Any]:
    p, q = report.period, report.operator.quarter
    win = report.win
    win_lines = [
        f"*Win rate* of deals closed in the period, by whether the seller acted in the "
        f"{report.window_days} days before close",
        _win("Seller activated", win.activated),
        _win("Not activated", win.not_activated),
    ]
    if win.no_seller:
        win_lines.append(f"_{win.no_seller} closed without a seller named, not counted._")
    attribution = [f"*Attribution* — open pipeline at {p.until.isoformat()} · won in the period"]
    for line in report.attribution:
        attribution.append(
            f"*{attribution_name(line).capitalize()}*: pipeline {money_text(line.pipeline)}; "
            f"won {money_text(line.closed_won)}"
        )
    check = report.operator
    if check.passes:
        verdict = f":white_check_mark: *passes* — {len(check.deals)} deals"
    else:
        verdict = f":x: *{len(check.deals)} of {check.minimum}* deals needed"
    operator = [
        f"*Operator check* {quarter_label(q)} ({q.label()}): {verdict} with a trigger, a matched "
        "partner and a logged outcome"
    ]
    names = [f"*{key}* {kit.user_text(name, 60)}" for key, name in check.deals[:MAX_NAMED_DEALS]]
    if names:
        more = len(check.deals) - len(names)
        operator.append(", ".join(names) + (f" and {more} more" if more > 0 else ""))
    if not check.passes:
        operator.append(
            "A deal counts once it has `/ptm trigger`, a partner from `/ptm find` and `/ptm log`."
        )
    blocks = [
        kit.header(f"Co-sell metrics — {report.scope}"),
        kit.context(
            f"Period {p.label()} ({p.days} days) · activation as of {p.until.isoformat()} "
            f"· days in UTC"
        ),
        kit.section(activation_line(report) + "\n" + trend_line(report) + shared_line(report)),
        kit.section("\n".join(win_lines)),
        kit.section("\n".join(attribution)),
        *([kit.section(kit.truncate(_by_partner(report), 2900))] if report.by_partner else []),
        kit.section("\n".join(operator)),
        kit.context("`/ptm metrics chart` sends the trend picture to your DMs with PTM."),
    ]
    a = report.activation
    text = f"Co-sell metrics ({report.scope}): seller activation {a.percent()}"
    return {"text": text, "blocks": blocks}
