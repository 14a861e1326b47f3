"""Which company's deal a request is about, when both companies installed PTM.

In a Slack Connect channel shared by two companies that both installed PTM, Slack sends a click
on a card to the clicker's own installation, a slash command to the typist's, and an event to
an arbitrary one of the two (SLACK.md §9). The deal may be the other company's. This module reads
a payload for what it is about — a card message, a deal room, a deal key, a modal PTM opened
for another company's deal — and finds, across tenants, whose it is (`store.routing`). The
request then runs as that tenant's, the actor classified against that tenant (a partner rep
stays external, whatever installation carried the click), and answers through the installation
that received it where Slack requires (modals, App Home).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from bot.domain.inputs import parse_deal_key
from bot.domain.intents import DEAL_COMMANDS
from bot.domain.partnership import State
from store import UowFactory

# A modal PTM opened for another tenant's deal carries that tenant in its metadata, outside
# the seal: `h<tenant>.<sealed metadata>` (see RoutedGateway, ROUTING_MARK).
VIEW_MARK = re.compile(r"^h(\d{1,12})\.")


@dataclass(frozen=True)
class Subject:
    """What a request is about, as far as its payload says."""

    card: tuple[str, str] | None = None  # (channel, ts) of the clicked message
    room: str | None = None  # the channel whose deal a command or message acts on
    number: int | None = None  # a deal key typed in a command (PTM-<number>)
    team: str | None = None  # the actor's own team
    marked: int | None = None  # the tenant a modal was opened for
    message: bool = False  # an Events API message: the actor's own company's room first


def subject_of(body: dict[str, Any], own_bot: str | None) -> Subject | None:
    """None when the payload cannot be about another company's deal."""
    kind = body.get("type")
    if kind == "block_actions":
        container = body.get("container") or {}
        if container.get("type") == "message":
            message = body.get("message") or {}
            poster = message.get("user")
            if poster is not None and poster == own_bot:
                return None  # our own installation posted it: ours
            channel, ts = container.get("channel_id"), container.get("message_ts")
            return Subject(card=(str(channel), str(ts))) if channel and ts else None
        return _marked(body.get("view"))
    if kind in ("view_submission", "view_closed"):
        return _marked(body.get("view"))
    if kind == "event_callback":
        if body.get("is_ext_shared_channel") is False:
            return None  # only a Slack Connect channel can be another company's deal room
        event = body.get("event") or {}
        if event.get("type") not in ("message", "app_mention") or not event.get("channel"):
            return None
        team = event.get("user_team") or event.get("team") or event.get("source_team")
        return Subject(room=str(event["channel"]), team=team, message=True)
    if "command" in body:
        words = str(body.get("text") or "").split()
        if not words or words[0].lower() not in DEAL_COMMANDS:
            return None
        number = next((n for w in words[1:] if (n := parse_deal_key(w)) is not None), None)
        channel = body.get("channel_id")
        return Subject(
            room=str(channel) if channel else None, number=number, team=body.get("team_id")
        )
    return None


def _marked(view: Any) -> Subject | None:
    found = VIEW_MARK.match(str((view or {}).get("private_metadata") or ""))
    return Subject(marked=int(found.group(1))) if found else None


class RoomOwners:
    """Which tenants made each channel a deal room, as this process last read it (a short
    while): a command or message in a room its own company owns — nearly all of them — is then
    routed without a statement. Stale only for the seconds after another company binds a
    channel, when a command there still acts for the typist's own company."""

    def __init__(self, seconds: float = 30.0, size: int = 20_000) -> None:
        self.seconds, self.size = seconds, size
        self._kept: dict[str, tuple[float, list[int]]] = {}

    def get(self, channel: str) -> list[int] | None:
        kept = self._kept.get(channel)
        if kept is None or time.monotonic() - kept[0] >= self.seconds:
            return None
        return kept[1]

    def put(self, channel: str, owners: list[int]) -> None:
        if len(self._kept) >= self.size:
            self._kept.clear()  # bounded; refilled on use
        self._kept[channel] = (time.monotonic(), owners)


def _settled(own: int, owners: list[int] | None, subject: Subject) -> bool:
    """The room's owners alone say the request is its own company's."""
    if owners is None or subject.card is not None or subject.marked is not None:
        return False
    if subject.number is not None:
        return False
    return not owners or (own in owners and not (subject.message and len(owners) > 1))


async def home_of(
    root: UowFactory, own: int, subject: Subject, rooms: RoomOwners | None = None
) -> int | None:
    """The tenant whose deal the request is about, when it is not `own`; None: `own`'s."""
    if subject.marked is not None:
        return subject.marked if subject.marked != own else None
    if rooms is not None and subject.room and _settled(own, rooms.get(subject.room), subject):
        return None
    async with root.unscoped().reads() as tx:
        routing = tx.routing
        if subject.card is not None:
            home = await routing.card_owner(*subject.card)
        elif subject.number is not None and await routing.owns_deal(own, subject.number):
            home = None  # a key of our own deals
        else:
            owners = await routing.room_owners(subject.room) if subject.room else []
            if rooms is not None and subject.room:
                rooms.put(subject.room, owners)
            home = await _room_home(routing, own, owners, subject)
            if home is None and subject.number is not None and subject.team:
                # A key typed in one's own workspace: a deal shared with us by a partner (paused:
                # still theirs to name, so the answer says the pause, not "no such deal").
                partners = await routing.partners(own, (State.ACTIVE, State.PAUSED))
                found = await routing.shared_deal_owners(subject.number, partners, subject.team)
                home = found[0] if len(found) == 1 else None
    return home if home != own else None


async def _room_home(routing: Any, own: int, owners: list[int], subject: Subject) -> int | None:
    if not owners or (own in owners and not subject.message):
        return None
    if subject.message and subject.team and len(owners) > 1:
        # A message in a channel both companies made a deal room of: the author's company's.
        actor = await routing.tenant_of_team(subject.team)
        if actor in owners:
            return int(actor)
    return own if own in owners else owners[0]
