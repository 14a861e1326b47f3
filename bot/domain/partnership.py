"""Partnerships: the explicit agreement between two companies that both installed PTM about
what crosses between them. Its states, who may move it where, and the fields each side shares.
Stdlib only.

    proposed --accept (partner's admin)--> active --pause (either)--> paused
        |                                    |  ^                        |
        +--decline (partner's admin)         |  +--resume (who paused)---+
        +--withdraw (proposer's admin)       +--end (either, also from paused) --> ended

`declined` and `ended` are final: a new proposal starts a new partnership.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.model import BadInput, Conflict, NotAllowed


class State(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    PAUSED = "paused"
    DECLINED = "declined"
    ENDED = "ended"


LIVE = frozenset({State.PROPOSED, State.ACTIVE, State.PAUSED})


class Move(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    WITHDRAW = "withdraw"
    PAUSE = "pause"
    RESUME = "resume"
    END = "end"


# The deal fields a company may share with its partner (internal notes and forecast category
# never cross: they are not on this list). Order: as a card shows them.
SHAREABLE = {
    "name": "deal name",
    "account": "account",
    "stage": "stage",
    "amount": "amount and currency",
    "close_date": "close date",
    "next_step": "next step, owner and due date",
    "trio": "the trio (seller, alliance manager, partner rep)",
    "attribution": "attribution",
    "outcomes": "logged outcomes (to their CRM)",
}
DEFAULT_SHARES = tuple(SHAREABLE)


def read_shares(chosen: Iterable[str]) -> tuple[str, ...]:
    """The fields chosen, in card order; at least the deal's name (a shared deal that cannot be
    named cannot be worked on together)."""
    picked = set(chosen)
    unknown = picked - set(SHAREABLE)
    if unknown:
        raise BadInput(
            f"PTM does not share `{sorted(unknown)[0][:30]}`; it shares "
            + ", ".join(SHAREABLE)
            + "."
        )
    if "name" not in picked:
        raise BadInput("Share at least the deal name: your partner needs to know which deal it is.")
    return tuple(f for f in SHAREABLE if f in picked)


def shares_text(shares: Iterable[str]) -> str:
    names = [SHAREABLE[f] for f in SHAREABLE if f in set(shares)]
    return ", ".join(names) if names else "nothing"


@dataclass(frozen=True)
class Partnership:
    id: int
    proposer: int  # tenant ids
    partner: int
    state: State
    proposer_shares: tuple[str, ...]
    partner_shares: tuple[str, ...]
    paused_by: int | None  # the tenant that paused it
    version: int

    def side_of(self, tenant: int) -> str:
        if tenant == self.proposer:
            return "proposer"
        if tenant == self.partner:
            return "partner"
        raise NotAllowed("That partnership is between two other companies.")

    def other(self, tenant: int) -> int:
        self.side_of(tenant)
        return self.partner if tenant == self.proposer else self.proposer

    def shares_of(self, tenant: int) -> tuple[str, ...]:
        """What `tenant` shares with the other side under this partnership."""
        return self.proposer_shares if self.side_of(tenant) == "proposer" else self.partner_shares


# The shareable fields a copy for a partner company shows only when shared ("name" always is).
GOVERNED = ("account", "stage", "amount", "close_date", "next_step", "trio", "attribution")


@dataclass(frozen=True)
class Policy:
    """What one company's surfaces may show another company under their partnership: the
    fields it shares, and whether the partnership is paused (then nothing but the deal's name:
    nothing new crosses)."""

    company: str  # the receiving company, as named to the sender's people
    shares: tuple[str, ...]
    paused: bool = False
    paused_by_them: bool = False

    def withheld(self) -> frozenset[str]:
        if self.paused:
            return frozenset(GOVERNED)
        return frozenset(f for f in GOVERNED if f not in self.shares)

    def allows(self, what: str) -> bool:
        return not self.paused and (what == "name" or what in self.shares)


def governed_field(change_key: str) -> str | None:
    """Which governed field an audit entry's key is about (None: not governed, e.g. the name)."""
    head = change_key.split(".", 1)[0]
    return {
        "account": "account",
        "amount": "amount",
        "currency": "amount",
        "close_date": "close_date",
        "stage": "stage",
        "status": "stage",
        "close_reason": "stage",
        "attribution": "attribution",
        "next_step": "next_step",
        "trio": "trio",
        "partners": "trio",
    }.get(head)


def govern_delivery(body: dict[str, object], policy: Policy | None) -> dict[str, object]:
    """A CRM delivery for a partner company, less what our policy toward it withholds (its
    keys are the webhook's: PRODUCT.md "Co-sell engine")."""
    if policy is None:
        return body
    withheld = policy.withheld()
    return {k: v for k, v in body.items() if governed_field(k) not in withheld}


def visible_under(changes: dict[str, object], policy: Policy | None) -> dict[str, object]:
    """The part of an audit entry another company may see under our policy toward it."""
    if policy is None:
        return changes
    withheld = policy.withheld()
    return {k: v for k, v in changes.items() if governed_field(k) not in withheld}


def require_shared(changes: Iterable[str], policy: Policy | None) -> None:
    """Someone of a partner company changes only what we share with it: what they cannot see
    they cannot change (and the answer would tell them the old value)."""
    if policy is None:
        return
    if policy.paused:
        raise NotAllowed(
            f"The PTM partnership with {policy.company} is paused: nothing changes across it "
            "until it resumes."
        )
    withheld = policy.withheld()
    hidden = sorted({f for k in changes if (f := governed_field(k)) in withheld})
    if hidden:
        names = ", ".join(SHAREABLE[f] for f in hidden)
        raise NotAllowed(
            f"This deal's {names} {'is' if len(hidden) == 1 else 'are'} not shared with your "
            "company, so you cannot change it here. Ask the deal's seller or alliance manager."
        )


def policy_toward(p: Partnership, own: int, company: str) -> Policy | None:
    """What `own` may show the other side of `p`; None when it is not active or paused (no
    partnership governs: the partner is served as a guest, as without PTM on their side)."""
    if p.state not in (State.ACTIVE, State.PAUSED):
        return None
    paused = p.state is State.PAUSED
    return Policy(company, p.shares_of(own), paused, paused and p.paused_by != own)


def strictest(policies: Iterable[Policy]) -> Policy | None:
    """One copy seen by several partner companies shows what all of them may see."""
    found = list(policies)
    if not found:
        return None
    shared = set.intersection(*(set(p.shares) for p in found))
    return Policy(
        ", ".join(sorted({p.company for p in found})),
        tuple(f for f in SHAREABLE if f in shared),
        any(p.paused for p in found),
        any(p.paused_by_them for p in found),
    )


# (from state, move) -> (to state, which side may make it)
_MOVES: dict[tuple[State, Move], tuple[State, str]] = {
    (State.PROPOSED, Move.ACCEPT): (State.ACTIVE, "partner"),
    (State.PROPOSED, Move.DECLINE): (State.DECLINED, "partner"),
    (State.PROPOSED, Move.WITHDRAW): (State.ENDED, "proposer"),
    (State.ACTIVE, Move.PAUSE): (State.PAUSED, "either"),
    (State.ACTIVE, Move.END): (State.ENDED, "either"),
    (State.PAUSED, Move.RESUME): (State.ACTIVE, "pauser"),
    (State.PAUSED, Move.END): (State.ENDED, "either"),
}

_DONE = {
    State.ACTIVE: "is active",
    State.PAUSED: "is paused",
    State.DECLINED: "was declined",
    State.ENDED: "has ended",
    State.PROPOSED: "is waiting for an answer",
}


def move(p: Partnership, what: Move, *, by_tenant: int) -> State:
    """The state `what` leads to, if `by_tenant`'s side may make that move now."""
    side = p.side_of(by_tenant)
    found = _MOVES.get((p.state, what))
    if found is None:
        raise Conflict(f"The partnership {_DONE[p.state]}: it cannot be {past(what)} now.")
    to, who = found
    if who == "partner" and side != "partner":
        raise NotAllowed("Only the other company's admins can answer this proposal.")
    if who == "proposer" and side != "proposer":
        raise NotAllowed("Only the company that proposed it can withdraw a proposal.")
    if who == "pauser" and p.paused_by != by_tenant:
        raise NotAllowed("The other company paused this partnership; only they can resume it.")
    return to


def past(what: Move) -> str:
    return {
        Move.ACCEPT: "accepted",
        Move.DECLINE: "declined",
        Move.WITHDRAW: "withdrawn",
        Move.PAUSE: "paused",
        Move.RESUME: "resumed",
        Move.END: "ended",
    }[what]
