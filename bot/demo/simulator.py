"""The demo's Slack over HTTP: the Web API the bot calls (at SLACK_API_URL), the response URLs
it answers through, and the page people click, whose every act becomes the signed request
Slack would send to the bot (bot.demo.wire).

It answers the bot as Slack does, refusals included: a message or view Slack would refuse
(bot.demo.blockkit) gets `invalid_blocks` and the page says so; a trigger is good once, for
its own person; a partner rep's company has no `/ptm` and no App Home.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import aiohttp
from aiohttp import web

from bot.demo import wire
from bot.demo.blockkit import validate_message, validate_view
from bot.demo.world import BOT_USER, Channel, Message, Person, World

log = logging.getLogger(__name__)

# Slack waits this long for an app's answer to a command or a click, then gives up.
ACK_TIMEOUT = 3.0
TRIGGER_SECONDS = 3.0
MENTION = re.compile(r"(?<![\w<@])@([A-Za-z][\w.-]*)")
CHANNEL_REF = re.compile(r"(?<![\w<#])#([a-z0-9][\w-]*)")
STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


@dataclass
class Reply:
    """Where an answer to one command or click goes (its response_url)."""

    user: str
    channel: str
    source: tuple[str, str] | None = None  # the message clicked: (channel, ts)
    thread_ts: str | None = None


@dataclass
class Trigger:
    user: str
    issued: float = field(default_factory=time.monotonic)


def slack_escape(text: str) -> str:
    """What Slack does to typed text before an app sees it: its three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Simulator:
    """One workspace with PTM installed, a partner company in a Slack Connect channel, and
    the page; `bot_url` and `secret` say where and how to sign requests for the bot."""

    def __init__(self, world: World, *, token: str, secret: str) -> None:
        self.world = world
        self.token = token
        self.secret = secret
        self.bot_url = ""
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._replies: dict[str, Reply] = {}
        self._triggers: dict[str, Trigger] = {}
        self._uploads: dict[str, bytes] = {}
        self.last_activity = time.monotonic()
        self.in_flight = 0
        self.refused: list[str] = []  # every call refused as invalid, for the tests to read

    # --- lifecycle -------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/sim/state", self._state)
        app.router.add_get("/sim/files/{file_id}", self._file)
        app.router.add_post("/sim/say", self._say)
        app.router.add_post("/sim/act", self._act)
        app.router.add_post("/sim/submit", self._submit)
        app.router.add_post("/sim/close", self._close)
        app.router.add_post("/sim/home", self._home)
        app.router.add_post("/sim/dismiss", self._dismiss)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession()  # once listening: nothing to close on a taken port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def settle(self, *, quiet: float = 0.25, limit: float = 8.0) -> None:
        """Wait until the bot has stopped calling (its work after each ack is done)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.in_flight == 0 and time.monotonic() - self.last_activity >= quiet:
                return
            await asyncio.sleep(0.05)

    def _touch(self) -> None:
        self.last_activity = time.monotonic()

    # --- the Web API the bot calls ---------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        self._touch()
        method = request.match_info["method"]
        payload = await read_payload(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else payload.get("token")
        if token != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            self._refuse(None, f"PTM called {method}, which this demo's Slack does not offer")
            return web.json_response({"ok": False, "error": "unknown_method"})
        answer = handler(payload)
        self._touch()
        return web.json_response(answer)

    def _refuse(self, channel: str | None, why: str) -> None:
        self.refused.append(why)
        log.warning("demo Slack refused: %s", why)
        if channel and channel in self.world.channels:
            self.world.notify_channel(channel, why)
        else:
            for person in self.world.people.values():
                self.world.notify(person.id, why, error=True)

    def api_auth_test(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "team_id": self.world.home.team_id,
            "team": self.world.home.name,
            "user_id": BOT_USER,
            "bot_id": "BPTM",
            "url": "http://127.0.0.1/",
        }

    def _channel_for(self, target: str) -> Channel | None:
        """A channel id, or a user id (Slack posts to that person's DM with the app)."""
        if target in self.world.channels:
            return self.world.channels[target]
        return self.world.dm_of(target)

    def _check_message(self, method: str, channel: str, p: dict[str, Any]) -> str | None:
        problems = validate_message(p)
        if not p.get("blocks") and not p.get("text"):
            problems.append("no text and no blocks")
        if problems:
            self._refuse(
                channel, f"Slack refused {method} from PTM (invalid_blocks): {'; '.join(problems)}"
            )
            return "invalid_blocks"
        return None

    def api_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_for(str(p.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if BOT_USER not in channel.members:
            return {"ok": False, "error": "not_in_channel"}
        error = self._check_message("chat.postMessage", channel.id, p)
        if error:
            return {"ok": False, "error": error}
        message = self._from_bot(channel.id, p, thread_ts=p.get("thread_ts") or None)
        return {"ok": True, "channel": channel.id, "ts": message.ts, "message": {"ts": message.ts}}

    def api_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self.world.find(str(p.get("channel")), str(p.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message.user != BOT_USER:
            return {"ok": False, "error": "cant_update_message"}
        error = self._check_message("chat.update", message.channel, p)
        if error:
            return {"ok": False, "error": error}
        self._rewrite(message, p)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def api_chat_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self.world.find(str(p.get("channel")), str(p.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        self.world.delete(message)
        return {"ok": True}

    def api_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_for(str(p.get("channel", "")))
        user = str(p.get("user", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if user not in channel.members:
            return {"ok": False, "error": "user_not_in_channel"}
        error = self._check_message("chat.postEphemeral", channel.id, p)
        if error:
            return {"ok": False, "error": error}
        thread_ts = p.get("thread_ts") or None
        message = self._from_bot(channel.id, p, thread_ts=thread_ts, only_for=user)
        return {"ok": True, "message_ts": message.ts}

    def _from_bot(
        self,
        channel: str,
        p: dict[str, Any],
        *,
        thread_ts: str | None,
        only_for: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> Message:
        """A message PTM posts (`only_for`: an ephemeral one); `p` as the Web API got it."""
        message = Message(
            channel,
            self.world.new_ts(),
            BOT_USER,
            text=str(p.get("text") or p.get("initial_comment") or ""),
            blocks=p.get("blocks"),
            thread_ts=thread_ts,
            only_for=only_for,
            files=files or [],
            metadata=p.get("metadata"),
        )
        return self.world.post(message)

    def _rewrite(self, message: Message, p: dict[str, Any]) -> None:
        """A message PTM changed in place (chat.update, or a response_url replacing it)."""
        message.text = str(p.get("text") or "")
        message.blocks = p.get("blocks")
        message.metadata = p.get("metadata") or message.metadata
        message.edits += 1
        self.world.changed()

    def _trigger_user(self, trigger_id: str) -> str | None:
        trigger = self._triggers.pop(trigger_id, None)
        if trigger is None or time.monotonic() - trigger.issued > TRIGGER_SECONDS:
            return None
        return trigger.user

    def _check_view(self, user: str, view: dict[str, Any]) -> str | None:
        problems = validate_view(view)
        if problems:
            self._refuse(
                None, f"Slack refused a view from PTM (invalid_arguments): {'; '.join(problems)}"
            )
            self.world.notify(user, "PTM's form could not open: Slack refused it.", error=True)
            return "invalid_arguments"
        return None

    def api_views_open(self, p: dict[str, Any], *, push: bool = False) -> dict[str, Any]:
        view = _json(p.get("view"))
        user = self._trigger_user(str(p.get("trigger_id", "")))
        if user is None:
            return {"ok": False, "error": "expired_trigger_id"}
        error = self._check_view(user, view)
        if error:
            return {"ok": False, "error": error}
        modal = self.world.open_modal(user, view, push=push)
        return {"ok": True, "view": {**view, "id": modal.id}}

    def api_views_push(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.api_views_open(p, push=True)

    def api_views_update(self, p: dict[str, Any]) -> dict[str, Any]:
        view = _json(p.get("view"))
        found = self.world.modal(str(p.get("view_id", "")))
        if found is None:
            return {"ok": False, "error": "not_found"}
        user, modal = found
        error = self._check_view(user, view)
        if error:
            return {"ok": False, "error": error}
        self.world.replace_modal(modal, view)
        return {"ok": True, "view": {**view, "id": modal.id}}

    def api_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        view = _json(p.get("view"))
        user = str(p.get("user_id", ""))
        if user not in self.world.people:
            return {"ok": False, "error": "user_not_found"}
        error = self._check_view(user, view)
        if error:
            return {"ok": False, "error": error}
        self.world.homes[user] = view
        self.world.changed()
        return {"ok": True, "view": {**view, "id": f"VHOME{user}"}}

    def api_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self.world.channels.get(str(p.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        teams = [self.world.home.team_id, *(c.team_id for c in channel.shared_with)]
        info: dict[str, Any] = {
            "id": channel.id,
            "name": channel.name,
            "is_im": channel.is_im,
            "is_shared": channel.shared,
            "is_ext_shared": channel.shared,
        }
        if channel.shared:
            info["shared_team_ids"] = teams
            info["connected_team_ids"] = teams
        return {"ok": True, "channel": info}

    def api_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        dm = self.world.dm_of(str(p.get("users", "")))
        if dm is None:  # another company's person: our app has no DM with them
            return {"ok": False, "error": "cannot_dm_bot"}
        return {"ok": True, "channel": {"id": dm.id}}

    def api_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user_id = str(p.get("user", ""))
        if user_id == BOT_USER:
            return {
                "ok": True,
                "user": {
                    "id": BOT_USER,
                    "team_id": self.world.home.team_id,
                    "is_bot": True,
                    "name": "ptm",
                },
            }
        person = self.world.people.get(user_id)
        if person is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": _user_record(person)}

    def api_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = self.world.new_id("F")
        self._uploads[file_id] = b""
        self.world.files[file_id] = (str(p.get("filename", "")), b"")
        return {
            "ok": True,
            "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}",
            "file_id": file_id,
        }

    def api_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        files = _json(p.get("files"))
        channel_id = p.get("channel_id")
        done = []
        for f in files:
            if not self._uploads.get(f["id"]):
                return {"ok": False, "error": "file_upload_not_completed"}
            title = f.get("title") or self.world.files[f["id"]][0]
            self.world.files[f["id"]] = (title, self._uploads[f["id"]])
            done.append({"id": f["id"], "title": title})
        if channel_id:
            channel = self._channel_for(str(channel_id))
            if channel is None:
                return {"ok": False, "error": "channel_not_found"}
            self._from_bot(channel.id, p, thread_ts=p.get("thread_ts") or None, files=done)
        return {"ok": True, "files": done}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self._uploads:
            return web.Response(status=404)
        self._uploads[file_id] = await request.read()
        return web.Response(text=f"OK - {len(self._uploads[file_id])}")

    async def _respond(self, request: web.Request) -> web.Response:
        """A response_url: ephemeral by default; in_channel, replace_original, delete_original."""
        self._touch()
        reply = self._replies.get(request.match_info["key"])
        if reply is None:
            return web.json_response({"ok": False, "error": "expired_url"}, status=404)
        p = await read_payload(request)
        self.answer(reply, p, method="response_url")
        return web.json_response({"ok": True})

    def answer(self, reply: Reply, p: dict[str, Any], *, method: str) -> None:
        """Show what the bot answered (an HTTP body or a response_url post) where Slack would."""
        source = self.world.find(*reply.source) if reply.source else None
        if p.get("delete_original") and source is not None:
            self.world.delete(source)
            return
        if not p.get("text") and not p.get("blocks"):
            return
        if self._check_message(method, reply.channel, p):
            return
        if _truthy(p.get("replace_original")) and source is not None:
            self._rewrite(source, p)
            return
        thread_ts = p.get("thread_ts") or reply.thread_ts
        ephemeral = p.get("response_type") != "in_channel"
        only_for = reply.user if ephemeral else None
        self._from_bot(reply.channel, p, thread_ts=thread_ts, only_for=only_for)

    # --- what the page sends: people acting ------------------------------------------

    def _reply_url(self, reply: Reply) -> str:
        key = self.world.new_id("R")
        self._replies[key] = reply
        return f"http://127.0.0.1:{self.port}/respond/{key}"

    def _trigger(self, user: str) -> str:
        trigger_id = self.world.new_id("trigger.")
        self._triggers[trigger_id] = Trigger(user)
        return trigger_id

    async def _send(self, body: str, content_type: str, *, who: str) -> tuple[int, Any]:
        """POST to the bot, signed; Slack gives up after 3 seconds and says so."""
        assert self._session is not None
        headers = wire.signed_headers(self.secret, body, content_type)
        self.in_flight += 1
        self._touch()
        try:
            async with self._session.post(
                self.bot_url,
                data=body.encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=ACK_TIMEOUT),
            ) as resp:
                text = await resp.text()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as err:
            self.world.notify(
                who,
                f"PTM did not answer in time ({type(err).__name__}): Slack shows "
                "“operation_timeout”.",
                error=True,
            )
            return 0, None
        finally:
            self.in_flight -= 1
            self._touch()
        if status != 200:
            self.world.notify(
                who, f"PTM answered HTTP {status}: Slack shows “dispatch_failed”.", error=True
            )
        try:
            return status, json.loads(text) if text else None
        except json.JSONDecodeError:
            return status, text

    async def say(
        self, user_id: str, channel_id: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        """What the composer does with typed text: a slash command, or a message."""
        person = self.world.person(user_id)
        channel = self.world.channels.get(channel_id)
        if channel is None or user_id not in channel.members:
            self.world.notify(user_id, "You are not in that conversation.", error=True)
            return
        text = text.strip()
        if not text:
            return
        if text.startswith("/"):
            await self.command(person, channel, text, thread_ts=thread_ts)
            return
        if channel.is_im:
            self.world.notify(
                user_id,
                "Sending messages to this app has been turned off (PTM takes commands with /ptm).",
                error=True,
            )
            return
        await self.message(person, channel, text, thread_ts=thread_ts)

    def _typed(self, text: str, *, labelled: bool) -> str:
        """Typed text as Slack passes it on: escaped, with @handles and #channels as ids."""
        text = slack_escape(text)
        handles = {p.handle.lower(): p for p in self.world.people.values()}

        def user(m: re.Match[str]) -> str:
            word = m.group(1)
            if word.lower() == "ptm":
                return f"<@{BOT_USER}|ptm>" if labelled else f"<@{BOT_USER}>"
            person = handles.get(word.lower().rstrip(".,:;!?"))
            if person is None:
                return m.group(0)
            tail = word[len(person.handle) :]
            return (f"<@{person.id}|{person.handle}>" if labelled else f"<@{person.id}>") + tail

        def channel(m: re.Match[str]) -> str:
            found = next(
                (c for c in self.world.channels.values() if c.name == m.group(1) and not c.is_im),
                None,
            )
            return f"<#{found.id}|{found.name}>" if found else m.group(0)

        return CHANNEL_REF.sub(channel, MENTION.sub(user, text))

    async def command(
        self, person: Person, channel: Channel, text: str, *, thread_ts: str | None = None
    ) -> None:
        word, _, rest = text.partition(" ")
        if word != "/ptm" or not self.world.may_use_ptm(person):
            where = f"{person.company.name}'s workspace"
            hint = (
                " PTM is installed by "
                f"{self.world.home.name}: use the card's buttons, or mention @PTM in the channel."
                if word == "/ptm"
                else ""
            )
            self.world.notify(
                person.id, f"{word} is not a valid command in {where}.{hint}", error=True
            )
            return
        reply = Reply(person.id, channel.id, thread_ts=thread_ts)
        form = wire.command_form(
            self._typed(rest, labelled=True),
            user=person.id,
            channel=channel.id,
            team=person.team,
            response_url=self._reply_url(reply),
            trigger_id=self._trigger(person.id),
            channel_name="directmessage" if channel.is_im else channel.name,
            team_domain=person.company.name.lower().replace(" ", ""),
            user_name=person.handle,
        )
        status, body = await self._send(wire.encode_form(form), wire.FORM, who=person.id)
        if status == 200 and isinstance(body, dict):
            self.answer(reply, body, method="command answer")

    async def message(
        self, person: Person, channel: Channel, text: str, *, thread_ts: str | None = None
    ) -> None:
        typed = self._typed(text, labelled=False)
        message = self.world.post(
            Message(channel.id, self.world.new_ts(), person.id, text=typed, thread_ts=thread_ts)
        )
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel.id,
            "user": person.id,
            "text": typed,
            "ts": message.ts,
            "event_ts": message.ts,
            "team": person.team,
            "user_team": person.team,
            "source_team": person.team,
            "channel_type": "im" if channel.is_im else "channel",
            **({"thread_ts": thread_ts} if thread_ts else {}),
        }
        if BOT_USER not in channel.members:
            return
        await self._event(event, person.id, shared=channel.shared)
        if f"<@{BOT_USER}>" in typed:
            mention = {k: v for k, v in event.items() if k != "channel_type"}
            await self._event({**mention, "type": "app_mention"}, person.id, shared=channel.shared)

    async def _event(self, event: dict[str, Any], who: str, *, shared: bool = False) -> None:
        envelope = wire.event_envelope(
            event,
            event_id=self.world.new_id("Ev"),
            team=self.world.home.team_id,
            bot_user=BOT_USER,
            ext_shared=shared,
        )
        await self._send(json.dumps(envelope), wire.JSON, who=who)

    async def open_home(self, user_id: str) -> None:
        person = self.world.person(user_id)
        if not self.world.may_use_ptm(person):
            self.world.notify(
                user_id, f"PTM has no App Home in {person.company.name}'s workspace.", error=True
            )
            return
        dm = self.world.dm_of(user_id)
        event = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": dm.id if dm else "",
            "tab": "home",
            "event_ts": self.world.new_ts(),
        }
        await self._event(event, user_id)

    async def act(
        self,
        user_id: str,
        where: dict[str, Any],
        block_id: str | None,
        action_id: str,
        picked: dict[str, Any],
    ) -> None:
        """A click or pick on a message, the Home tab or an open modal."""
        person = self.world.person(user_id)
        chosen = {
            k: picked.get(k)
            for k in ("value", "option", "options", "selected_user", "selected_date")
        }
        if "view_id" in where:
            await self._act_on_view(
                person,
                str(where["view_id"]),
                block_id,
                action_id,
                chosen,
                picked.get("values") or {},
            )
            return
        channel, ts = str(where.get("channel")), str(where.get("ts"))
        message = self.world.find(channel, ts)
        if (
            message is None
            or message not in self.world.visible(user_id, channel)
            or user_id not in self.world.channels[channel].members
        ):
            self.world.notify(user_id, "That message is gone.", error=True)
            return
        try:
            block, element = wire.find_element(message.blocks or [], action_id, block_id)
            action = wire.chosen_action(block, element, **chosen)
        except LookupError as err:
            self.world.notify(user_id, f"Nothing to click there ({err}).", error=True)
            return
        reply = Reply(user_id, channel, source=(channel, ts), thread_ts=message.thread_ts)
        payload = wire.message_action_payload(
            {"blocks": message.blocks, "text": message.text, "user": message.user},
            action,
            channel=channel,
            ts=ts,
            user=user_id,
            user_team=person.team,
            team=self.world.home.team_id,
            trigger_id=self._trigger(user_id),
            response_url=self._reply_url(reply),
            channel_name=self.world.channels[channel].name,
            user_name=person.handle,
            ephemeral=message.only_for is not None,
        )
        await self._send(wire.encode_interaction(payload), wire.FORM, who=user_id)

    async def _act_on_view(
        self,
        person: Person,
        view_id: str,
        block_id: str | None,
        action_id: str,
        chosen: dict[str, Any],
        values: dict[str, Any],
    ) -> None:
        if view_id == "home":
            view = self.world.homes.get(person.id)
            real_id = f"VHOME{person.id}"
        else:
            found = self.world.modal(view_id)
            view = found[1].view if found and found[0] == person.id else None
            real_id = view_id
        if view is None:
            self.world.notify(person.id, "That view is closed.", error=True)
            return
        try:
            block, element = wire.find_element(view.get("blocks") or [], action_id, block_id)
            action = wire.chosen_action(block, element, **chosen)
        except LookupError as err:
            self.world.notify(person.id, f"Nothing to click there ({err}).", error=True)
            return
        payload = wire.view_action_payload(
            view,
            action,
            view_id=real_id,
            user=person.id,
            team=self.world.home.team_id,
            user_team=person.team,
            trigger_id=self._trigger(person.id),
            state=wire.input_state(view, values),
            user_name=person.handle,
        )
        await self._send(wire.encode_interaction(payload), wire.FORM, who=person.id)

    async def submit(self, user_id: str, view_id: str, values: dict[str, Any]) -> None:
        """Submit the person's open modal; show errors, an updated view, or close it."""
        person = self.world.person(user_id)
        found = self.world.modal(view_id)
        if found is None or found[0] != user_id:
            self.world.notify(user_id, "That form is closed.", error=True)
            return
        _, modal = found
        payload = wire.view_submission_payload(
            modal.view,
            values,
            view_id=modal.id,
            user=user_id,
            user_team=person.team,
            installed_team=self.world.home.team_id,
            trigger_id=self._trigger(user_id),
            user_name=person.handle,
        )
        status, body = await self._send(wire.encode_interaction(payload), wire.FORM, who=user_id)
        if status != 200:
            self.world.set_errors(modal, {})
            return
        action = body.get("response_action") if isinstance(body, dict) else None
        if action == "errors":
            self.world.set_errors(modal, body.get("errors") or {})
        elif action in ("update", "push"):
            view = _json(body.get("view"))
            if self._check_view(user_id, view):
                return
            if action == "update":
                self.world.replace_modal(modal, view)
            else:
                self.world.open_modal(user_id, view, push=True)
        elif action == "clear":
            self.world.close_modal(user_id, all_views=True)
        else:
            self.world.close_modal(user_id)

    # --- the page --------------------------------------------------------------------

    async def _page(self, _request: web.Request) -> web.Response:
        return web.Response(text=_static_text("index.html"), content_type="text/html")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = next((t for ext, t in STATIC_TYPES.items() if name.endswith(ext)), None)
        if kind is None or "/" in name or ".." in name:
            raise web.HTTPNotFound()
        try:
            return web.Response(text=_static_text(name), content_type=kind)
        except FileNotFoundError:
            raise web.HTTPNotFound() from None

    async def _file(self, request: web.Request) -> web.Response:
        found = self.world.files.get(request.match_info["file_id"])
        if found is None:
            raise web.HTTPNotFound()
        title, data = found
        kind = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "application/octet-stream"
        return web.Response(body=data, content_type=kind)

    def state(self, user_id: str, conversation: str) -> dict[str, Any]:
        world = self.world
        person = world.person(user_id)
        channels = world.channels_of(user_id)
        conversations = [
            {
                "id": c.id,
                "name": c.name,
                "kind": "dm" if c.is_im else "channel",
                "shared": c.shared,
                "with": [co.name for co in c.shared_with],
            }
            for c in channels
        ]
        if world.may_use_ptm(person):
            conversations.append(
                {"id": "home", "name": "Home", "kind": "home", "shared": False, "with": []}
            )
        ids = {c["id"] for c in conversations}
        if conversation not in ids:
            conversation = conversations[0]["id"] if conversations else ""
        if conversation == "home":
            pane = world.home_pane(user_id)
            composer = {"enabled": False, "hint": "App Home: PTM draws this tab for you."}
            title = "PTM — Home"
        else:
            channel = world.channels[conversation]
            pane = world.pane(user_id, conversation)
            title = "PTM" if channel.is_im else "#" + channel.name
            hint = (
                "Type /ptm help … (PTM takes no messages by DM)"
                if channel.is_im
                else (
                    "Type a message, @PTM …, or /ptm …"
                    if world.may_use_ptm(person)
                    else "Type a message, or @PTM … (your company has not installed PTM: no /ptm)"
                )
            )
            composer = {"enabled": True, "hint": hint}
        modal = world.top_modal(user_id)
        return {
            "version": world.version,
            "me": _person_json(person),
            "people": [_person_json(p) for p in world.people.values()],
            "conversations": conversations,
            "conversation": conversation,
            "title": title,
            "pane": pane,
            "composer": composer,
            "modal": {"id": modal.id, "drawn": modal.drawn, "html": world.modal_html(modal)}
            if modal
            else None,
            "notices": [
                {"id": n.id, "text": n.text, "error": n.error}
                for n in world.notices.get(user_id, [])[-5:]
            ],
        }

    async def _state(self, request: web.Request) -> web.Response:
        user_id = request.query.get("as", "")
        if user_id not in self.world.people:
            user_id = next(iter(self.world.people))
        return web.json_response(self.state(user_id, request.query.get("conv", "")))

    async def _body(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="expected a JSON object, as the page sends") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object, as the page sends")
        user_id = str(body.get("as", ""))
        if user_id not in self.world.people:
            raise web.HTTPBadRequest(text=f"no person {html.escape(user_id)}")
        return user_id, body

    async def _say(self, request: web.Request) -> web.Response:
        user_id, body = await self._body(request)
        await self.say(
            user_id,
            str(body.get("conv", "")),
            str(body.get("text", ""))[:4000],
            thread_ts=body.get("thread_ts") or None,
        )
        return web.json_response({"ok": True})

    async def _act(self, request: web.Request) -> web.Response:
        user_id, body = await self._body(request)
        await self.act(
            user_id,
            body.get("where") or {},
            body.get("block_id"),
            str(body.get("action_id", "")),
            body,
        )
        return web.json_response({"ok": True})

    async def _submit(self, request: web.Request) -> web.Response:
        user_id, body = await self._body(request)
        await self.submit(user_id, str(body.get("view_id", "")), body.get("values") or {})
        return web.json_response({"ok": True})

    async def _close(self, request: web.Request) -> web.Response:
        user_id, _ = await self._body(request)
        self.world.close_modal(user_id)
        return web.json_response({"ok": True})

    async def _home(self, request: web.Request) -> web.Response:
        user_id, _ = await self._body(request)
        await self.open_home(user_id)
        return web.json_response({"ok": True})

    async def _dismiss(self, request: web.Request) -> web.Response:
        user_id, body = await self._body(request)
        notices = self.world.notices.get(user_id, [])
        self.world.notices[user_id] = [n for n in notices if n.id != body.get("id")]
        self.world.changed()
        return web.json_response({"ok": True})


def _user_record(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "team_id": person.team,
        "name": person.handle,
        "real_name": person.name,
        "tz": person.tz,
        "is_bot": False,
        "profile": {"real_name": person.name, "display_name": person.handle, "title": person.title},
    }


def _person_json(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "title": person.title,
        "company": person.company.name,
    }


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else (value or {})


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


async def read_payload(request: web.Request) -> dict[str, Any]:
    """A Web API call's arguments as Slack reads them: query, form or JSON body, with
    `blocks`, `view`, `attachments` and `metadata` given as JSON text decoded."""
    payload: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            payload.update(await request.json())
        else:
            payload.update(dict(await request.post()))
    for key in ("blocks", "view", "attachments", "metadata"):
        if isinstance(payload.get(key), str):
            payload[key] = json.loads(payload[key])
    return payload


def _static_text(name: str) -> str:
    return resources.files("bot.demo").joinpath("static", name).read_text(encoding="utf-8")
