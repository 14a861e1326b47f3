"""Deals' co-sell submissions to AWS Partner Central."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AwsSubmissionRow

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

    async def of_deals(self, deal_ids: Collection[int]) -> dict[int, Submission]:
        if not deal_ids:
            return {}
        rows = await self.session.scalars(
            sa.select(AwsSubmissionRow).where(AwsSubmissionRow.deal_id.in_(list(deal_ids)))  # type: ignore[attr-defined]
        )
        return {r.deal_id: _submission(r) for r in rows.all()}

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


def _submission(r: AwsSubmissionRow) -> Submission:
    assert r.id is not None
    return Submission(
        r.id, r.deal_id, dict(r.form or {}), r.client_token, r.step, r.opportunity_id, r.task_id,
        r.task_status, r.task_reason, r.review_status, r.aws_stage, r.aws_seller,
        r.aws_modified_at, r.problem, r.submitted_by, r.submitted_at,
    )  # fmt: skip
