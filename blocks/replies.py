"""Ephemeral answers: help, notices, deal lists and history."""

from __future__ import annotations

from typing import Any

from blocks import kit
from blocks.card import internal_text
from blocks.ids import Action
from blocks.metadata import CardRef
from bot.domain.model import USER_ID_RE
from bot.views.models import DealLine, HistoryView, InternalView, Reply

HELP = (  # one line per command; mrkdwn, so backticks show commands as code
    """*PTM keeps one deal card that seller, alliance manager and partner rep share.*
`/ptm new Acme expansion` — create a deal; this channel becomes its deal room (no name: a form;\
 a Salesforce opportunity or HubSpot deal URL: the deal made from it)
`/ptm aws` — co-sell with AWS Partner Central: what AWS still needs, the form, where it stands
`/ptm link 006Ho00000AbCdE` — link the deal to its CRM record (id or URL): name, account,\
 amount, close date and stage follow the CRM
`/ptm trio @seller @alliance @partner` — name the trio (or `/ptm trio partner @user`)
`/ptm partner add @rep si` / `/ptm partner remove @rep` — more partner companies on the deal\
 (cloud, isv, si, reseller or other)
`/ptm stage Propose` — move the deal (Qualify, Discover, Validate, Propose, Negotiate,\
 Closed Won, Closed Lost; a unique prefix works)
`/ptm next send the security questionnaire for partner by friday` — set the next step\
 (owner: `for @user` or `for seller|alliance|partner`, else the stage's default role; due:\
 `YYYY-MM-DD`, `today`, `tomorrow`, a weekday, `in 3 days`, `Dec 1`)
`/ptm done` — complete the open next step
`/ptm card` — post another copy of the card here (every copy stays in step)
`/ptm list` — your open deals and their next steps
`/ptm digest` — your daily digest now, in your DMs with PTM
`/ptm trigger stuck at VP level in healthcare` — why a partner is pulled in
`/ptm find healthcare VP data` — rank partners and attach one to the deal
`/ptm brief intro to the CMO` — post the co-sell brief (`/ptm brief preview` first)
`/ptm log joint call held, POC agreed` — record an outcome for both CRMs
`/ptm attribution co-sell` — sourced, co-sell or influenced
`/ptm won` / `/ptm lost went with a competitor` — close the deal (`/ptm reopen` to work on it again)
`/ptm metrics` — seller activation, win rates, attribution, operator check\
 (`/ptm metrics chart`: the trend picture, in your DMs)
`/ptm partnership` — in a channel shared with a company that installed PTM too: propose a\
 partnership (admins; answers and settings in App Home)
Outside a deal room, name the deal by key: `/ptm stage PTM-12 Validate`.
Partner reps can use every button on the card."""
)


def build_help() -> dict[str, Any]:
    return {"text": "PTM help", "blocks": kit.chunk_sections(HELP)}


def build_notice(text: str) -> dict[str, Any]:
    """A short ephemeral answer; `text` is our own mrkdwn with user parts already escaped."""
    return {"text": kit.truncate(text, 3000), "blocks": kit.chunk_sections(text)[:5]}


def build_reply(reply: Reply) -> dict[str, Any]:
    """A use case's answer: a notice, the caller's deals, or a notice with a next step's
    *Change owner* button (it opens the same form as the card's *Set next step*)."""
    if reply.kind == "list":
        return build_deal_list(reply.lines)
    message = build_notice(reply.text)
    if reply.owner_change is not None:
        deal_id, version = reply.owner_change
        controls = {
            "type": "actions",
            "block_id": CardRef(d=deal_id, v=version).block_id("reply"),
            "elements": [kit.button("Change owner", Action.STEP_SET)],
        }
        message["blocks"] = [*message["blocks"][:4], controls]
    return message


def deal_line_text(line: DealLine) -> str:
    """One deal as a list shows it: key, name, stage (and the partner company that shares it),
    then its next step — or why it is not shown."""
    if line.paused:
        step = "_Partnership paused: nothing new is shared until it resumes._"
    elif not line.step_shared:
        step = "_Next step not shared._"
    elif line.next_step:
        owner = kit.mention(line.owner_user) if line.owner_user else "_unassigned_"
        owner = kit.user_text(line.owner_label, 80) if line.owner_label else owner
        due = f" · due {line.due.isoformat()}" if line.due else ""
        late = " · :warning: overdue" if line.overdue else ""
        step = f"Next: {kit.user_text(line.next_step, 300)} — {owner}{due}{late}"
    else:
        step = "_No next step — set one._"
    shared_by = f" · shared by *{kit.user_text(line.company, 80)}*" if line.company else ""
    return f"*{line.key}* {kit.user_text(line.name, 150)} · {line.stage}{shared_by}\n{step}"


def build_deal_list(lines: tuple[DealLine, ...], *, limit: int = 40) -> dict[str, Any]:
    if not lines:
        return build_notice("You have no open deals. Start one with `/ptm new &lt;name&gt;`.")
    blocks = [kit.header("Your open deals")]
    blocks += [kit.section(deal_line_text(line)) for line in lines[:limit]]
    if len(lines) > limit:
        blocks.append(kit.context(f"…and {len(lines) - limit} more."))
    return {"text": f"Your open deals ({len(lines)})", "blocks": blocks[: kit.MESSAGE_BLOCK_LIMIT]}


def build_history(history: HistoryView) -> dict[str, Any]:
    """The latest audit events of a deal: who (and which org) changed what, old → new."""
    lines = [f"*History of {history.key}* {kit.user_text(history.name, 100)}"]
    for entry in history.entries:
        changes = "; ".join(
            f"{field}: {_shown(field, old)} → {_shown(field, new)}"
            for field, old, new in entry.changes
        )
        lines.append(
            f"v{entry.version} · {kit.mention(entry.actor)} ({entry.org}) via {entry.source} "
            f"{kit.slack_date(entry.at)} — {changes}"
        )
    return {
        "text": f"History of {history.key}",
        "blocks": kit.chunk_sections("\n".join(lines))[:20],
    }


USER_FIELDS = ("trio.", "next_step.owner")


def _shown(field: str, value: Any) -> str:
    if value is None:
        return "—"
    if field.startswith(USER_FIELDS) and USER_ID_RE.fullmatch(str(value)):
        return kit.mention(str(value))
    return kit.user_text(str(value), 120)


def build_internal_notice(key: str, internal: InternalView) -> dict[str, Any]:
    """A private (ephemeral) look at the internal fields, for our own people in a shared channel."""
    return {
        "text": f"Internal view of {key}",
        "blocks": [kit.section(f"*{key}*\n" + internal_text(internal))],
    }
