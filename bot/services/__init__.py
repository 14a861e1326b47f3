"""Use cases: one async function per user intent. No Slack types, no Block Kit."""

from bot.services.cards import (
    card_for_channel,
    copies_rendered,
    deals_shown_in,
    deals_with_stale_copies,
    forget_copies,
    record_copy,
    refresh_sharing,
    render_all,
)
from bot.services.common import Caller, Ctx, resolve_deal
from bot.services.deals import (
    change,
    complete_step,
    create_deal,
    edit_deal,
    learn_trio_teams,
    mark_synced,
    move_stage,
    name_trio,
    run_intent,
    set_next,
)
from bot.services.messages import (
    claim_message,
    note_activity,
    prune_dedupe,
    run_mention,
)
from bot.services.reads import (
    edit_form_for,
    history,
    internal_view_for,
    list_deals,
    load_deal,
    next_step_form_for,
)

__all__ = [
    "Caller",
    "Ctx",
    "card_for_channel",
    "deals_shown_in",
    "deals_with_stale_copies",
    "refresh_sharing",
    "render_all",
    "change",
    "complete_step",
    "copies_rendered",
    "create_deal",
    "edit_deal",
    "edit_form_for",
    "forget_copies",
    "history",
    "learn_trio_teams",
    "internal_view_for",
    "list_deals",
    "load_deal",
    "mark_synced",
    "move_stage",
    "name_trio",
    "next_step_form_for",
    "claim_message",
    "note_activity",
    "prune_dedupe",
    "run_mention",
    "record_copy",
    "resolve_deal",
    "run_intent",
    "set_next",
]
