"""`ptm report`: the measures as a terminal table and as CSV rows. Pure."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from bot.domain.metrics import (
    AttributionLine,
    MetricsReport,
    Money,
    Ratio,
)
from bot.domain.periods import quarter_label
from bot.views.deal_views import format_amount

CSV_HEADER = ("metric", "segment", "currency", "value", "count", "of", "unpriced")


def attribution_name(line: AttributionLine) -> str:
    return line.attribution.value if line.attribution else "not set"


def money_text(monies: tuple[Money, ...]) -> str:
    """`USD 120,000 (4 deals)`, one currency after another, never summed across currencies."""
    if not monies:
        return "—"
    parts = []
    for m in monies:
        unpriced = f", {m.unpriced} without amount" if m.unpriced else ""
        shown = format_amount(m.amount, m.currency) if m.deals > m.unpriced else m.currency
        parts.append(f"{shown} ({m.deals} deal{'s' * (m.deals != 1)}{unpriced})")
    return " · ".join(parts)


def _rate(ratio: Ratio) -> str:
    return ratio.percent().rjust(4)


def render_table(report: MetricsReport) -> str:
    """The report as fixed-width text for a terminal."""
    p, q = report.period, report.operator.quarter
    out = [
        f"PTM report — {report.scope}",
        f"Period {p.label()} ({p.days} days)",
        "",
        f"Seller activation ({report.window_days}-day window, as of {p.until.isoformat()})",
        f"  {_rate(report.activation)}  {report.activation.part} of {report.activation.whole} "
        "sellers on open deals acted on one of them",
        "  week ending   rate  active/sellers",
    ]
    out += [
        f"  {t.day.isoformat()}   {_rate(t.activation)}  {t.activation.part}/{t.activation.whole}"
        for t in report.trend
    ]
    win = report.win
    out += [
        "",
        "Win rate of deals closed in the period",
        f"  seller activated       {_rate(win.activated)}  "
        f"{win.activated.part} won of {win.activated.whole} closed",
        f"  seller not activated   {_rate(win.not_activated)}  "
        f"{win.not_activated.part} won of {win.not_activated.whole} closed",
    ]
    if win.no_seller:
        out.append(f"  ({win.no_seller} closed without a seller named, not counted)")
    out += ["", f"Attribution: open pipeline at {p.until.isoformat()} · closed won in the period"]
    width = max(len(attribution_name(a)) for a in report.attribution)
    for line in report.attribution:
        name = attribution_name(line).ljust(width)
        out.append(f"  {name}  pipeline: {money_text(line.pipeline)}")
        out.append(f"  {' ' * width}  won:      {money_text(line.closed_won)}")
    if report.by_partner:
        out += ["", "By partner company (a deal with several partners counts for each)"]
        for partner in report.by_partner:
            out.append(f"  {partner.company} ({partner.deals} deal{'s' * (partner.deals != 1)})")
            for line in partner.lines:
                out.append(
                    f"    {attribution_name(line)}: pipeline {money_text(line.pipeline)} · "
                    f"won {money_text(line.closed_won)}"
                )
    check = report.operator
    verdict = "PASS" if check.passes else "NOT YET"
    out += [
        "",
        f"Operator check {quarter_label(q)} ({q.label()}): {verdict} — {len(check.deals)} "
        f"deal(s) with a trigger, a matched partner and a logged outcome ({check.minimum} needed)",
    ]
    out += [f"  {key}  {name}" for key, name in check.deals]
    return "\n".join(out) + "\n"


def csv_rows(report: MetricsReport) -> Iterator[tuple[object, ...]]:
    """One row per figure: metric, segment, currency, value, count, of, unpriced."""
    a = report.activation
    yield ("seller_activation", report.period.until.isoformat(), "", _value(a), a.part, a.whole, "")
    for t in report.trend:
        r = t.activation
        yield ("seller_activation_week", t.day.isoformat(), "", _value(r), r.part, r.whole, "")
    for segment, ratio in (
        ("activated", report.win.activated),
        ("not_activated", report.win.not_activated),
    ):
        yield ("win_rate", segment, "", _value(ratio), ratio.part, ratio.whole, "")
    yield ("closed_without_seller", "", "", "", report.win.no_seller, "", "")
    for line in report.attribution:
        for metric, monies in (("pipeline", line.pipeline), ("closed_won", line.closed_won)):
            for m in monies:
                yield (
                    metric,
                    attribution_name(line),
                    m.currency,
                    m.amount,
                    m.deals,
                    "",
                    m.unpriced,
                )
    for partner in report.by_partner:
        for line in partner.lines:
            for metric, monies in (("pipeline", line.pipeline), ("closed_won", line.closed_won)):
                for m in monies:
                    yield (
                        f"partner_{metric}",
                        _cell(f"{partner.company} / {attribution_name(line)}"),
                        m.currency,
                        m.amount,
                        m.deals,
                        "",
                        m.unpriced,
                    )
    check = report.operator
    yield (
        "operator_check",
        quarter_label(check.quarter),
        "",
        int(check.passes),
        len(check.deals),
        check.minimum,
        "",
    )
    for key, name in check.deals:
        yield ("operator_check_deal", key, "", _cell(name), "", "", "")


def _cell(text: str) -> str:
    """User text in a CSV cell: a leading = + - @ would run as a spreadsheet formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _value(ratio: Ratio) -> str:
    return "" if ratio.rate is None else f"{ratio.rate:.4f}"


def render_csv(report: MetricsReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(report))
    return buffer.getvalue()
