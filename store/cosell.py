"""Deals' co-sell submissions to AWS Partner Central."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AwsInvitationRow, AwsSubmissionRow, TrioMemberRow

# What may still change on AWS's side: PTM keeps asking about these.
CLOSED_REVIEW = ("Rejected",)
CLOSED_STAGES = ("Launched", "Closed Lost")


@dataclass(frozen=True)
class Submission:
    id: int
    deal_id: int
    form: dict[str, Any]
    client_token: str
    step: str
    opportunity_id: str | None
    task_id: str | None
    task_status: str
    task_reason: str
    review_status: str
    aws_stage: str
    aws_seller: str
    aws_modified_at: datetime | None
    problem: str
    submitted_by: str | None
    submitted_at: datetime | None


class CoSellRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_deal(self, deal_id: int, *, for_update: bool = False) -> Submission | None:
        query = sa.select(AwsSubmissionRow).where(AwsSubmissionRow.deal_id == deal_id)
        if for_update:
            query = query.with_for_update()
        row = await self.session.scalar(query)
        return _submission(row) if row is not None else None

    async def put(self, deal_id: int, now: datetime, **values: Any) -> Submission:
        """Create the deal's submission or change it (the row is locked by of_deal first)."""
        row = await self.session.scalar(
            sa.select(AwsSubmissionRow).where(AwsSubmissionRow.deal_id == deal_id)
        )
        if row is None:
            row = AwsSubmissionRow(deal_id=deal_id, updated_at=now, **values)
            self.session.add(row)
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
        await self.session.flush()
        return _submission(row)

    async def update(self, submission_id: int, now: datetime, **values: Any) -> None:
        await self.session.execute(
            sa.update(AwsSubmissionRow)
            .where(AwsSubmissionRow.id == submission_id)  # type: ignore[arg-type]
            .values(updated_at=now, **values)
        )

    async def open_ones(self) -> list[Submission]:
        """Submissions AWS may still change: started, not rejected, not launched or lost."""
        rows = await self.session.scalars(
            sa.select(AwsSubmissionRow).where(
                AwsSubmissionRow.step == "started",  # type: ignore[arg-type]
                AwsSubmissionRow.review_status.not_in(CLOSED_REVIEW),  # type: ignore[attr-defined]
                AwsSubmissionRow.aws_stage.not_in(CLOSED_STAGES),  # type: ignore[attr-defined]
            )
        )
        return [_submission(r) for r in rows.all()]

    async def tenants_with_open(self) -> set[int]:
        rows = await self.session.scalars(
            sa.select(AwsSubmissionRow.tenant_id)
            .where(
                AwsSubmissionRow.step == "started",  # type: ignore[arg-type]
                AwsSubmissionRow.review_status.not_in(CLOSED_REVIEW),  # type: ignore[attr-defined]
                AwsSubmissionRow.aws_stage.not_in(CLOSED_STAGES),  # type: ignore[attr-defined]
            )
            .distinct()
        )
        return set(rows.all())


@dataclass(frozen=True)
class Invitation:
    id: int
    invitation_id: str
    title: str
    company: str
    sender: str
    details: dict[str, Any]
    expires_at: datetime | None
    status: str
    client_token: str
    channel_id: str | None
    ts: str | None
    deal_id: int | None
    acted_by: str | None
    reason: str


class InvitationRepository:
    """AWS's referrals to us, each shown once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def known(self, invitation_ids: Collection[str]) -> set[str]:
        if not invitation_ids:
            return set()
        rows = await self.session.scalars(
            sa.select(AwsInvitationRow.invitation_id).where(
                AwsInvitationRow.invitation_id.in_(list(invitation_ids))  # type: ignore[attr-defined]
            )
        )
        return set(rows.all())

    async def add(self, now: datetime, **values: Any) -> bool:
        """Keep a new invitation; False when another process kept it first."""
        try:
            async with self.session.begin_nested():
                self.session.add(AwsInvitationRow(received_at=now, **values))
        except sa.exc.IntegrityError:
            return False
        return True

    async def unposted(self) -> list[Invitation]:
        rows = await self.session.scalars(
            sa.select(AwsInvitationRow)
            .where(AwsInvitationRow.ts.is_(None), AwsInvitationRow.status == "pending")  # type: ignore[union-attr,arg-type]
            .order_by(AwsInvitationRow.id)  # type: ignore[arg-type]
        )
        return [_invitation(r) for r in rows.all()]

    async def get(self, invitation_id: str, *, for_update: bool = False) -> Invitation | None:
        query = sa.select(AwsInvitationRow).where(AwsInvitationRow.invitation_id == invitation_id)
        if for_update:
            query = query.with_for_update()
        row = await self.session.scalar(query)
        return _invitation(row) if row is not None else None

    async def update(self, invitation_id: str, **values: Any) -> None:
        await self.session.execute(
            sa.update(AwsInvitationRow)
            .where(AwsInvitationRow.invitation_id == invitation_id)  # type: ignore[arg-type]
            .values(**values)
        )

    async def is_alliance_manager(self, user_id: str) -> bool:
        """Whether `user_id` is the alliance manager of any of this company's deals."""
        found = await self.session.scalar(
            sa.select(TrioMemberRow.id)
            .where(TrioMemberRow.user_id == user_id, TrioMemberRow.role == "alliance")  # type: ignore[arg-type]
            .limit(1)
        )
        return found is not None


def _invitation(r: AwsInvitationRow) -> Invitation:
    assert r.id is not None
    return Invitation(
        r.id, r.invitation_id, r.title, r.company, r.sender, dict(r.details or {}), r.expires_at,
        r.status, r.client_token, r.channel_id, r.ts, r.deal_id, r.acted_by, r.reason,
    )  # fmt: skip


def _submission(r: AwsSubmissionRow) -> Submission:
    assert r.id is not None
    return Submission(
        r.id, r.deal_id, dict(r.form or {}), r.client_token, r.step, r.opportunity_id, r.task_id,
        r.task_status, r.task_reason, r.review_status, r.aws_stage, r.aws_seller,
        r.aws_modified_at, r.problem, r.submitted_by, r.submitted_at,
    )  # fmt: skip
