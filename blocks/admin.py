"""The admin section of App Home: who the workspace's PTM admins are, when digests go out,
where outcomes are logged. Only ever built for an admin."""

from __future__ import annotations

from typing import Any

from blocks import kit
from blocks.ids import Action
from blocks.partnerships import partnership_blocks
from bot.domain.admin import SIDE_NAMES, hour_label
from bot.domain.crm import KIND_LABELS, CrmKind
from bot.domain.outbox import Side
from bot.views.admin import AdminView, ConnectorLine

MAX_ADMIN_LINES = 20


def _admin_block(line: Any) -> dict[str, Any]:
    if line.added_by is None:
        return kit.section(f"{kit.mention(line.user_id)} · set by `PTM_ADMINS`")
    when = kit.slack_date(line.added_at) if line.added_at else ""
    block = kit.section(
        f"{kit.mention(line.user_id)} · added by {kit.mention(line.added_by)} {when}"
    )
    if line.removable:
        remove = kit.button("Remove", Action.ADMIN_REMOVE, value=line.user_id)
        remove["confirm"] = kit.confirm(
            "Remove this admin?",
            f"{kit.mention(line.user_id)} will no longer change any deal or these settings.",
            "Remove",
            danger=True,
        )
        block["accessory"] = remove
    return block


def _hour_select(hour: int) -> dict[str, Any]:
    options = [kit.option(hour_label(h), str(h)) for h in range(24)]
    return {
        "type": "static_select",
        "action_id": Action.DIGEST_HOUR,
        "placeholder": kit.plain("Hour"),
        "options": options,
        "initial_option": options[hour],
    }


def _connector_block(line: ConnectorLine) -> dict[str, Any]:
    name = SIDE_NAMES[Side(line.side)]
    if line.url:
        label = KIND_LABELS.get(CrmKind(line.kind), line.kind) if line.kind else "webhook"
        state = f"{label} → `{kit.user_text(line.url, 200)}`"
    else:
        state = "not connected — outcomes are kept for `ptm outbox export`"
    source = ""
    if line.configured:
        source = f" · set by `PTM_CRM_{line.side.upper()}_URL`"
    elif line.updated_by:
        source = f" · set by {kit.mention(line.updated_by)}"
    if line.attention:
        state += f"\n:warning: *Needs attention*: {kit.user_text(line.attention, 300)}"
    block = kit.section(f"*{name.capitalize()}*: {state}{source}")
    if line.editable:
        label = "Change" if line.url else "Connect"
        block["accessory"] = kit.button(label, Action.CRM_CONNECTOR, value=line.side)
    return block


def admin_blocks(view: AdminView) -> list[dict[str, Any]]:
    """At most 35 blocks, so the Home's 100 leave room for the deals above."""
    blocks: list[dict[str, Any]] = [kit.divider(), kit.header("PTM settings · admins only")]
    blocks.append(
        kit.section(f"*Admins* ({len(view.admins)}) can change any deal and these settings.")
    )
    blocks.extend(_admin_block(line) for line in view.admins[:MAX_ADMIN_LINES])
    if len(view.admins) > MAX_ADMIN_LINES:
        blocks.append(kit.context(f"…and {len(view.admins) - MAX_ADMIN_LINES} more."))
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "users_select",
                    "action_id": Action.ADMIN_ADD,
                    "placeholder": kit.plain("Add an admin"),
                }
            ],
        }
    )
    default = " (the default)" if view.digest_hour_is_default else ""
    hour = kit.section(
        f"*Daily digest* at {hour_label(view.digest_hour)}{default}, in each person's own "
        "time zone."
    )
    hour["accessory"] = _hour_select(view.digest_hour)
    blocks.append(hour)
    seeing = kit.section(
        "*Several partner companies on one deal* see each other "
        + (
            "by company and role (not each other's reps)."
            if view.partners_see_each_other
            else "not at all (competitors)."
        )  # fmt: skip
    )
    options = [
        kit.option("By company and role", "yes"),
        kit.option("Not at all", "no"),
    ]
    seeing["accessory"] = {
        "type": "static_select",
        "action_id": Action.PARTNERS_SEE,
        "options": options,
        "initial_option": options[0 if view.partners_see_each_other else 1],
    }
    blocks.append(seeing)
    blocks.append(kit.section("*Log to both CRMs* — where each logged outcome goes:"))
    blocks.extend(_connector_block(line) for line in view.connectors)
    if view.partnerships is not None:
        blocks.extend(partnership_blocks(list(view.partnerships), view.tenant))
    if view.disclosed:
        lines = [
            f"{kit.user_text(d.company or d.team or 'a company not known to Slack', 80)}"
            f"{f' ({d.team})' if d.team and d.company else ''}: {d.values} values of "
            f"{d.deals} deal{'s' if d.deals != 1 else ''}, last {kit.slack_date(d.last)}"
            for d in view.disclosed
        ]
        blocks.append(
            kit.section(
                "*Shared with other companies* (last 30 days, from the disclosure ledger):\n"
                + "\n".join(lines)
                + "\nEvery value, version and time: `ptm disclosures --to TEAM_ID [--csv FILE]`."
            )
        )
    if view.recent:
        lines = [
            f"{kit.slack_date(e.at)} {kit.mention(e.actor)} {kit.truncate(e.text, 300)}"
            for e in view.recent
        ]
        blocks.append(kit.context("Recent changes: " + " · ".join(lines)))
    return blocks
