"""Tenancy as one mechanism: a unit of work is opened for a tenant (or, for a background job, a
batch of tenants) and every statement its session runs on a tenant's rows is scoped to it.

- SELECT, UPDATE and DELETE on `TenantOwned` rows get `tenant_id = :tenant` (or `IN`) added by
  the ORM (`with_loader_criteria`), wherever the entity appears: joins, subqueries, unions.
- INSERT takes the unit of work's tenant as the column default (an explicit value wins: a job
  over a batch of tenants names the tenant of each row it writes).
- A statement the ORM cannot scope — written against a `Table` instead of a mapped class — on a
  tenant's table is refused (`UnscopedStatement`), as is any statement on a tenant's rows in a
  unit of work opened for no tenant. Forgetting a `WHERE` cannot leak a row.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql import visitors

TENANT_OPTION = "ptm_tenant"
TENANTS_KEY = "ptm_tenants"  # Session.info: the tenant ids this session may see
# The one sanctioned read across tenants (store.routing): a SELECT that returns which tenant a
# channel's deal room or card belongs to — tenant ids and deal ids, never a row's content.
ROUTING_OPTION = "ptm_routing"


class UnscopedStatement(RuntimeError):
    """A statement on a tenant's rows that is not scoped to a tenant: a programming error."""


def tenant_of_statement(context: DefaultExecutionContext) -> int:
    """Column default of `tenant_id`: the single tenant the unit of work was opened for."""
    tenant = context.execution_options.get(TENANT_OPTION)
    if not isinstance(tenant, int):
        raise UnscopedStatement(
            "an insert into a tenant's table without tenant_id, in a unit of work opened for "
            "no single tenant"
        )
    return tenant


def scope_sessions(
    session_class: type[Session], owned_base: type, owned_tables: Collection[str]
) -> None:
    """Install the scoping on every session of `session_class` (idempotent)."""
    if event.contains(session_class, "do_orm_execute", _scope):
        return
    _OWNED["base"] = owned_base
    _OWNED["tables"] = frozenset(owned_tables)
    event.listen(session_class, "do_orm_execute", _scope)


_OWNED: dict[str, Any] = {}


def _scope(state: ORMExecuteState) -> None:
    tenants = state.session.info.get(TENANTS_KEY)
    if not state.is_orm_statement:
        if _touches_owned_table(state.statement):
            raise UnscopedStatement(
                "a Core statement on a tenant's table cannot be scoped: write it against the "
                f"mapped classes ({str(state.statement)[:120]!r})"
            )
        return
    if state.execution_options.get(ROUTING_OPTION):
        if not state.is_select:
            raise UnscopedStatement("only a SELECT may route across tenants")
        return
    if state.is_insert:
        if tenants is not None and len(tenants) == 1:
            state.update_execution_options(**{TENANT_OPTION: next(iter(tenants))})
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if tenants is None:
        if _touches_owned_table(state.statement):
            raise UnscopedStatement(
                "a statement on a tenant's rows in a unit of work for no tenant"
            )
        return
    state.statement = state.statement.options(_criteria(tenants))


# One criteria option per tenant (or batch of tenants), made once and reused: building it for
# every statement (its lambda analysed, its option object made) was a twentieth of the CPU of
# a change. The tenant ids are the lambda's closure variables, so they are bound parameters:
# the compiled statement is shared by every tenant either way.
_CRITERIA: dict[frozenset[int], Any] = {}
CRITERIA_KEPT = 4096


def _criteria(tenants: Collection[int]) -> Any:
    key = tenants if isinstance(tenants, frozenset) else frozenset(tenants)
    found = _CRITERIA.get(key)
    if found is not None:
        return found
    base = _OWNED["base"]
    if len(key) == 1:
        (tenant,) = key
        found = with_loader_criteria(
            base, lambda cls: cls.tenant_id == tenant, include_aliases=True
        )
    else:
        batch = tuple(sorted(key))
        found = with_loader_criteria(
            base, lambda cls: cls.tenant_id.in_(batch), include_aliases=True
        )
    if len(_CRITERIA) >= CRITERIA_KEPT:  # batches of many tenants: never grow without bound
        _CRITERIA.clear()
    _CRITERIA[key] = found
    return found


def _touches_owned_table(statement: Any) -> bool:
    owned = _OWNED["tables"]
    return any(
        isinstance(element, sa.Table) and element.name in owned
        for element in visitors.iterate(statement)
    )
