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

# A bucket's row, locked until commit, and its spending: built once (a card pass takes tokens).
_LOCKED = (
    sa.select(SlackBudgetRow.tokens, SlackBudgetRow.at)
    .where(SlackBudgetRow.method == sa.bindparam("budget_method"))  # type: ignore[arg-type]
    .with_for_update()
)
_SPEND = (
    sa.update(SlackBudgetRow)
    .where(SlackBudgetRow.method == sa.bindparam("budget_method"))  # type: ignore[arg-type]
    .values(tokens=sa.bindparam("left"), at=sa.bindparam("spent_at"))
    .execution_options(synchronize_session=False)
)


class BudgetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(
        self, method: str, want: int, *, rate: float, burst: int, now: datetime, extra: int = 0
    ) -> int:
        """Up to `want` tokens (and up to `extra` more while the bucket is over half full, to
        save round trips): how many were granted, 0 when the bucket is empty. The bucket's row
        is locked until commit, so two processes never both spend its last token."""
        key = {"budget_method": method}
        row = (await self.session.execute(_LOCKED, key)).first()
        if row is None:  # the workspace's first call of this method: a full bucket
            insert = upsert_insert(self.session)
            await self.session.execute(
                insert(SlackBudgetRow)
                .values(method=method, tokens=float(burst), at=now)
                .on_conflict_do_nothing(index_elements=["tenant_id", "method"])
            )
            row = (await self.session.execute(_LOCKED, key)).first()
        assert row is not None
        held, at = row
        at = at if at.tzinfo is not None else at.replace(tzinfo=now.tzinfo)
        tokens = min(float(burst), held + rate * max((now - at).total_seconds(), 0.0))
        room = want + (extra if tokens >= burst / 2 else 0)
        granted = max(min(room, int(tokens)), 0)
        # The bucket's time never runs backwards. `now` was read before the row's lock was
        # ours, so a taker that waited may bring an earlier time than the last one wrote (or
        # another process's clock may lag): writing it back would refill that interval twice.
        spent_at = max(at, now)
        await self.session.execute(_SPEND, {**key, "left": tokens - granted, "spent_at": spent_at})
        return granted
