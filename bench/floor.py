"""The floor: what `/ptm next <text>` costs with nothing but aiohttp and asyncpg.

    DATABASE_URL=postgresql://… PORT=… SLACK_SIGNING_SECRET=… SLACK_API_URL=… python bench/floor.py

Issue 18, target 1 measures PTM against this. It runs the statements PTM runs for the change
(`python bench/statements.py --database-url …` lists them), in the same order, with the same
row lock and compare-and-swap, on the tables PTM made. It also runs PTM's card pass after the
answer: a lease, the copies, the deal with its Home viewers, the outbox states, one
`chat.update` per copy, then the rendered versions and the lease released in one statement.
Passes are coalesced per deal and paced at Slack's Tier 3 budget (50 a minute, bursts of 20),
as PTM's are, but the budget is kept in memory (PTM shares it between processes through the
database).

What it leaves out is what a plain handler does not need: Bolt's dispatch, the ORM, the
domain's rules and Block Kit builders, the tenancy criteria, the audit of who saw what. The
gap between this and PTM is the price of those. `bench/throughput.py` runs it beside PTM, in
the same run, on the deals PTM made.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs

import aiohttp
import asyncpg
from aiohttp import web

BINDING = "SELECT deal_id FROM channel_bindings WHERE channel_id = $1 AND tenant_id = $2"
DEAL = (
    "SELECT deals.tenant_id, deals.id, deals.number, deals.key, deals.name, deals.account, "
    "deals.amount, deals.currency, deals.close_date, deals.stage, deals.status, "
    "deals.attribution, deals.partner, deals.cosell, deals.internal_notes, "
    "deals.trigger_reason, deals.forecast_category, deals.closed_at, deals.close_reason, "
    "deals.version, deals.created_by, deals.created_at, deals.updated_by, deals.updated_at, "
    "trio_members.id AS member_id, trio_members.role, trio_members.user_id, "
    "trio_members.team_id, trio_members.is_external, trio_members.synced_version, "
    "trio_members.last_acted_at, trio_members.partner_kind, next_steps.id AS step_id, "
    "next_steps.text, next_steps.owner_role, next_steps.owner_user, next_steps.due, "
    "next_steps.set_by, next_steps.set_at "
    "FROM deals LEFT OUTER JOIN trio_members ON trio_members.deal_id = deals.id "
    "AND trio_members.tenant_id = $1 LEFT OUTER JOIN next_steps ON next_steps.deal_id = "
    "deals.id AND next_steps.status = 'open' AND next_steps.tenant_id = $1 "
    "WHERE deals.id = $2 AND deals.tenant_id = $1"
)
DEAL_LOCKED = DEAL + " FOR UPDATE OF deals"
# The change's writes as PTM writes them on PostgreSQL (store/change_statement.py): the
# compare-and-swap, the open step replaced, the member's last action and the audit event in one
# statement, then the new step.
CHANGE = (
    "WITH bumped AS (UPDATE deals SET version = $1, updated_by = $2, updated_at = $3 "
    "WHERE id = $4 AND version = $5 AND tenant_id = $6 RETURNING id), "
    "stepped AS (UPDATE next_steps SET status = 'replaced' WHERE deal_id = "
    "(SELECT id FROM bumped) AND status = 'open' AND tenant_id = $6), "
    "touched AS (UPDATE trio_members SET last_acted_at = $3 WHERE deal_id = "
    "(SELECT id FROM bumped) AND user_id = $2 AND (last_acted_at IS NULL OR "
    "last_acted_at < $3) AND tenant_id = $6) "
    "INSERT INTO deal_events (tenant_id, deal_id, version, actor, actor_team, changes, source, "
    "at) SELECT $6, id, $1, $2, $7, $8, 'command', $3 FROM bumped RETURNING id"
)
OPEN_STEP = (
    "INSERT INTO next_steps (tenant_id, deal_id, text, owner_role, owner_user, due, status, "
    "set_by, set_at, done_by, done_at) VALUES ($1, $2, $3, $4, $5, NULL, 'open', $6, $7, NULL, "
    "NULL) RETURNING id"
)
LEASE = (
    "INSERT INTO card_sync_leases (deal_id, owner, until, dirty) VALUES ($1, $2, $3, false) "
    "ON CONFLICT (deal_id) DO UPDATE SET owner = $2, until = $3, dirty = false "
    "WHERE card_sync_leases.until < $4 OR card_sync_leases.owner = $2"
)
COPIES = (
    "SELECT card_copies.id, card_copies.channel_id, card_copies.ts, card_copies.is_shared, "
    "card_copies.rendered_version, channels.is_ext_shared, channels.checked_at FROM card_copies "
    "LEFT OUTER JOIN channels ON channels.channel_id = card_copies.channel_id AND "
    "channels.tenant_id = $1 WHERE card_copies.deal_id = $2 AND card_copies.tenant_id = $1 "
    "ORDER BY card_copies.id"
)
OUTBOX = (
    "SELECT 'outcome' AS what, deal_id, side, company, status, attempts, id AS row_id "
    "FROM crm_outbox WHERE outcome_id IN (SELECT max(outcome_id) FROM crm_outbox "
    "WHERE deal_id = $1 AND kind = 'outcome' AND tenant_id = $2 GROUP BY deal_id) "
    "AND tenant_id = $2 UNION ALL SELECT 'writeback', deal_id, 'ours', '', status, attempts, id "
    "FROM crm_outbox WHERE deal_id = $1 AND kind = 'update' AND (status = 'pending' OR "
    "status = 'failed' AND attempts > 0) AND tenant_id = $2 UNION ALL SELECT 'health', NULL, "
    "side, '', '', 0, 0 FROM crm_health WHERE needs_attention AND tenant_id = $2 ORDER BY row_id"
)
# The card pass's deal, with which trio members have opened App Home (one statement, as PTM's).
DEAL_WITH_HOMES = DEAL.replace(
    " FROM deals ", ", user_prefs.home_opened_at IS NOT NULL AS home FROM deals "
).replace(
    " WHERE deals.id",
    " LEFT OUTER JOIN user_prefs ON user_prefs.user_id = trio_members.user_id AND "
    "user_prefs.tenant_id = $1 WHERE deals.id",
)
# The copies' rendered version and the lease's end, in one statement (as PTM's).
END_PASS = (
    "WITH shown AS (UPDATE card_copies SET rendered_version = $1 WHERE id = ANY($2::int[]) AND "
    "rendered_version < $1 AND tenant_id = $3) "
    "DELETE FROM card_sync_leases WHERE deal_id = $4 AND owner = $5 AND dirty IS false"
)

# Slack's Tier 3 for chat.update, as PTM paces it (bot.app.budget): 50 a minute, bursts of 20.
RATE, BURST = 50 / 60, 20.0
FRESH_SECONDS = 300  # Slack's replay window for a signed request


class Bucket:
    def __init__(self) -> None:
        self.tokens, self.at = BURST, time.monotonic()

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(BURST, self.tokens + (now - self.at) * RATE)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / RATE)


class Floor:
    def __init__(self, pool: asyncpg.Pool, http: aiohttp.ClientSession, tenant: int) -> None:
        self.pool, self.http, self.tenant = pool, http, tenant
        self.secret = os.environ["SLACK_SIGNING_SECRET"].encode()
        self.api = os.environ["SLACK_API_URL"].rstrip("/") + "/chat.update"
        self.token = os.environ.get("SLACK_BOT_TOKEN", "xoxb-floor")
        self.owner = uuid.uuid4().hex
        self.passes: dict[int, bool] = {}  # deal id -> changed again while its pass ran
        self.rooms: dict[str, int] = {}  # channel id -> its deal (bindings never change)
        self.bucket = Bucket()

    def signed(self, request: web.Request, body: bytes) -> bool:
        ts = request.headers.get("x-slack-request-timestamp", "0")
        if abs(time.time() - int(ts)) > FRESH_SECONDS:
            return False
        base = b"v0:" + ts.encode() + b":" + body
        mine = "v0=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(mine, request.headers.get("x-slack-signature", ""))

    async def events(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.signed(request, body):
            return web.Response(status=401)
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        text = form.get("text", "")
        if not text.startswith("next "):
            return web.json_response({"text": "the floor knows only /ptm next"})
        user, team = form["user_id"], form["team_id"]
        async with self.pool.acquire() as conn:
            # A channel's deal never changes: kept per process, as PTM keeps it.
            deal_id = self.rooms.get(form["channel_id"])
            if deal_id is None:
                deal_id = await conn.fetchval(BINDING, form["channel_id"], self.tenant)
                self.rooms[form["channel_id"]] = deal_id
            async with conn.transaction():
                rows = await conn.fetch(DEAL_LOCKED, self.tenant, deal_id)
                deal = rows[0]
                now = datetime.now(UTC)
                version = deal["version"]
                changes = json.dumps({"next_step": [deal["text"], text[5:]]})
                written = await conn.fetchval(
                    CHANGE, version + 1, user, now, deal_id, version, self.tenant, team, changes
                )
                if written is None:
                    return web.json_response({"text": "conflict"}, status=409)
                seller = next((r["user_id"] for r in rows if r["role"] == "seller"), None)
                await conn.fetchval(
                    OPEN_STEP, self.tenant, deal_id, text[5:], "seller", seller, user, now
                )
        self.card_pass(deal_id)
        key = deal["key"]
        return web.json_response(
            {"response_type": "ephemeral", "text": f"Next step on {key}: {text[5:]}"}
        )

    def card_pass(self, deal_id: int) -> None:
        """One pass per deal at a time; a change during a pass makes it go round again."""
        if deal_id in self.passes:
            self.passes[deal_id] = True
            return
        self.passes[deal_id] = False
        asyncio.get_running_loop().create_task(self._passes(deal_id))

    async def _passes(self, deal_id: int) -> None:
        try:
            while True:
                await self.bucket.take()
                self.passes[deal_id] = False
                await self._pass(deal_id)
                if not self.passes[deal_id]:
                    return
        finally:
            self.passes.pop(deal_id, None)

    async def _pass(self, deal_id: int) -> None:
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn:
            await conn.execute(LEASE, deal_id, self.owner, now, now)
            copies = await conn.fetch(COPIES, self.tenant, deal_id)
            rows = await conn.fetch(DEAL_WITH_HOMES, self.tenant, deal_id)
            await conn.fetch(OUTBOX, deal_id, self.tenant)
        deal = rows[0]
        title = {"type": "plain_text", "text": f"{deal['key']} · {deal['name']}"}
        step = {"type": "mrkdwn", "text": f"*Next step*: {deal['text']}"}
        footer = [{"type": "mrkdwn", "text": f"v{deal['version']}"}]
        blocks = [
            {"type": "header", "text": title},
            {"type": "section", "text": step},
            {"type": "context", "elements": footer},
        ]
        for copy in copies:
            payload = {"channel": copy["channel_id"], "ts": copy["ts"], "text": deal["name"]}
            payload["blocks"] = json.dumps(blocks)
            headers = {"Authorization": f"Bearer {self.token}"}
            async with self.http.post(self.api, data=payload, headers=headers) as resp:
                await resp.read()
        async with self.pool.acquire() as conn:
            ids = [c["id"] for c in copies]
            await conn.execute(END_PASS, deal["version"], ids, self.tenant, deal_id, self.owner)


async def serve() -> None:
    url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(url, min_size=2, max_size=20)
    tenant = await pool.fetchval("SELECT id FROM tenants ORDER BY id LIMIT 1")
    async with aiohttp.ClientSession() as http:
        floor = Floor(pool, http, tenant)
        app = web.Application()
        app.router.add_post("/slack/events", floor.events)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", int(os.environ["PORT"])).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()
    await pool.close()


if __name__ == "__main__":
    try:
        import uvloop  # as PTM's server does (bot.app.serving)

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())
