"""Tenancy as one mechanism: a unit of work is opened for a tenant (or, for a background job, a
batch of tenants) and every statement its session runs on a tenant's rows is scoped to it.

- SELECT, UPDATE and DELETE on `TenantOwned` rows get `tenant_id = :tenant` (or `IN`) added by
  the ORM (`with_loader_criteria`), wherever the entity appears: joins, subqueries, unions.
- INSERT takes the unit of work's tenant as the column default (an explicit value wins: a job
  over a batch of tenants names the tenant of each row it writes).
- A statement the ORM cannot scope — written against a `Table` instead of a mapped class — on a
  tenant's table is refused (`UnscopedStatement`), as is any statement on a tenant's rows in a
  unit of work opened for no tenant. Forgetting a `WHERE` cannot leak a row.
- The hot path (a change, its card pass) runs its statements on the session's connection with
  `run_scoped`, which scopes them with the same criteria; a statement that is DML inside a CTE
  is not reached by the criteria and names its tenant itself (store.change_statement).
"""

from __future__ import annotations

import weakref
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
    state.statement = _scoped(state.statement, len(tenants) == 1)
    state.parameters = _with_tenants(state.parameters, tenants)


# The tenant criteria, two options made once for every tenant: the tenant (or the batch of
# tenants) is a named parameter that `_scope` adds to each statement's parameters, not a value
# in the option. So a statement built once (a module constant) and scoped is the same scoped
# statement for every tenant: it is made once (`_SCOPED`) and keeps its cache key, where a
# per-tenant option made a new statement on every execution and SQLAlchemy walked it again to
# find its cache key (a seventh of a change's CPU).
TENANT_PARAM = "ptm_scope_tenant"
TENANTS_PARAM = "ptm_scope_tenants"
_TENANT = sa.bindparam(TENANT_PARAM, type_=sa.Integer)
_TENANTS = sa.bindparam(TENANTS_PARAM, type_=sa.Integer, expanding=True)
_OPTIONS: dict[bool, Any] = {}
# Each statement scoped, by statement (weak: an ad-hoc statement's entry goes with it).
_SCOPED: weakref.WeakKeyDictionary[Any, dict[bool, Any]] = weakref.WeakKeyDictionary()


def _criteria(one: bool) -> Any:
    found = _OPTIONS.get(one)
    if found is None:
        base = _OWNED["base"]
        if one:
            found = with_loader_criteria(
                base,
                lambda cls: cls.tenant_id == _TENANT,
                include_aliases=True,
                track_closure_variables=False,
            )
        else:
            found = with_loader_criteria(
                base,
                lambda cls: cls.tenant_id.in_(_TENANTS),
                include_aliases=True,
                track_closure_variables=False,
            )
        _OPTIONS[one] = found
    return found


def _scoped(statement: Any, one: bool) -> Any:
    """The statement with the tenant criteria (for one tenant, or a batch), made once each."""
    try:
        kinds = _SCOPED.get(statement)
    except TypeError:  # not weakly referenceable: scope it afresh
        return statement.options(_criteria(one))
    if kinds is None:
        kinds = _SCOPED[statement] = {}
    found = kinds.get(one)
    if found is None:
        found = kinds[one] = statement.options(_criteria(one))
    return found


async def run_scoped(session: Any, statement: Any, parameters: dict[str, Any]) -> Any:
    """Run an ORM SELECT, UPDATE, DELETE or INSERT on the session's connection, scoped to the
    session's tenants as `_scope` scopes it (an INSERT takes the tenant as its default from the
    connection's options): the ORM's execution and loading, a third of a short statement's
    cost, are left out. For the hot path (a change and its card pass); the result is Core's."""
    tenants = session.info.get(TENANTS_KEY)
    if tenants is None:
        raise UnscopedStatement("a statement on a tenant's rows in a unit of work for no tenant")
    connection = await session.connection()
    if isinstance(statement, sa.Insert):
        return await connection.execute(statement, parameters)
    scoped = _scoped(statement, len(tenants) == 1)
    return await connection.execute(scoped, _with_tenants(parameters, tenants))


async def rows_of(session: Any, statement: Any, parameters: dict[str, Any]) -> list[Any]:
    """The rows of an ORM SELECT (its columns as plain rows), scoped (`run_scoped`)."""
    return list((await run_scoped(session, statement, parameters)).all())


def _with_tenants(parameters: Any, tenants: Collection[int]) -> Any:
    """The statement's parameters with its tenant (or batch of tenants) added."""
    if len(tenants) == 1:
        extra: dict[str, Any] = {TENANT_PARAM: next(iter(tenants))}
    else:
        extra = {TENANTS_PARAM: sorted(tenants)}
    if isinstance(parameters, list):
        return [{**p, **extra} for p in parameters]
    return {**parameters, **extra} if parameters else extra


# Whether a Core statement touches a tenant's table, by statement (weak, as `_SCOPED`): a
# statement built once (the card lease's) is walked once, not on every execution.
_TOUCHES: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _touches_owned_table(statement: Any) -> bool:
    try:
        found = _TOUCHES.get(statement)
    except TypeError:  # not weakly referenceable
        found = None
    if found is not None:
        return found
    owned = _OWNED["tables"]
    found = any(
        isinstance(element, sa.Table) and element.name in owned
        for element in visitors.iterate(statement)
    )
    try:
        _TOUCHES[statement] = found
    except TypeError:
        pass
    return found
