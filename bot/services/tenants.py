"""Which company a process, request or job acts for."""

from __future__ import annotations

from datetime import datetime

from bot.domain.model import DomainError
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
