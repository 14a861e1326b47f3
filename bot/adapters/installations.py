"""Slack installations (one per workspace, or per Grid org) with their tokens encrypted.

slack_sdk's SQLAlchemy store keeps tokens in plain text; this one seals every token before it
is written and opens it when read, on PTM's own engine and tables. Nothing here logs a token.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import TypeVar

import sqlalchemy as sa
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import (
    AsyncSQLAlchemyInstallationStore,
    SQLAlchemyInstallationStore,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.adapters.secrets import SecretBox, UnreadableSecret

log = logging.getLogger(__name__)

TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
# How long a process reuses a workspace's bot it read (every request asks for it). A save or
# a delete in this process takes effect at once; one in another process within this time —
# and Slack sends nothing more to an uninstalled app anyway.
BOT_KEPT = 10.0
Entity = TypeVar("Entity", Installation, Bot)


class EncryptedInstallationStore(AsyncSQLAlchemyInstallationStore):
    def __init__(
        self,
        *,
        client_id: str,
        engine: AsyncEngine,
        box: SecretBox,
        installations: sa.Table,
        bots: sa.Table,
    ) -> None:
        super().__init__(
            client_id=client_id,
            engine=engine,
            installations_table_name=installations.name,
            bots_table_name=bots.name,
            logger=log,
        )
        # PTM's tables (token columns wide enough for ciphertext), not slack_sdk's copies.
        self.metadata = installations.metadata
        self.installations, self.bots = installations, bots
        self._box = box
        self._bots: dict[tuple[object, ...], tuple[float, Bot]] = {}

    def _sealed(self, entity: Entity) -> Entity:
        sealed = copy.copy(entity)
        for name in TOKEN_FIELDS:
            value = getattr(sealed, name, None)
            if value and not self._box.is_sealed(value):
                setattr(sealed, name, self._box.seal(value))
        return sealed

    def _opened(self, entity: Entity | None) -> Entity | None:
        if entity is None:
            return None
        for name in TOKEN_FIELDS:
            value = getattr(entity, name, None)
            if value and self._box.is_sealed(value):
                setattr(entity, name, self._box.open(value))
        return entity

    async def async_save(self, installation: Installation) -> None:
        # The base class saves the bot too, through async_save_bot: already sealed, it is
        # not sealed twice (`_sealed` leaves ciphertext alone).
        await super().async_save(self._sealed(installation))

    async def async_save_bot(self, bot: Bot) -> None:
        self._bots.clear()
        await super().async_save_bot(self._sealed(bot))

    async def async_find_bot(self, **kw: object) -> Bot | None:  # type: ignore[override]
        key = tuple(sorted(kw.items()))
        kept = self._bots.get(key)
        if kept is not None and time.monotonic() - kept[0] < BOT_KEPT:
            return copy.copy(kept[1])
        try:
            bot = self._opened(await super().async_find_bot(**kw))  # type: ignore[arg-type]
        except UnreadableSecret as err:
            log.error("%s", err)
            return None
        if bot is not None:
            self._bots[key] = (time.monotonic(), copy.copy(bot))
        return bot

    async def find_bots(self, keys: list[str]) -> dict[str, Bot]:
        """The latest bot of each workspace (or Grid org, for an org-wide install) in `keys`,
        tokens opened: one query for a whole batch of tenants (background work)."""
        if not keys:
            return {}
        c = self.bots.c
        query = (
            self.bots.select()
            .where(
                c.client_id == self.client_id,
                c.bot_token.is_not(None),
                sa.or_(
                    sa.and_(c.team_id.in_(keys), c.is_enterprise_install.is_(False)),
                    sa.and_(c.enterprise_id.in_(keys), c.is_enterprise_install.is_(True)),
                ),
            )
            .order_by(c.installed_at, c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        found: dict[str, Bot] = {}
        for row in rows:  # oldest first: each key ends with its latest install
            bot = SQLAlchemyInstallationStore.build_bot_entity(row)
            key = bot.enterprise_id if bot.is_enterprise_install else bot.team_id
            try:
                opened = self._opened(bot)
            except UnreadableSecret as err:
                log.error("%s", err)
                continue
            if key is not None and opened is not None:
                found[key] = opened
        return found

    async def async_delete_bot(self, **kw: object) -> None:  # type: ignore[override]
        self._bots.clear()
        await super().async_delete_bot(**kw)  # type: ignore[arg-type]

    async def async_delete_installation(self, **kw: object) -> None:  # type: ignore[override]
        self._bots.clear()
        await super().async_delete_installation(**kw)  # type: ignore[arg-type]

    async def async_find_installation(self, **kw: object) -> Installation | None:  # type: ignore[override]
        try:
            found = await super().async_find_installation(**kw)  # type: ignore[arg-type]
        except UnreadableSecret as err:
            log.error("%s", err)
            return None
        return self._opened(found)
