"""Co-sell with AWS: the pre-flight check, the form, the submission through the durable outbox
(resumed where it stopped, never a second AWS opportunity), and AWS's answers on the card.
Every change of the submission's state is a change of the deal (source `aws`): versioned,
audited, redrawn on every copy."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping

from bot.domain.cosell import (
    FIELDS,
    FORM_PREFIX,
    MAX_USE_CASE,
    REVIEWING,
    AwsProblem,
    AwsStatus,
    CoSellForm,
    PartnerCentralPort,
    check,
    missing,
    normalise_spend,
    opportunity_request,
    task_words,
    updated_opportunity,
    with_deal_defaults,
)
from bot.domain.forms import FormErrors
from bot.domain.model import Actor, BadInput, Deal, Mutation, NotAllowed, NotFound, Source
from bot.domain.outbox import NotYet
from bot.services.changes import change, queue_aws_update
from bot.services.common import Caller, Ctx, changed_reply, resolve_deal_id
from bot.views.models import CoSellView, Reply
from store import UnitOfWork
from store.cosell import Submission
from store.outbox import Delivery

log = logging.getLogger(__name__)

AWS_CALLER = Caller(actor=Actor(user_id="aws", internal=True))
TURN_ON = (
    "AWS co-sell is off. An operator turns it on with `PTM_AWS_SOLUTION_ID` (your solution's id "
    "in AWS Partner Central), AWS credentials from the standard chain, and `PTM_AWS_CATALOG` "
    "(`Sandbox` to try it, `AWS` for real)."
)
SUBMITTED_STEPS = ("queued", "created", "associated", "started")


def require_aws(aws: PartnerCentralPort | None) -> PartnerCentralPort:
    if aws is None:
        raise BadInput(TURN_ON)
    return aws


def _require_ours(caller: Caller) -> None:
    if not caller.actor.internal:
        raise NotAllowed(
            "AWS co-sell is submitted by the company that owns the deal; your partner sees "
            "its progress on the card."
        )


async def cosell_view(
    ctx: Ctx, caller: Caller, *, deal_number: int | None = None, deal_id: int | None = None
) -> CoSellView:
    """The pre-flight: what AWS still needs (deal values fill what they can), and where a
    submission stands."""
    _require_ours(caller)
    async with ctx.uow.reads() as uow:
        if deal_id is None:
            deal_id = await resolve_deal_id(uow, number=deal_number, caller=caller)
        deal = await uow.deals.get(deal_id)
        if deal is None:
            raise NotFound(f"Deal {deal_id} no longer exists.")
        submission = await uow.cosell.of_deal(deal_id)
    saved = CoSellForm.from_json(submission.form) if submission is not None else CoSellForm()
    form = with_deal_defaults(deal, saved)
    submitted = submission is not None and submission.step in SUBMITTED_STEPS
    return CoSellView(
        deal.id, deal.key, deal.name, form, tuple(missing(form)),
        status_of(submission) if submission is not None else None, submitted,
    )  # fmt: skip


async def submit(
    ctx: Ctx,
    caller: Caller,
    deal_id: int,
    typed: Mapping[str, object],
    aws: PartnerCentralPort,
) -> Reply:
    """Check the form against AWS's own rules, keep it, and queue the submission: one
    transaction with its outbox row. A deal is submitted once; its submission token is made
    here and kept for every try."""
    _require_ours(caller)
    form = read_form(typed)
    async with ctx.uow.reads() as uow:
        deal = await uow.deals.get(deal_id)
    if deal is None:
        raise NotFound(f"Deal {deal_id} no longer exists.")
    params = opportunity_request(deal, form, catalog=aws.catalog, client_token="preflight")
    problems = check(params, aws.rules("CreateOpportunity")).by_field()
    for key in missing(form):
        field = next(k for k, (label, _) in FIELDS.items() if label == key)
        problems.setdefault(field, f"{key}: required")
    if problems:
        # Shown next to each field of the form (what no field owns, next to the first).
        raise FormErrors(
            {f"{FORM_PREFIX}{key or 'company'}": text for key, text in problems.items()}
        )

    async with ctx.uow.reads() as uow:
        before = await uow.cosell.of_deal(deal_id)
    if before is not None and before.step == "started":
        return await _update_form(ctx, caller, deal, form)

    async def queue(uow: UnitOfWork, fresh: Deal) -> None:
        current = await uow.cosell.of_deal(fresh.id, for_update=True)
        if current is not None and current.step in SUBMITTED_STEPS:
            raise BadInput(f"{fresh.key} is already submitted to AWS: {status_of(current).line()}")
        # A token per submission, kept through every retry; a resubmission after AWS refused a
        # value keeps the opportunity it already made.
        token = current.client_token if current is not None and current.opportunity_id else ""
        saved = await uow.cosell.put(
            fresh.id, ctx.now(), form=form.as_json(), client_token=token or uuid.uuid4().hex,
            step="queued" if not (current and current.opportunity_id) else current.step,
            problem="", submitted_by=caller.actor.user_id, submitted_at=ctx.now(),
        )  # fmt: skip
        await uow.outbox.enqueue(
            outcome_id=None, deal_id=fresh.id, side="aws", kind="aws",
            body=json.dumps({"deal_key": fresh.key, "submission": saved.id}),
            key=uuid.uuid4().hex, status="pending", now=ctx.now(),
        )  # fmt: skip

    fresh, changed = await change(
        ctx,
        caller,
        deal_id,
        lambda _d: Mutation(audit={"aws_cosell": (None, "submitted")}),
        source=Source.COMMAND,
        also=queue,
    )
    return changed_reply(
        fresh,
        changed,
        f"Submitting {fresh.key} to AWS Partner Central ({aws.catalog} catalog): the card shows "
        "AWS's answer as it comes.",
    )


async def _update_form(ctx: Ctx, caller: Caller, deal: Deal, form: CoSellForm) -> Reply:
    """After the submission: new values (the expected spend, mostly) go to AWS as an update."""

    async def keep(uow: UnitOfWork, fresh: Deal) -> None:
        await uow.cosell.put(fresh.id, ctx.now(), form=form.as_json())
        await queue_aws_update(uow, fresh, ["spend"], ctx.now(), force=True)

    fresh, changed = await change(
        ctx, caller, deal.id, lambda _d: Mutation(audit={"aws_cosell": (None, "updated")}),
        source=Source.COMMAND, also=keep,
    )  # fmt: skip
    return changed_reply(
        fresh, changed,
        f"AWS gets the new values for {fresh.key} (held while AWS reviews it, then sent).",
    )  # fmt: skip


def read_form(typed: Mapping[str, object]) -> CoSellForm:
    """The modal's values, tidied: codes upper-cased, the amount in AWS's form, text bounded."""

    def text(key: str, limit: int = 2000) -> str:
        return str(typed.get(key) or "").strip()[:limit]

    def many(key: str) -> tuple[str, ...]:
        value = typed.get(key) or ()
        return tuple(str(v) for v in (value if isinstance(value, list | tuple) else [value]))

    return CoSellForm(
        company=text("company", 300),
        country=text("country", 10).upper(),
        website=text("website", 300),
        duns=text("duns", 20),
        problem=text("problem", 2100),
        spend=normalise_spend(text("spend", 40)),
        currency=text("currency", 10).upper(),
        close_date=text("close_date", 20),
        use_case=text("use_case", MAX_USE_CASE),
        delivery=many("delivery"),
        need=many("need"),
    )


def status_of(submission: Submission) -> AwsStatus:
    task = (
        task_words(submission.task_status, submission.task_reason or None)
        if submission.task_status
        else {"draft": "not submitted", "queued": "queued", "created": "opportunity created",
              "associated": "solution associated"}.get(submission.step, submission.step)
    )  # fmt: skip
    return AwsStatus(
        step=submission.step,
        task=task,
        review=submission.review_status,
        stage=submission.aws_stage,
        seller=submission.aws_seller,
        problem=submission.problem,
        opportunity_id=submission.opportunity_id,
    )


# --- delivery (the outbox worker) ----------------------------------------------------------


async def deliver(ctx: Ctx, aws: PartnerCentralPort | None, item: Delivery) -> str | None:
    """Carry a submission as far as it goes, each step recorded before the next: create the
    opportunity (its ClientToken makes a retry return the same one), associate the solution,
    start the engagement. An AWS refusal that retrying cannot fix stops it, in words on the
    card; anything else is raised for the outbox to retry."""
    if aws is None:
        raise LookupError("AWS co-sell is not configured in this process")
    async with ctx.uow.reads() as uow:
        submission = await uow.cosell.of_deal(item.deal_id)
        deal = await uow.deals.get(item.deal_id)
    if submission is None or deal is None or submission.step not in SUBMITTED_STEPS[:-1]:
        return "nothing to submit"
    form = CoSellForm.from_json(submission.form)
    try:
        opportunity = submission.opportunity_id
        step = submission.step
        if opportunity is None:
            params = opportunity_request(
                deal, form, catalog=aws.catalog, client_token=submission.client_token
            )
            opportunity = await aws.create_opportunity(params)
            step = await _record(ctx, submission, "created", opportunity_id=opportunity)
        if step == "created":
            await aws.associate_solution(opportunity)
            step = await _record(ctx, submission, "associated")
        if step == "associated":
            task = await aws.start_engagement(opportunity, f"{submission.client_token}-engage")
            await _on_deal(
                ctx, deal.id, {"aws_cosell": ("submitting", task_words(task.status, task.reason))},
                submission, step="started", task_id=task.task_id, task_status=task.status,
                task_reason=task.reason or "", problem="",
            )  # fmt: skip
    except AwsProblem as problem:
        await _on_deal(ctx, deal.id, {"aws_problem": (None, problem.message)}, submission,
                       problem=problem.message[:300])  # fmt: skip
        if problem.retry or problem.attention:
            raise
        # AWS refused a value: nothing more happens until someone fixes the form and submits
        # again (the opportunity, if made, is kept and reused).
        await _record(ctx, submission, "draft" if submission.opportunity_id is None else step)
        return f"stopped: {problem.message[:250]}"
    return None


async def _record(ctx: Ctx, submission: Submission, step: str, **values: object) -> str:
    async with ctx.uow() as uow:
        await uow.cosell.update(submission.id, ctx.now(), step=step, **values)
        await uow.commit()
    return step


async def _on_deal(
    ctx: Ctx,
    deal_id: int,
    audit: Mapping[str, tuple[object, object]],
    submission: Submission,
    **values: object,
) -> None:
    """Record AWS's news on the submission and, as an audited change of the deal (nobody's
    activation), on every copy of the card."""

    async def keep(uow: UnitOfWork, _deal: Deal) -> None:
        await uow.cosell.update(submission.id, ctx.now(), **values)

    _deal, changed = await change(
        ctx, AWS_CALLER, deal_id, lambda _d: Mutation(audit=dict(audit)), source=Source.AWS,
        also=keep, write_back=False,
    )  # fmt: skip
    if not changed:
        async with ctx.uow() as uow:
            await uow.cosell.update(submission.id, ctx.now(), **values)
            await uow.commit()


async def deliver_update(ctx: Ctx, aws: PartnerCentralPort | None, item: Delivery) -> str | None:
    """Bring AWS's opportunity up to date with the deal (and the form's spend): read it,
    change what changed, write it back with its LastModifiedDate. While AWS reviews it (edits
    refused), the update waits, its attempts unspent, and goes when AWS allows."""
    if aws is None:
        raise LookupError("AWS co-sell is not configured in this process")
    async with ctx.uow.reads() as uow:
        submission = await uow.cosell.of_deal(item.deal_id)
        deal = await uow.deals.get(item.deal_id)
    if submission is None or deal is None or submission.opportunity_id is None:
        return "nothing to update"
    if submission.review_status in REVIEWING:
        raise NotYet(f"held: AWS is reviewing {deal.key}; sent once it allows edits")
    try:
        current = await aws.current_opportunity(submission.opportunity_id)
        review = str((current.get("LifeCycle") or {}).get("ReviewStatus") or "")  # type: ignore[union-attr]
        if review in REVIEWING:
            raise NotYet(f"held: AWS is reviewing {deal.key}; sent once it allows edits")
        form = CoSellForm.from_json(submission.form)
        params = updated_opportunity(current, deal, form)
        problems = check(params, aws.rules("UpdateOpportunity")).by_path
        if problems:
            words = "; ".join(f"{path}: {text}" for path, text in problems.items())
            return f"stopped: AWS would refuse the update ({words[:200]})"
        await aws.update_opportunity(params)
    except AwsProblem as problem:
        if problem.retry or problem.attention:
            raise
        return f"stopped: {problem.message[:250]}"
    life = params.get("LifeCycle") or {}
    stage = str(life.get("Stage") or "")  # type: ignore[union-attr]
    async with ctx.uow() as uow:
        await uow.cosell.update(submission.id, ctx.now(), aws_stage=stage, problem="")
        await uow.commit()
    return None


# --- polling --------------------------------------------------------------------------------


async def poll(ctx: Ctx, aws: PartnerCentralPort) -> set[int]:
    """One pass over the submissions AWS may still change: their review status and stage in
    one call per 20, the engagement tasks still running in one call per 10, the AWS seller of
    those whose review is done and that changed. Each change is audited on its deal."""
    async with ctx.uow.reads() as uow:
        open_ones = [s for s in await uow.cosell.open_ones() if s.opportunity_id]
    if not open_ones:
        return set()
    ids = [s.opportunity_id for s in open_ones if s.opportunity_id]
    states = await aws.opportunities(ids)
    running = [s.opportunity_id for s in open_ones if s.task_status in ("", "IN_PROGRESS")]
    tasks = await aws.tasks([i for i in running if i]) if running else {}
    changed: set[int] = set()
    for submission in open_ones:
        assert submission.opportunity_id is not None
        state = states.get(submission.opportunity_id)
        task = tasks.get(submission.opportunity_id)
        values: dict[str, object] = {}
        audit: dict[str, tuple[object, object]] = {}
        if task is not None and task.status != submission.task_status:
            values.update(task_status=task.status, task_reason=task.reason or "")
            audit["aws_task"] = (
                task_words(submission.task_status, submission.task_reason or None),
                task_words(task.status, task.reason, task.message),
            )
        if state is not None:
            if state.review and state.review != submission.review_status:
                values["review_status"] = state.review
                audit["aws_review"] = (submission.review_status or None, state.review)
            if state.stage and state.stage != submission.aws_stage:
                values["aws_stage"] = state.stage
                audit["aws_stage"] = (submission.aws_stage or None, state.stage)
            moved = (
                state.modified_at is not None and state.modified_at != submission.aws_modified_at
            )
            if moved:
                values["aws_modified_at"] = state.modified_at
            if state.review == "Approved" and (moved or not submission.aws_seller):
                seller = await aws.aws_seller(submission.opportunity_id)
                if seller and seller != submission.aws_seller:
                    values["aws_seller"] = seller[:200]
                    audit["aws_seller"] = (submission.aws_seller or None, seller[:200])
        if not values:
            continue
        if audit:
            await _on_deal(ctx, submission.deal_id, audit, submission, **values)
            changed.add(submission.deal_id)
        else:
            async with ctx.uow() as uow:
                await uow.cosell.update(submission.id, ctx.now(), **values)
                await uow.commit()
    return changed


def cosell_notice(view: CoSellView) -> str:
    """`/ptm aws` in words: where the submission stands, or what AWS still needs."""
    if view.status is not None and (view.submitted or view.status.problem):
        return f"*{view.key}* · {view.status.line()}"
    if view.missing:
        return (
            f"*{view.key}*: before AWS takes the co-sell it needs "
            + ", ".join(m.lower() for m in view.missing)
            + ". *Fill in for AWS* opens the form."
        )
    return f"*{view.key}* has what AWS needs. *Fill in for AWS* to check it and submit."
