"""A fake Slack Web API on a random local port: records every call with its body, answers like
Slack, keeps posted messages so tests can read what each card copy shows, and can inject faults."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.demo.blockkit import validate_blocks, validate_view
from bot.demo.simulator import read_payload

OUR_TEAM = "T0URS"
BOT_USER = "UPTMBOT"


@dataclass
class Call:
    method: str
    payload: dict[str, Any]
    at: float = field(default_factory=time.time)  # when it arrived (benchmarks time copies)
    token: str | None = None  # the bearer token it came with


@dataclass(frozen=True)
class Workspace:
    """A workspace that can install the app: what oauth.v2.access answers for its code."""

    team_id: str
    name: str
    installer: str
    bot_token: str
    bot_user: str = BOT_USER
    # Token rotation on: tokens last `expires_in` seconds and are renewed with a refresh token.
    expires_in: int | None = None
    # An org-wide install on Enterprise Grid: the org's id (the answer then names no team).
    org: str | None = None


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    drop: bool = False


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    # Every call since the fake started: tests clear `calls` as they go, never this.
    calls_ever: list[Call] = field(default_factory=list)
    # chat.update calls refused because another installation posted the message.
    refused_updates: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # user id -> team id
    invalid: list[str] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    cannot_post: set[str] = field(default_factory=set)
    shared_channels: set[str] = field(default_factory=set)
    # Slack Connect channels: channel -> the teams in it (conversations.info shared_team_ids)
    channel_teams: dict[str, list[str]] = field(default_factory=dict)
    timezones: dict[str, str] = field(default_factory=dict)  # user id -> IANA zone
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)  # file id -> bytes received
    files: list[dict[str, Any]] = field(default_factory=list)  # completed uploads
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0
    validate: bool = True  # benchmarks turn Block Kit validation off (it costs CPU here)
    # OAuth: the code "Add to Slack" hands back for each workspace; the workspace of a token.
    install_codes: dict[str, Workspace] = field(default_factory=dict)
    token_teams: dict[str, str] = field(default_factory=dict)
    token_bots: dict[str, str] = field(default_factory=dict)  # token -> its bot user
    # (channel, ts) -> the installation (team) whose token posted it, when known.
    posted_by: dict[tuple[str, str], str] = field(default_factory=dict)
    refresh_tokens: dict[str, Workspace] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)  # every bot token handed out, in order
    # The client end of every connection a Web API call came over (kept-alive ones repeat).
    peers: list[object] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    # --- Socket Mode -------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1})
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                self.socket_acks.append(json.loads(msg.data))
        return ws

    async def socket_send(self, envelope: dict[str, Any]) -> None:
        """Push an envelope to the connected Socket Mode client, as Slack would."""
        for _ in range(200):
            if self._sockets:
                break
            await asyncio.sleep(0.05)
        await self._sockets[-1].send_json(envelope)

    # --- what tests read ---------------------------------------------------------------

    def of(self, method: str) -> list[dict[str, Any]]:
        return [c.payload for c in self.calls if c.method == method]

    def of_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def count(self, method: str) -> int:
        return len(self.of(method))

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        return self.messages[(channel, ts)]

    def fail(self, method: str, *faults: Fault) -> None:
        self.faults[method].extend(faults)

    # --- the wire ----------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        """Step two of files_upload_v2: the bytes go to the URL getUploadURLExternal gave."""
        file_id = request.match_info["file_id"]
        if file_id not in self.uploads:
            return web.Response(status=404)
        self.uploads[file_id] = await request.read()
        return web.Response(text=f"OK - {len(self.uploads[file_id])}")

    async def _respond(self, request: web.Request) -> web.Response:
        payload = await read_payload(request)
        self.calls.append(Call("response_url", payload))
        self._validate("response_url", payload)
        return web.json_response({"ok": True})

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.transport is not None:
            self.peers.append(request.transport.get_extra_info("peername"))
        payload = await read_payload(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        call = Call(method, payload, token=token or payload.get("token"))
        self.calls.append(call)
        self.calls_ever.append(call)
        if self.faults.get(method):
            fault = self.faults[method].pop(0)
            if fault.drop:
                assert request.transport is not None
                request.transport.close()
                await asyncio.sleep(0.01)
                return web.Response(status=500)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            body = {"ok": False, "error": fault.error or "internal_error"}
            return web.json_response(body, status=fault.status, headers=headers)
        self._validate(method, payload)
        if method == "oauth.v2.access":
            return web.json_response(self._oauth_access(payload))
        if method == "auth.test" and token in self.token_teams:
            team = self.token_teams[token]
            org = {"enterprise_id": team, "is_enterprise_install": True} if team[0] == "E" else {}
            bot_user = {"user_id": self.token_bots[token]} if token in self.token_bots else {}
            answer = {**self._answer(method, payload), "team_id": team, **org, **bot_user}
            return web.json_response(answer)
        installation = self.token_teams.get(token or "")
        if method == "chat.update" and installation is not None:
            # Only the installation that posted a message may update it.
            poster = self.posted_by.get((payload.get("channel"), payload.get("ts")))
            if poster is not None and poster != installation:
                self.refused_updates.append(call)
                return web.json_response({"ok": False, "error": "cant_update_message"})
        answer = self._answer(method, payload)
        if method == "chat.postMessage" and answer.get("ok"):
            key = (answer["channel"], answer["ts"])
            # Slack names the bot user that posted a message (block_actions carry it).
            self.messages[key]["user"] = self.token_bots.get(token or "", BOT_USER)
            if installation is not None:
                self.posted_by[key] = installation
        return web.json_response(answer)

    def _oauth_access(self, p: dict[str, Any]) -> dict[str, Any]:
        """oauth.v2.access as Slack answers it for a bot-only install, and for a refresh when
        token rotation is on (a new token and a new refresh token each time)."""
        if p.get("grant_type") == "refresh_token":
            workspace = self.refresh_tokens.pop(p.get("refresh_token", ""), None)
            if workspace is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            return {"ok": True, "token_type": "bot", **self._rotating(workspace)}
        workspace = self.install_codes.get(p.get("code", ""))
        if workspace is None:
            return {"ok": False, "error": "invalid_code"}
        self.token_teams[workspace.bot_token] = workspace.org or workspace.team_id
        self.token_bots[workspace.bot_token] = workspace.bot_user
        self.issued.append(workspace.bot_token)
        rotating = self._rotating(workspace) if workspace.expires_in else {}
        return {
            "ok": True,
            "app_id": "APTM",
            "authed_user": {"id": workspace.installer},
            "scope": "chat:write,commands",
            "token_type": "bot",
            "access_token": workspace.bot_token,
            "bot_user_id": workspace.bot_user,
            "team": {"id": workspace.team_id, "name": workspace.name},
            "enterprise": None,
            "is_enterprise_install": False,
            **rotating,
            **(
                {
                    "team": None,
                    "enterprise": {"id": workspace.org, "name": workspace.name},
                    "is_enterprise_install": True,
                }
                if workspace.org
                else {}
            ),
        }

    def _rotating(self, workspace: Workspace) -> dict[str, Any]:
        n = len(self.issued)
        token = f"xoxe.xoxb-{workspace.team_id}-{n}"
        refresh = f"xoxe-1-{workspace.team_id}-{n}"
        self.token_teams[token] = workspace.team_id
        self.token_bots[token] = workspace.bot_user
        self.refresh_tokens[refresh] = workspace
        self.issued.append(token)
        return {
            "access_token": token,
            "refresh_token": refresh,
            "expires_in": workspace.expires_in,
            "team": {"id": workspace.team_id, "name": workspace.name},
            "bot_user_id": workspace.bot_user,
            "app_id": "APTM",
            "scope": "chat:write,commands",
        }

    def _answer(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "team_id": OUR_TEAM,
                "team": "Ours",
                "user_id": BOT_USER,
                "bot_id": "BPTM",
                "url": "https://ours.slack.com/",
            }
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        if method == "chat.postMessage":
            channel = p["channel"]
            if channel in self.cannot_post:
                return {"ok": False, "error": "not_in_channel"}
            ts = f"1700000000.{next(self._ts):06d}"
            self.messages[(channel, ts)] = {"blocks": p.get("blocks"), "text": p.get("text")}
            return {"ok": True, "channel": channel, "ts": ts}
        if method == "chat.update":
            key = (p["channel"], p["ts"])
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            poster = self.messages[key].get("user")
            self.messages[key] = {"blocks": p.get("blocks"), "text": p.get("text"), "user": poster}
            return {"ok": True, "channel": p["channel"], "ts": p["ts"]}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": "1700000000.999999"}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V123", **p.get("view", {})}}
        if method == "conversations.info":
            teams = self.channel_teams.get(p["channel"])
            shared = p["channel"] in self.shared_channels or bool(teams and len(teams) > 1)
            channel: dict[str, Any] = {
                "id": p["channel"],
                "is_shared": shared,
                "is_ext_shared": shared,
            }
            if teams:
                channel["shared_team_ids"] = list(teams)
                channel["connected_team_ids"] = list(teams)
            return {
                "ok": True,
                "channel": channel,
            }
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + p["users"]}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):06d}"
            self.uploads[file_id] = b""
            url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
            return {"ok": True, "upload_url": url, "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = json.loads(p["files"]) if isinstance(p["files"], str) else p["files"]
            for f in files:
                if not self.uploads.get(f["id"]):
                    return {"ok": False, "error": "file_upload_not_completed"}
            done = [{"id": f["id"], "title": f.get("title")} for f in files]
            self.files.extend(
                {**f, "channel": p.get("channel_id"), "comment": p.get("initial_comment")}
                for f in done
            )
            return {"ok": True, "files": done}
        if method == "users.info":
            team = self.users.get(p.get("user", ""))
            if team is None:
                return {"ok": False, "error": "user_not_found"}
            tz = self.timezones.get(p["user"], "Europe/Paris")
            return {"ok": True, "user": {"id": p["user"], "team_id": team, "tz": tz}}
        return {"ok": True}

    def _validate(self, method: str, payload: dict[str, Any]) -> None:
        """Everything the bot sends must pass slack_sdk's own Block Kit validation."""
        if not self.validate:
            return
        problems = []
        if "view" in payload:
            problems += validate_view(payload["view"])
        if "blocks" in payload:
            problems += validate_blocks(payload["blocks"])
            if not payload.get("text"):
                problems.append("message without a text fallback")
        self.invalid += [f"{method}: {p}" for p in problems]
