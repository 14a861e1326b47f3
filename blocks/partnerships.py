"""Partnerships on screen: the proposal and answer forms, the DM that asks the other company's
admins, and the list in the admins' App Home with what each side may do next."""

from __future__ import annotations

from typing import Any

from blocks import kit
from blocks.ids import INPUT_ACTION, Action, Callback, Field
from blocks.metadata import PartnershipRef, ProposalMeta
from blocks.modals import modal, select_input
from bot.domain.partnership import SHAREABLE, Move, State, shares_text
from bot.views.partnerships import AnswerForm, PartnershipLine, ProposalForm, Tell

MAX_LINES = 10
MOVE_ACTIONS = {
    Move.DECLINE: Action.PARTNERSHIP_DECLINE,
    Move.WITHDRAW: Action.PARTNERSHIP_WITHDRAW,
    Move.PAUSE: Action.PARTNERSHIP_PAUSE,
    Move.RESUME: Action.PARTNERSHIP_RESUME,
    Move.END: Action.PARTNERSHIP_END,
}
ACTION_MOVES = {action.value: move for move, action in MOVE_ACTIONS.items()}


def _shares_input(label: str, initial: tuple[str, ...]) -> dict[str, Any]:
    options = [kit.option(text.capitalize(), field) for field, text in SHAREABLE.items()]
    element: dict[str, Any] = {"type": "checkboxes", "action_id": INPUT_ACTION, "options": options}
    chosen = [o for o in options if o["value"] in initial]
    if chosen:
        element["initial_options"] = chosen
    return {
        "type": "input",
        "block_id": Field.SHARES,
        "label": kit.plain(label),
        "element": element,
        "hint": kit.plain(
            "Internal notes and forecast category never cross. At least the deal name."
        ),
    }


# In a proposal's metadata: the company is the one picked in the form (App Home).
CHOSEN_IN_FORM = 0


def build_propose_modal(form: ProposalForm) -> dict[str, Any]:
    about = (
        "Deals you both work on in shared channels become one card for both companies, each "
        "seeing them in its own PTM. Their admins choose what they share back, then accept or "
        "decline."
    )
    if form.other_tenant is None:
        companies = [(kit.truncate(name, 75) or str(t), str(t)) for t, name in form.choices]
        blocks = [
            kit.section(f"Propose a PTM partnership. {about}"),
            select_input(Field.PARTNERSHIP_WITH, "With", companies, None, optional=False),
            _shares_input("What we share with them", tuple(SHAREABLE)),
        ]
        other = CHOSEN_IN_FORM
    else:
        name = kit.user_text(form.other_name, 80)
        blocks = [
            kit.section(f"Propose a PTM partnership to *{name}*. {about}"),
            _shares_input(
                f"What we share with {kit.truncate(form.other_name, 60)}", tuple(SHAREABLE)
            ),
        ]
        other = form.other_tenant
    meta = ProposalMeta(other=other, channel=form.channel_id).encode(3000)
    return modal(Callback.PARTNERSHIP_PROPOSE, "Propose partnership", "Propose", blocks, meta)


def build_answer_modal(form: AnswerForm) -> dict[str, Any]:
    name = kit.user_text(form.other_name, 80)
    blocks = [
        kit.section(
            f"*{name}* proposes a PTM partnership. They would share: "
            f"{shares_text(form.their_shares)}."
        ),
        _shares_input("What we share back", tuple(SHAREABLE)),
        kit.context("Accepting makes it active at once. Either company can pause or end it."),
    ]
    meta = PartnershipRef(p=form.partnership_id, v=form.version).encode(3000)
    return modal(Callback.PARTNERSHIP_ACCEPT, "Partnership", "Accept", blocks, meta)


def _button(
    move_or_review: Move | None, line_ref: str, *, label: str, style: str | None = None
) -> dict[str, Any]:
    action = Action.PARTNERSHIP_REVIEW if move_or_review is None else MOVE_ACTIONS[move_or_review]
    return kit.button(label, action, value=line_ref, style=style)


def build_partnership_dm(tell: Tell) -> dict[str, Any]:
    """What the other company's admins get, through their own installation."""
    blocks: list[dict[str, Any]] = [kit.section(tell.text)]
    if tell.answer:
        ref = PartnershipRef(p=tell.partnership_id, v=tell.version).encode(kit.BUTTON_VALUE_LIMIT)
        decline = _button(Move.DECLINE, ref, label="Decline")
        decline["confirm"] = kit.confirm(
            "Decline the partnership?",
            "They will be told. They can propose again later.",
            "Decline",
        )
        blocks.append(
            {
                "type": "actions",
                "elements": [_button(None, ref, label="Review", style="primary"), decline],
            }
        )
    else:
        blocks.append(kit.context("Your partnerships are in the PTM settings of your App Home."))
    return {"text": kit.truncate(tell.text, 3000), "blocks": blocks}


_STATE = {
    State.PROPOSED: ":hourglass: proposed",
    State.ACTIVE: ":handshake: active",
    State.PAUSED: ":double_vertical_bar: paused",
    State.DECLINED: "declined",
    State.ENDED: "ended",
}


def _moves(line: PartnershipLine, own: int) -> list[tuple[Move | None, str]]:
    p = line.partnership
    ours = p.proposer == own
    if p.state is State.PROPOSED:
        return (
            [(Move.WITHDRAW, "Withdraw")] if ours else [(None, "Review"), (Move.DECLINE, "Decline")]
        )
    if p.state is State.ACTIVE:
        return [(Move.PAUSE, "Pause"), (Move.END, "End")]
    if p.state is State.PAUSED:
        resume = [(Move.RESUME, "Resume")] if p.paused_by == own else []
        return [*resume, (Move.END, "End")]
    return []


def partnership_blocks(lines: list[PartnershipLine], own: int) -> list[dict[str, Any]]:
    """The partnerships part of an admin's settings (at most 10 lines, live ones first)."""
    blocks: list[dict[str, Any]] = [
        kit.section(
            "*Partnerships* — what crosses between us and a partner company that installed PTM "
            "too. Propose one here, or with `/ptm partnership` in a channel you share with them.",
        ),
        {
            "type": "actions",
            "elements": [kit.button("Propose a partnership", Action.PARTNERSHIP_START)],
        },
    ]
    for line in lines[:MAX_LINES]:
        p = line.partnership
        name = kit.user_text(line.other_name, 80)
        ours, theirs = p.shares_of(own), p.shares_of(p.other(own))
        paused = ""
        if p.state is State.PAUSED:
            paused = " by us" if p.paused_by == own else " by them"
        text = f"*{name}* · {_STATE[p.state]}{paused}"
        if p.state is not State.PROPOSED or p.proposer == own:
            text += f"\nWe share: {shares_text(ours)}"
        if p.state is not State.PROPOSED or p.proposer != own:
            text += f"\nThey share: {shares_text(theirs) if theirs else 'not chosen yet'}"
        blocks.append(kit.section(text))
        moves = _moves(line, own)
        if moves:
            ref = PartnershipRef(p=p.id, v=p.version).encode(kit.BUTTON_VALUE_LIMIT)
            elements = []
            for move, label in moves:
                button = _button(
                    move, ref, label=label, style="danger" if move is Move.END else None
                )
                if move in (Move.END, Move.PAUSE, Move.DECLINE, Move.WITHDRAW):
                    button["confirm"] = kit.confirm(
                        f"{label} the partnership?",
                        f"{kit.user_text(line.other_name, 100)}'s admins will be told.",
                        label,
                    )
                elements.append(button)
            blocks.append({"type": "actions", "elements": elements})
    if not lines:
        blocks.append(kit.context("None yet."))
    return blocks
