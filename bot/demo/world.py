"""The demo's Slack as data: two companies, their people, channels, messages with threads and
ephemerals, each person's open modals and App Home, and what the page shows each of them.

No HTTP here (bot.demo.simulator serves it); a `World` is changed only by its methods, and
every change bumps `version` so the page knows to draw again.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.demo import render
from bot.demo.render import esc, tag

BOT_USER = "UPTMBOT"
BOT_NAME = "PTM"


@dataclass(frozen=True)
class Company:
    team_id: str
    name: str
    has_ptm: bool  # the company installed PTM (only ours, in the demo)


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    handle: str  # what follows @ when typing a mention
    title: str
    company: Company
    tz: str = "America/New_York"

    @property
    def team(self) -> str:
        return self.company.team_id


@dataclass
class Channel:
    id: str
    name: str
    members: tuple[str, ...]
    shared_with: tuple[Company, ...] = ()  # Slack Connect: the other companies in it
    is_im: bool = False

    @property
    def shared(self) -> bool:
        return bool(self.shared_with)


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    only_for: str | None = None  # an ephemeral message: its one reader
    edits: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None


@dataclass
class Modal:
    id: str
    view: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    drawn: int = 0  # bumped when the view or its errors change: the page redraws the form


@dataclass
class Notice:
    id: int
    text: str
    error: bool = False


LUMEN = Company("T0LUMEN", "Lumen Software", has_ptm=True)
NORTHWIND = Company("T0NORTHWIND", "Northwind Cloud", has_ptm=False)


def demo_people() -> list[Person]:
    return [
        Person("USAM", "Sam Rivera", "sam", "Account executive (seller)", LUMEN),
        Person("UALEX", "Alex Chen", "alex", "Alliance manager, PTM admin", LUMEN),
        Person("UOLIVE", "Olive Park", "olive", "Solutions engineer (not on the deals)", LUMEN),
        Person(
            "UPAT", "Pat Quinn", "pat", "Partner rep at Northwind Cloud", NORTHWIND, "Europe/London"
        ),
    ]


def demo_channels(people: list[Person]) -> list[Channel]:
    ours = tuple(p.id for p in people if p.company is LUMEN)
    everyone = tuple(p.id for p in people)
    return [
        Channel("CROOM", "acme-health-cosell", (*everyone, BOT_USER), shared_with=(NORTHWIND,)),
        Channel("CSALES", "sales", (*ours, BOT_USER)),
        *(Channel(f"D{p}", BOT_NAME, (p, BOT_USER), is_im=True) for p in ours),
    ]


class World:
    def __init__(self, people: list[Person], channels: list[Channel], home: Company) -> None:
        self.home = home  # the company whose workspace PTM is installed in
        self.people = {p.id: p for p in people}
        self.channels = {c.id: c for c in channels}
        self.messages: list[Message] = []
        self.modals: dict[str, list[Modal]] = {}
        self.homes: dict[str, dict[str, Any]] = {}
        self.notices: dict[str, list[Notice]] = {}
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (title, bytes)
        self.version = 0
        self._ids = itertools.count(1)
        self._last_ts = 0.0

    # --- who and where ---------------------------------------------------------------

    def person(self, user_id: str) -> Person:
        return self.people[user_id]

    def channels_of(self, user_id: str) -> list[Channel]:
        return [c for c in self.channels.values() if user_id in c.members]

    def dm_of(self, user_id: str) -> Channel | None:
        return self.channels.get(f"D{user_id}")

    def may_use_ptm(self, person: Person) -> bool:
        """The slash command and App Home exist only in a workspace that installed PTM."""
        return person.company.has_ptm and person.company == self.home

    def names(self, **extra: Any) -> render.Names:
        users = {p.id: p.name for p in self.people.values()}
        return render.Names(
            users={**users, BOT_USER: BOT_NAME},
            pickable=users,
            channels={c.id: c.name for c in self.channels.values()},
            now=datetime.now(UTC),
            file_url=lambda fid: f"/sim/files/{fid}",
            **extra,
        )

    # --- changes ---------------------------------------------------------------------

    def changed(self) -> None:
        self.version += 1

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def new_ts(self) -> str:
        """A message ts as Slack makes it: epoch seconds, microseconds, unique and rising."""
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def post(self, message: Message) -> Message:
        self.messages.append(message)
        self.changed()
        return message

    def find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def delete(self, message: Message) -> None:
        self.messages.remove(message)
        self.changed()

    def notify(self, user_id: str, text: str, *, error: bool = False) -> None:
        self.notices.setdefault(user_id, []).append(Notice(next(self._ids), text, error))
        self.changed()

    def notify_channel(self, channel: str, text: str, *, error: bool = True) -> None:
        for member in self.channels[channel].members if channel in self.channels else ():
            if member in self.people:
                self.notify(member, text, error=error)

    def open_modal(self, user_id: str, view: dict[str, Any], *, push: bool = False) -> Modal:
        modal = Modal(self.new_id("V"), view)
        stack = self.modals.setdefault(user_id, [])
        if not push:
            stack.clear()
        stack.append(modal)
        self.changed()
        return modal

    def modal(self, view_id: str) -> tuple[str, Modal] | None:
        for user_id, stack in self.modals.items():
            for modal in stack:
                if modal.id == view_id:
                    return user_id, modal
        return None

    def top_modal(self, user_id: str) -> Modal | None:
        stack = self.modals.get(user_id) or []
        return stack[-1] if stack else None

    def close_modal(self, user_id: str, *, all_views: bool = False) -> None:
        stack = self.modals.get(user_id) or []
        if all_views:
            stack.clear()
        elif stack:
            stack.pop()
        self.changed()

    def replace_modal(self, modal: Modal, view: dict[str, Any]) -> None:
        modal.view = view
        modal.errors = {}
        modal.drawn += 1
        self.changed()

    def set_errors(self, modal: Modal, errors: dict[str, str]) -> None:
        modal.errors = dict(errors)
        modal.drawn += 1
        self.changed()

    # --- what one person sees --------------------------------------------------------

    def visible(self, user_id: str, channel: str) -> list[Message]:
        return [
            m
            for m in self.messages
            if m.channel == channel and (m.only_for is None or m.only_for == user_id)
        ]

    def pane(self, user_id: str, channel_id: str) -> str:
        """A channel as this person sees it: messages in order, each thread under its parent."""
        names = self.names()
        shown = self.visible(user_id, channel_id)
        replies: dict[str, list[Message]] = {}
        for m in shown:
            if m.thread_ts and m.thread_ts != m.ts:
                replies.setdefault(m.thread_ts, []).append(m)
        parents = [m for m in shown if not m.thread_ts or m.thread_ts == m.ts]
        drawn = []
        for m in parents:
            thread = replies.pop(m.ts, [])
            inner = "".join(self._message(r, names, reply=True) for r in thread)
            count = f"{len(thread)} repl{'y' if len(thread) == 1 else 'ies'}" if thread else ""
            thread_html = (
                tag(
                    "div",
                    {"class": "sim-thread", "data-thread": m.ts},
                    tag("div", {"class": "sim-thread-count"}, count) + inner,
                )
                if thread
                else ""
            )
            drawn.append(self._message(m, names) + thread_html)
        # Replies whose parent this person cannot see (a thread on another's ephemeral).
        for orphans in replies.values():
            drawn += [self._message(r, names, reply=True) for r in orphans]
        if not drawn:
            return tag("div", {"class": "sim-empty"}, self._first_steps(user_id, channel_id))
        return "".join(drawn)

    def _first_steps(self, user_id: str, channel_id: str) -> str:
        """What an empty conversation suggests doing first, for who is looking."""
        if self.channels[channel_id].is_im:
            return "No messages yet. Your daily digest and the metrics picture arrive here."
        if not self.may_use_ptm(self.person(user_id)):
            return "No messages yet. When a deal card is posted here, use its buttons or @PTM."
        return "No messages yet. Start a deal here: /ptm new Acme expansion (or /ptm help)."

    def _message(self, m: Message, names: render.Names, *, reply: bool = False) -> str:
        author = names.user(m.user)
        is_bot = m.user == BOT_USER
        who = esc(author) + (tag("span", {"class": "sim-app"}, "APP") if is_bot else "")
        person = self.people.get(m.user)
        if person is not None and person.company != self.home:
            who += tag("span", {"class": "sim-external"}, esc(person.company.name))
        moment = datetime.fromtimestamp(float(m.ts), UTC).strftime("%H:%M:%S")
        meta = tag("span", {"class": "sim-time"}, moment)
        if m.edits:
            meta += tag("span", {"class": "sim-edited"}, f"(edited ×{m.edits})")
        if m.only_for:
            meta += tag("span", {"class": "sim-only-you"}, "Only visible to you")
        body = render.blocks(m.blocks, names) if m.blocks else render.mrkdwn(m.text, names)
        for f in m.files:
            img = tag("img", {"src": f"/sim/files/{f['id']}", "alt": f.get("title", "")}, None)
            body += tag("div", {"class": "sim-file"}, tag("div", {}, esc(f.get("title", ""))) + img)
        reply_link = (
            ""
            if reply or m.only_for
            else tag(
                "button",
                {"type": "button", "class": "sim-reply", "data-ts": m.ts},
                "Reply in thread",
            )
        )
        css = (
            "sim-message"
            + (" sim-reply-message" if reply else "")
            + (" sim-ephemeral" if m.only_for else "")
        )
        head = tag("div", {"class": "sim-author"}, who + meta)
        attrs = {
            "class": css,
            "data-channel": m.channel,
            "data-ts": m.ts,
            "data-ephemeral": bool(m.only_for),
        }
        return tag("div", attrs, head + tag("div", {"class": "sim-body"}, body) + reply_link)

    def home_pane(self, user_id: str) -> str:
        view = self.homes.get(user_id)
        if view is None:
            return tag("div", {"class": "sim-empty"}, "PTM has not drawn your Home tab yet.")
        attrs = {"class": "sim-home", "data-view": "home"}
        return tag("div", attrs, render.blocks(view.get("blocks"), self.names()))

    def modal_html(self, modal: Modal) -> str:
        return render.view(modal.view, self.names(errors=modal.errors))
