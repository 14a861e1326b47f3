"""Background jobs of the bot process; each is safe to run in several processes at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import replace
from datetime import datetime
from typing import Any

from blocks.cosell import build_referral_card
from blocks.digest import build_digest_message, build_nudge, build_partner_moves
from bot import services
from bot.app import heap
from bot.app.deps import PROCESS_ID, Deps
from bot.app.tenancy import Gate, TenantDeps
from bot.services import batches, cosell, referrals
from bot.services.digests import DigestReport
from bot.views.digest import DigestView, Nudge
from briefs.render import render_digest
from store import UowFactory

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 3600.0
RESYNC_EVERY = 60.0
MENTION_RECOVERY_EVERY = 5.0
DIGEST_TICK = 60.0
AWS_POLL_EVERY = 300.0  # seconds: AWS reviews in hours; "every few minutes"
RECONCILE_EVERY = 300.0  # seconds: "every few minutes" (PRODUCT.md)
OUTBOX_TICK = 1.0  # the first retry is due about 2 s after a failure


async def send_digest_dm(deps: Deps, user_id: str, view: DigestView) -> None:
    """Post one digest as a DM (a user id as channel opens the app's DM with them)."""
    await deps.slack.direct_message(user_id, build_digest_message(render_digest(view)))


async def run_digests(
    deps: Deps,
    *,
    hour: int | None = None,
    only: Collection[str] | None = None,
    on_sent: Callable[[str], None] | None = None,
) -> DigestReport:
    """Plan today's due digests and send what this process can claim (any process may run it);
    `on_sent` hears of each DM as it goes (the command line's progress)."""
    if hour is None:  # the hour its admins chose in App Home, else PTM_DIGEST_HOUR
        hour = await services.digest_hour(deps.ctx)
    await services.plan_digests(deps.ctx, hour=hour, only=only)

    async def send(user: str, view: DigestView) -> None:
        await send_digest_dm(deps, user, view)
        if on_sent is not None:
            on_sent(user)

    with heap.fewer_collections():  # a batch is tens of thousands of deals and lines
        report = await services.send_digests(deps.ctx, send, owner=PROCESS_ID, only=only)
    if only is None:
        await nudge_partners(deps, hour=hour)
    return report


async def deliver_outbox(deps: Deps) -> services.DeliveryReport:
    """Send due CRM deliveries this process can claim, then show their state on the cards."""
    aws = deps.aws
    report = await services.deliver_due(
        deps.ctx,
        deps.crm.connector,
        owner=PROCESS_ID,
        other={
            "aws": lambda ctx, item: cosell.deliver(ctx, aws, item),
            "aws_update": lambda ctx, item: cosell.deliver_update(ctx, aws, item),
        },
    )
    for deal_id in report.deals:
        await deps.cards.sync(deal_id)
    return report


async def reconcile_crm(deps: Deps) -> services.SyncReport:
    """The reconciliation pass: linked records modified since the last one, on the cards."""
    report = await services.reconcile(deps.ctx, deps.crm.connector)
    for deal_id in report.changed:
        await deps.cards.sync(deal_id)
    return report


async def poll_aws(deps: Deps) -> set[int]:
    """AWS's answers to open co-sell submissions, on the cards."""
    if deps.aws is None:
        return set()
    changed = await cosell.poll(deps.ctx, deps.aws)
    for deal_id in changed:
        await deps.cards.sync(deal_id)
    return changed


async def poll_referrals(deps: Deps) -> int:
    """AWS's new referrals as cards in PTM_AWS_CHANNEL, each once."""
    aws, channel = deps.aws, deps.settings.aws.channel if deps.settings.aws else None
    if aws is None or channel is None:
        return 0
    posted = 0
    for view in await referrals.receive_invitations(deps.ctx, aws):
        ts = await deps.slack.post(channel, build_referral_card(view))
        await referrals.posted(deps.ctx, view.invitation_id, channel, ts)
        posted += 1
    return posted


async def nudge_partners(deps: Deps, *, hour: int) -> int:
    """A partner rep who owns an open next step hears of it once a day: by DM through their
    own company's installation when it is our active partner; otherwise (their org has not
    installed PTM, and our DMs may not reach them) in a threaded reply on the card that
    mentions only them."""
    nudges = await services.due_nudges(deps.ctx, hour=hour)
    by_dm: dict[tuple[int, str], list[Nudge]] = {}
    for nudge in nudges:
        if nudge.via is not None and deps.peer is not None:
            by_dm.setdefault((nudge.via, nudge.user_id), []).append(nudge)
        else:
            await deps.slack.post(nudge.channel_id, build_nudge(nudge), thread_ts=nudge.thread_ts)
    # One DM a day per person of a partner company: all their moves on our deals.
    for (via, user), theirs_due in by_dm.items():
        theirs = await deps.peer(via) if deps.peer is not None else None
        for_them = build_partner_moves(theirs_due) if theirs is not None else None
        if theirs is not None and for_them is not None:
            await theirs.slack.direct_message(user, for_them)
        else:  # their company's PTM is gone meanwhile: the deal room, as without it
            for nudge in theirs_due:
                message = build_nudge(replace(nudge, via=None))
                await deps.slack.post(nudge.channel_id, message, thread_ts=nudge.thread_ts)
    return len(nudges)


async def housekeeping(deps: Deps) -> None:
    """Forget dedupe records past Slack's retry window (idempotent, so any process may run it)."""
    removed = await services.prune_dedupe(deps.ctx)
    if removed:
        log.info("pruned %d old dedupe records", removed)


async def resync_stale_cards(deps: Deps) -> None:
    """Bring up to date the copies a previous run could not update (Slack down, or a crash
    between a change and its card update). The card syncer serialises per deal, so this is
    harmless next to live traffic."""
    for deal_id in await services.deals_with_stale_copies(deps.ctx):
        await deps.cards.sync(deal_id, stale_only=True)


async def recover_mentions(deps: Deps) -> None:
    if deps.replay_mentions is None:
        return
    replayed = await deps.replay_mentions(deps)
    if replayed:
        log.info("applied %d mention(s) a stopped process had received", replayed)


# Tenants served at once by a job: each has its own Slack rate limits (and PTM paces each
# installation's DMs on its own), so a morning of digests for 1,000 companies need not wait
# for them one by one; the database pool bounds the rest.
CONCURRENT_TENANTS = 16


async def for_tenants(
    tenants: TenantDeps,
    job: Callable[[Deps], Awaitable[Any]],
    gate: Gate | None,
    *,
    concurrency: int = CONCURRENT_TENANTS,
) -> int:
    """Run `job` for every installed tenant its gate names, several at a time; one failing
    does not keep the others waiting. Returns how many it ran for."""
    chosen = await tenants.each(gate)
    slots = asyncio.Semaphore(concurrency)

    async def one(deps: Deps) -> None:
        async with slots:
            try:
                await job(deps)
            except Exception:
                log.exception("background job failed for one tenant; will retry")

    await asyncio.gather(*(one(deps) for deps in chosen))
    return len(chosen)


def digest_gate(tenants: TenantDeps | None) -> Gate:
    """Which tenants of a batch may have a digest or nudge due, each at its own hour."""

    async def gate(batch: UowFactory, now: datetime) -> set[int]:
        default = tenants.digest_hour if tenants is not None else 8
        hours = await batches.digest_hours(batch, sorted(batch.tenant_ids or ()), default)
        return await batches.tenants_with_digest_work(batch, now, hours)

    return gate


class Background:
    """The periodic jobs of one process. `stop()` lets the job under way finish (up to a grace
    period) instead of cutting it off mid-send; `release_claims()` then gives back what this
    process still holds."""

    def __init__(
        self, deps: Deps | None, *, digests: bool = True, tenants: TenantDeps | None = None
    ) -> None:
        self.deps = deps
        self.tenants = tenants
        self.stopping = asyncio.Event()
        # With many workspaces each job runs only for the tenants its gate names (a few
        # queries per batch of tenants find them); with one, for the one.
        jobs: list[Coroutine[Any, Any, None]] = [
            # At start, then every minute: copies a crashed process (or a long Slack outage)
            # left behind come up to date.
            self._every(
                RESYNC_EVERY, self._each(resync_stale_cards, batches.tenants_with_stale_cards)
            ),
            self._every(HOUSEKEEPING_EVERY, self._housekeeping),
            # Mentions received by a process that died before applying them.
            self._every(
                MENTION_RECOVERY_EVERY,
                self._each(recover_mentions, batches.tenants_with_stalled_mentions),
            ),
        ]
        if digests:
            jobs.append(self._every(DIGEST_TICK, self._each(_digest_tick, digest_gate(tenants))))
            jobs.append(
                self._every(OUTBOX_TICK, self._each(_outbox_tick, batches.tenants_with_due_outbox))
            )
            # AWS's review of co-sell submissions, for the open ones only.
            jobs.append(
                self._every(AWS_POLL_EVERY, self._each(poll_aws, batches.tenants_with_open_aws))
            )
            if deps is not None and deps.settings.aws is not None and deps.settings.aws.channel:
                # Referrals from AWS (one workspace: its channel is an environment setting).
                jobs.append(self._every(AWS_POLL_EVERY, self._single(poll_referrals)))
            # Linked CRM records changed where no notification reached PTM.
            jobs.append(
                self._every(
                    RECONCILE_EVERY, self._each(reconcile_crm, batches.tenants_with_crm_links)
                )
            )
        self.tasks = [asyncio.create_task(job) for job in jobs]

    def _each(
        self, job: Callable[[Deps], Awaitable[Any]], gate: Gate
    ) -> Callable[[], Awaitable[None]]:
        """The job for the one workspace, or for each installed tenant its gate names, in turn
        (one failing does not keep the others waiting)."""

        async def run() -> None:
            if self.deps is not None:
                await job(self.deps)
            elif self.tenants is not None:
                await for_tenants(self.tenants, job, gate)

        return run

    def _single(self, job: Callable[[Deps], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if self.deps is not None:
                await job(self.deps)

        return run

    async def _housekeeping(self) -> None:
        root = self.deps.ctx.uow if self.deps is not None else None
        root = root or (self.tenants.root if self.tenants is not None else None)
        if root is not None:
            await batches.refresh_statistics(root)
        if self.deps is not None:
            await housekeeping(self.deps)
            return
        if self.tenants is None:
            return
        for batch in await self.tenants.batches():  # one statement per batch of tenants
            ids = [tenant for tenant, _ in batch]
            removed = await batches.prune_dedupe_batch(
                self.tenants.root.for_tenants(ids), self.tenants.now()
            )
            if removed:
                log.info("pruned %d old dedupe records", removed)

    async def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while not self.stopping.is_set():
            try:
                await job()
            except Exception:  # a failed run must not stop the next one
                log.exception("background job failed; will retry")
            try:
                await asyncio.wait_for(self.stopping.wait(), seconds)
            except TimeoutError:
                pass

    async def stop(self, *, grace: float = 10.0) -> None:
        """Let the jobs under way finish (up to `grace` seconds); start no new ones."""
        self.stopping.set()
        if self.tasks:
            _, late = await asyncio.wait(self.tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def release_claims(self) -> None:
        """Give back what this process still holds, for other processes to take over now."""
        every = [self.deps] if self.deps is not None else []
        if self.tenants is not None:
            every += self.tenants.known()
        released = 0
        for deps in every:
            released += await services.release_claims(deps.ctx, PROCESS_ID)
        if released:
            log.info("gave back %d claim(s) for other processes to take over", released)


def start_background(
    deps: Deps | None, *, digests: bool = True, tenants: TenantDeps | None = None
) -> Background:
    """Start the background jobs, for the one workspace (`deps`) or every installed tenant;
    the caller stops them at shutdown. (Tests turn the digest clock off and run digests by
    hand with a fixed clock.)"""
    return Background(deps, digests=digests, tenants=tenants)


async def _outbox_tick(deps: Deps) -> None:
    await deliver_outbox(deps)


async def _digest_tick(deps: Deps) -> None:
    await run_digests(deps)
