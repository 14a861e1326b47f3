"""Referrals from AWS: engagement invitations (ListEngagementInvitations, as receiver) become
cards in PTM_AWS_CHANNEL, once each however often AWS lists them; our admins and alliance
managers accept one (the engagement starts and the deal is made from what AWS sent) or reject
it with a reason."""

from __future__ import annotations

import uuid
from datetime import date

from bot.domain.cosell import AwsProblem, CoSellForm, PartnerCentralPort, task_words
from bot.domain.model import BadInput, NotAllowed, NotFound, esc
from bot.services.common import Caller, Ctx, admins_of
from bot.services.deals import create_deal
from bot.views.models import InvitationView
from store.cosell import Invitation

MAX_REASON = 80  # RejectEngagementInvitation's RejectionReason


async def receive_invitations(ctx: Ctx, aws: PartnerCentralPort) -> list[InvitationView]:
    """The invitations to post: new ones (kept first, so each is posted once whatever the
    number of processes), and any an earlier pass kept but could not post."""
    pending = await aws.pending_invitations()
    async with ctx.uow.reads() as uow:
        known = await uow.invitations.known([p.invitation_id for p in pending])
    for summary in pending:
        if summary.invitation_id in known:
            continue
        details = await aws.invitation_details(summary.invitation_id)
        async with ctx.uow() as uow:
            await uow.invitations.add(
                ctx.now(),
                invitation_id=summary.invitation_id[:255],
                title=(details.get("title") or summary.title)[:300],
                company=details.get("company", "")[:300],
                sender=summary.sender[:300],
                details=details,
                expires_at=summary.expires_at,
                client_token=uuid.uuid4().hex,
            )
            await uow.commit()
    async with ctx.uow.reads() as uow:
        return [_view(i, None) for i in await uow.invitations.unposted()]


async def invitation_view(ctx: Ctx, caller: Caller, invitation_id: str) -> InvitationView:
    await may_answer(ctx, caller)
    async with ctx.uow.reads() as uow:
        found = await uow.invitations.get(invitation_id)
    if found is None:
        raise NotFound("PTM does not know that referral.")
    if found.status != "pending":
        who = f" by <@{found.acted_by}>" if found.acted_by else ""
        raise BadInput(f"That referral is {found.status} already{who}.")
    return _view(found, None)


async def posted(ctx: Ctx, invitation_id: str, channel: str, ts: str) -> None:
    async with ctx.uow() as uow:
        await uow.invitations.update(invitation_id, channel_id=channel, ts=ts)
        await uow.commit()


async def accept(
    ctx: Ctx, caller: Caller, invitation_id: str, aws: PartnerCentralPort
) -> tuple[InvitationView, Invitation]:
    """Start the engagement (its token kept, so a retried click starts it once) and make the
    deal from the referral; the opportunity AWS made is followed like a submission."""
    invitation = await _claim(ctx, caller, invitation_id, "accepting")
    try:
        task = await aws.accept_invitation(invitation_id, invitation.client_token)
        if task.status == "FAILED":
            raise AwsProblem(
                f"AWS did not start it: {task_words(task.status, task.reason, task.message)}"
            )
    except AwsProblem as problem:
        await _release(ctx, invitation_id)
        raise BadInput(f"{problem.message} Nothing was changed; try again.") from None
    details = invitation.details
    name = invitation.title or f"AWS referral: {invitation.company}"
    close = _date(details.get("close_date", ""))
    reply = await create_deal(
        ctx,
        Caller(actor=caller.actor),  # no channel: the referrals channel is no deal room
        name=name[:300],
        account=invitation.company,
        fields={"close_date": close} if close else None,
    )
    assert reply.deal_id is not None
    form = CoSellForm.from_json(
        {
            k: details.get(k, "")
            for k in ("company", "website", "country", "problem", "spend", "currency")
        }  # fmt: skip
    )
    async with ctx.uow() as uow:
        await uow.cosell.put(
            reply.deal_id, ctx.now(), form=form.as_json(), client_token=invitation.client_token,
            step="started", opportunity_id=task.opportunity_id, task_id=task.task_id,
            task_status=task.status, task_reason=task.reason or "",
            submitted_by=caller.actor.user_id, submitted_at=ctx.now(),
        )  # fmt: skip
        await uow.invitations.update(
            invitation_id, status="accepted", deal_id=reply.deal_id, acted_by=caller.actor.user_id
        )
        key = await uow.deals.key_of(reply.deal_id)
        kept = await uow.invitations.get(invitation_id)
        await uow.commit()
    assert kept is not None
    return _view(kept, key), kept


async def reject(
    ctx: Ctx, caller: Caller, invitation_id: str, reason: str, aws: PartnerCentralPort
) -> tuple[InvitationView, Invitation]:
    reason = " ".join(reason.split())
    if not reason:
        raise BadInput("Say why, in a few words (AWS passes it on).")
    if len(reason) > MAX_REASON:
        raise BadInput(
            f"AWS takes at most {MAX_REASON} characters for the reason (this is {len(reason)})."
        )
    if any(ord(c) < 0x20 for c in reason):
        raise BadInput("The reason is one line of text.")
    await _claim(ctx, caller, invitation_id, "rejecting")
    try:
        await aws.reject_invitation(invitation_id, reason)
    except AwsProblem as problem:
        await _release(ctx, invitation_id)
        raise BadInput(f"{problem.message} Nothing was changed; try again.") from None
    async with ctx.uow() as uow:
        await uow.invitations.update(
            invitation_id, status="rejected", reason=reason, acted_by=caller.actor.user_id
        )
        kept = await uow.invitations.get(invitation_id)
        await uow.commit()
    assert kept is not None
    return _view(kept, None), kept


async def may_answer(ctx: Ctx, caller: Caller) -> None:
    """Our admins and alliance managers answer AWS's referrals."""
    async with ctx.uow.reads() as uow:
        allowed = caller.actor.internal and (
            caller.actor.user_id in await admins_of(ctx, uow)
            or await uow.invitations.is_alliance_manager(caller.actor.user_id)
        )
    if not allowed:
        raise NotAllowed(
            "AWS's referrals are answered by PTM admins and alliance managers; ask one of them."
        )


async def _claim(ctx: Ctx, caller: Caller, invitation_id: str, doing: str) -> Invitation:
    """Take the invitation for this answer, or say who answered it already."""
    await may_answer(ctx, caller)
    async with ctx.uow() as uow:
        invitation = await uow.invitations.get(invitation_id, for_update=True)
        if invitation is None:
            raise NotFound("PTM does not know that referral.")
        if invitation.status != "pending":
            who = f" by <@{invitation.acted_by}>" if invitation.acted_by else ""
            raise BadInput(f"That referral is {invitation.status} already{who}.")
        await uow.invitations.update(invitation_id, status=doing, acted_by=caller.actor.user_id)
        await uow.commit()
    return invitation


async def _release(ctx: Ctx, invitation_id: str) -> None:
    async with ctx.uow() as uow:
        await uow.invitations.update(invitation_id, status="pending", acted_by=None)
        await uow.commit()


def _view(i: Invitation, deal_key: str | None) -> InvitationView:
    return InvitationView(
        invitation_id=i.invitation_id, title=i.title, company=i.company, sender=i.sender,
        details=i.details, expires_at=i.expires_at, status=i.status, acted_by=i.acted_by,
        deal_key=deal_key, reason=esc(i.reason, MAX_REASON),
    )  # fmt: skip


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
