"""A change's writes as one statement on PostgreSQL.

A change to a deal's fields or next step writes four tables: the deal (compare-and-swap on its
version), the open step (replaced or done), the actor's last action and seen version on the
trio, and the audit event. On PostgreSQL these go as one statement, each write a data-modifying
CTE that runs only when the compare-and-swap did (they select the deal's id from it), so a
change costs one round trip for them instead of four. A new open step is inserted by a
statement of its own: in the same statement as the UPDATE that closes the old one, the
database's one-open-step-per-deal index could see both (the sub-statements of one statement run
in no set order).

The statements name the tenant themselves (`:tenant`): the ORM adds its tenant criteria to a
top-level SELECT, UPDATE or DELETE, not to DML inside a CTE. So they run on the session's
connection, as Core, without the ORM's execution around them (store.deals).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from store.models import DealEventRow, DealRow, NextStepRow, TrioMemberRow

# One statement per (columns the deal's UPDATE sets, what happens to the open step), built once.
_BUILT: dict[tuple[tuple[str, ...], str | None], Any] = {}


def change_statement(columns: tuple[str, ...], step: str | None) -> Any:
    """The statement for a change setting `columns` of the deal, with `step` None (the open
    step untouched), "set" (the open step replaced) or "complete" (the open step done).

    Parameters: `tenant`; `set_<column>` for each column, `bump_id` and `bump_version` (the
    deal and the version it must still be at); `by`, `at` (who and when: the step's completion
    and the trio member's last action); `ev_version`, `ev_actor`, `ev_team`, `ev_changes`,
    `ev_source` (the audit event). It returns one row when the change was written, none when
    the deal was no longer at `bump_version` (then nothing was written)."""
    key = (columns, step)
    found = _BUILT.get(key)
    if found is None:
        found = _BUILT[key] = _build(columns, step)
    return found


def _build(columns: tuple[str, ...], step: str | None) -> Any:
    tenant = sa.bindparam("tenant", type_=sa.Integer)
    bumped = (
        sa.update(DealRow)
        .where(
            DealRow.id == sa.bindparam("bump_id"),  # type: ignore[arg-type]
            DealRow.version == sa.bindparam("bump_version"),  # type: ignore[arg-type]
            DealRow.tenant_id == tenant,  # type: ignore[arg-type]
        )
        .values({name: sa.bindparam(f"set_{name}") for name in columns})
        .returning(DealRow.id)
        .cte("bumped")
    )
    the_deal = sa.select(bumped.c.id).scalar_subquery()
    ctes = [bumped]
    if step is not None:
        done = {"status": "replaced"}
        if step == "complete":
            done = {"status": "done", "done_by": sa.bindparam("by"), "done_at": sa.bindparam("at")}
        ctes.append(
            sa.update(NextStepRow)
            .where(
                NextStepRow.deal_id == the_deal,  # type: ignore[arg-type]
                NextStepRow.status == "open",  # type: ignore[arg-type]
                NextStepRow.tenant_id == tenant,  # type: ignore[arg-type]
            )
            .values(done)
            .cte("stepped")
        )
    at = sa.bindparam("at", type_=DealEventRow.__table__.c.at.type)  # type: ignore[attr-defined]
    # The actor, when on the trio, acted now and saw the version they made (store.deals._ACTED).
    ctes.append(
        sa.update(TrioMemberRow)
        .where(
            TrioMemberRow.deal_id == the_deal,  # type: ignore[arg-type]
            TrioMemberRow.user_id == sa.bindparam("by"),  # type: ignore[arg-type]
            TrioMemberRow.tenant_id == tenant,  # type: ignore[arg-type]
        )
        .values(
            last_acted_at=sa.func.greatest(sa.func.coalesce(TrioMemberRow.last_acted_at, at), at),
            synced_version=sa.bindparam("ev_version", type_=sa.Integer),
        )
        .cte("touched")
    )
    events = DealEventRow.__table__.c  # type: ignore[attr-defined]
    logged = sa.select(
        tenant,
        bumped.c.id,
        sa.bindparam("ev_version", type_=events.version.type),
        sa.bindparam("ev_actor", type_=events.actor.type),
        sa.bindparam("ev_team", type_=events.actor_team.type),
        sa.bindparam("ev_changes", type_=events.changes.type),
        sa.bindparam("ev_source", type_=events.source.type),
        at,
    )
    return (
        sa.insert(DealEventRow)
        .from_select(
            ["tenant_id", "deal_id", "version", "actor", "actor_team", "changes", "source", "at"],
            logged,
        )
        .add_cte(*ctes)
        .returning(DealEventRow.id)
        # Its parameters are the statement's, not rows to insert (the ORM's "bulk" reading).
        .execution_options(dml_strategy="raw")
    )
