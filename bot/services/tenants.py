"""Which company a process, request or job acts for."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from bot.domain.model import BadInput, DomainError, NotFound
from store import UowFactory


class WrongWorkspace(DomainError):
    """The database belongs to other workspaces than the bot token's."""


async def single_workspace_tenant(uow: UowFactory, *, team_id: str | None, now: datetime) -> int:
    """The one tenant of a single-workspace install: the one named after the token's team;
    else the database's one tenant not named yet (a database upgraded from before tenants,
    or filled by a job before the bot first ran), which takes the team's name; else a new one.
    Without a team (Slack unreachable, or a database-only job) the database's only tenant."""
    async with uow.unscoped()() as tx:
        await tx.tenants.lock()
        ids = await tx.tenants.ids()
        if team_id is not None:
            found = await tx.tenants.by_team(team_id)
            if found is not None:
                return found
            unnamed = await tx.tenants.unnamed()
            if len(unnamed) == 1:
                await tx.tenants.name(unnamed[0], team_id=team_id)
                await tx.commit()
                return unnamed[0]
            if ids:
                raise WrongWorkspace(
                    f"this database holds other workspaces' data, not {team_id}'s: use the "
                    "database of this bot token, or run PTM in many-workspace mode"
                )
        elif len(ids) == 1:
            return ids[0]
        elif ids:
            raise WrongWorkspace(
                "this database holds several workspaces: name one (`--team T…`) or run the bot"
            )
        created = await tx.tenants.create(team_id=team_id, now=now)
        await tx.commit()
        return created


TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,31}$")


async def name_unnamed_tenant(uow: UowFactory, team_id: str) -> int | None:
    """After `ptm db upgrade`: the database's one tenant not named yet (its data from before
    tenants) becomes `team_id`'s. None when there is none to name."""
    if not TEAM_ID.fullmatch(team_id):
        raise BadInput(
            f"`{team_id[:40]}` is not a Slack team id: give one like T0123ABCD (Slack shows it "
            "in the workspace's URL and in auth.test)"
        )
    async with uow.unscoped()() as tx:
        await tx.tenants.lock()
        unnamed = await tx.tenants.unnamed()
        if not unnamed:
            return None
        owner = await tx.tenants.by_team(team_id)
        if owner is not None or len(unnamed) > 1:
            raise WrongWorkspace(
                f"{team_id} already has its own data here: the data from before tenants "
                "cannot be given to it as well"
                if owner is not None
                else "several tenants are not named: name them in the database by hand"
            )
        await tx.tenants.name(unnamed[0], team_id=team_id)
        await tx.commit()
        return unnamed[0]


async def unnamed_tenants(uow: UowFactory) -> int:
    async with uow.unscoped().reads() as tx:
        return len(await tx.tenants.unnamed())


async def workspace_tenant(uow: UowFactory, team_id: str, *, now: datetime) -> int:
    """The tenant of an installed workspace (or Grid org), made if this is its first request
    (an install whose tenant was purged since, say)."""
    async with uow.unscoped().reads() as tx:
        found = await tx.tenants.by_team(team_id)
    if found is not None:
        return found
    return await install_tenant(uow, team_id, name="", installer=None, now=now)


async def install_tenant(
    uow: UowFactory, team_id: str, *, name: str, installer: str | None, now: datetime
) -> int:
    """After "Add to Slack": the workspace's tenant (new, or the one it had), the installer
    its first admin when it has none."""
    async with uow.unscoped()() as tx:
        await tx.tenants.lock()
        tenant = await tx.tenants.by_team(team_id)
        if tenant is None:
            tenant = await tx.tenants.create(
                team_id=team_id, name=name, installed_by=installer, now=now
            )
        await tx.commit()
    if installer is not None:
        async with uow.for_tenant(tenant)() as tx:
            if not await tx.tenants.admins():
                await tx.tenants.add_admin(installer, added_by=installer, now=now)
                await tx.commit()
    return tenant


async def purge_tenant(
    uow: UowFactory,
    team_id: str,
    *,
    keep: Callable[[dict[str, object]], None] | None = None,
) -> dict[str, int]:
    """Delete everything of the workspace's tenant — deals and their history, rooms, the
    capability map, digests, the outbox, admins, its Slack tokens, the tenant itself — in one
    transaction. `keep` receives the export first; if it fails, nothing is deleted."""
    async with uow.unscoped().reads() as tx:
        tenant = await tx.tenants.by_team(team_id)
    if tenant is None:
        raise NotFound(f"No workspace {team_id[:40]} here: nothing to purge.")
    async with uow.for_tenant(tenant)() as tx:
        if keep is not None:
            keep({"team_id": team_id, "tables": await tx.purge.export()})
        counts = await tx.purge.delete_all(tenant, team_id)
        await tx.commit()
    return counts
