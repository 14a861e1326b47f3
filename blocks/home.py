"""The App Home tab: the same picture as the digest, live, for whoever opens it."""

from __future__ import annotations

from typing import Any

from blocks import kit
from blocks.admin import admin_blocks
from blocks.metrics import activation_line, shared_line, trend_line
from blocks.replies import deal_line_text
from bot.views.admin import AdminView
from bot.views.digest import HomeView, StepLine


def _step(line: StepLine, *, owner: bool) -> str:
    who = f" — {kit.mention(line.owner_user)}" if owner else ""
    due = f" · due {line.due.isoformat()}" if line.due else ""
    late = " · :warning: *overdue*" if line.overdue else ""
    name, text = kit.user_text(line.deal_name, 80), kit.user_text(line.text, 300)
    return f"*{line.key}* {name}: {text}{who}{due}{late}"


def build_outsider_home() -> dict[str, Any]:
    """The Home tab for someone from another company: no deals, no metrics, what to do."""
    return {
        "type": "home",
        "blocks": [
            kit.header("PTM — co-selling with your partner"),
            kit.section(
                "Your deals with us live on their cards in the channels we share: use the "
                "card's buttons and menus, or mention `@PTM` there (for example "
                "`@PTM next: send the security questionnaire by friday`)."
            ),
        ],
    }


HOME_BLOCK_LIMIT = 100


def build_home(
    home: HomeView, settings: AdminView | None = None, *, notice: str | None = None
) -> dict[str, Any]:
    """A Home tab view (≤100 blocks): `notice` (the answer to a click on it) first, then your
    moves, waiting on others, quiet deals, activation; for an admin, the workspace's PTM
    settings below (kept whole: the deal lists give way)."""
    admin = admin_blocks(settings) if settings is not None else []
    view = home.digest
    blocks: list[dict[str, Any]] = [kit.header("Your co-sell deals")]
    if notice:
        blocks.append(kit.section(f":information_source: {kit.truncate(notice, 2000)}"))
    sections = [
        ("Your moves", [_step(s, owner=False) for s in view.mine]),
        ("Waiting on others", [_step(s, owner=True) for s in view.waiting]),
        ("Quiet for 7+ days", [f"*{k}* {kit.user_text(n, 120)}" for k, n in view.stale]),
    ]
    for title, lines in sections:
        blocks.append(kit.section(f"*{title}* ({len(lines)})"))
        blocks.extend(kit.section(line) for line in lines[:25])
        if not lines:
            blocks.append(kit.context("Nothing here."))
        blocks.append(kit.divider())
    if home.shared:
        blocks.append(kit.section(f"*Shared by partner companies* ({len(home.shared)})"))
        blocks.extend(kit.section(deal_line_text(line)) for line in home.shared[:15])
        blocks.append(kit.divider())
    metrics = home.metrics
    if shared_line(metrics):
        blocks.append(kit.section(shared_line(metrics).strip()))
    if metrics.activation.whole:
        blocks.append(kit.section(f"{activation_line(metrics)}\n{trend_line(metrics)}"))
        blocks.append(
            kit.context(
                f"Over {metrics.scope}. Win rates, attribution and the operator check: "
                "`/ptm metrics` · the picture: `/ptm metrics chart`"
            )
        )
    if view.is_empty and not home.shared:
        blocks.append(
            kit.context("No open deals need you. Start one with `/ptm new &lt;name&gt;`.")
        )
    return {"type": "home", "blocks": blocks[: HOME_BLOCK_LIMIT - len(admin)] + admin}
