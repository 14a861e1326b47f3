"""Slack's per-workspace rate limits, shared by every PTM process: a token bucket per
workspace and method in the database. A process takes a few tokens at a time (a grant) and
spends them itself; every call it makes is paid for by a token the bucket granted, so all
processes together stay within the bucket's rate and burst."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import upsert_insert
from store.tenant_models import SlackBudgetRow


class BudgetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(
        self, method: str, want: int, *, rate: float, burst: int, now: datetime, extra: int = 0
    ) -> int:
        """Up to `want` tokens (and up to `extra` more while the bucket is over half full, to
        save round trips): how many were granted, 0 when the bucket is empty. The bucket's row
        is locked until commit, so two processes never both spend its last token."""
        locked = (
            sa.select(SlackBudgetRow)
            .where(SlackBudgetRow.method == method)  # type: ignore[arg-type]
            .with_for_update()
        )
        row = await self.session.scalar(locked)
        if row is None:  # the workspace's first call of this method: a full bucket
            insert = upsert_insert(self.session)
            await self.session.execute(
                insert(SlackBudgetRow)
                .values(method=method, tokens=float(burst), at=now)
                .on_conflict_do_nothing(index_elements=["tenant_id", "method"])
            )
            row = await self.session.scalar(locked)
        assert row is not None
        at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=now.tzinfo)
        tokens = min(float(burst), row.tokens + rate * max((now - at).total_seconds(), 0.0))
        room = want + (extra if tokens >= burst / 2 else 0)
        granted = max(min(room, int(tokens)), 0)
        row.tokens, row.at = tokens - granted, now
        await self.session.flush()
        return granted
