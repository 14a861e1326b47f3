"""Unit of work: one session and its repositories; commit is explicit, leaving rolls back."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.domain.model import MessageAlreadyApplied
from store.budget import BudgetRepository
from store.copies import BindingRepository, CardCopyRepository, ChannelRepository
from store.cosell import CoSellRepository, InvitationRepository
from store.crm import CrmLinkRepository
from store.db import read_only
from store.deals import DealRepository
from store.digests import DigestRepository
from store.disclosures import DisclosureRepository
from store.events import ProcessedEventRepository
from store.metrics import MetricsRepository
from store.outbox import OutboxRepository
from store.own_fields import OwnFieldsRepository
from store.partners import PartnerRepository
from store.partnerships import PartnershipRepository
from store.purge import PurgeRepository
from store.routing import RoutingRepository
from store.tenancy import TENANT_OPTION, TENANTS_KEY
from store.tenants import TenantRepository

_FINISHING: ContextVar[str | None] = ContextVar("ptm_finishing_message", default=None)


@contextmanager
def finishing(message_key: str) -> Iterator[None]:
    """Within this block, every unit of work that commits also marks the received message
    `message_key` as applied (see ProcessedEventRow)."""
    token = _FINISHING.set(message_key)
    try:
        yield
    finally:
        _FINISHING.reset(token)


class UnitOfWork:
    """`async with uow:` opens a transaction; nothing persists unless `commit()` is awaited.
    One opened with `reads_only` cannot commit (see `store.db.read_only` for what it saves).

    It is opened for one tenant (a request, a job's work for one company), for a batch of
    tenants (a job reading many companies at once) or for none (only `tenants` is usable):
    every statement is scoped accordingly by `store.tenancy`."""

    deals: DealRepository
    copies: CardCopyRepository
    budget: BudgetRepository
    bindings: BindingRepository
    channels: ChannelRepository
    events: ProcessedEventRepository
    digests: DigestRepository
    disclosures: DisclosureRepository
    partners: PartnerRepository
    partnerships: PartnershipRepository
    outbox: OutboxRepository
    crm: CrmLinkRepository
    cosell: CoSellRepository
    invitations: InvitationRepository
    metrics: MetricsRepository
    tenants: TenantRepository
    purge: PurgeRepository
    routing: RoutingRepository
    own_fields: OwnFieldsRepository

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        reads_only: bool = False,
        tenants: frozenset[int] | None = None,
        binds: dict[int, AsyncEngine] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None
        self.reads_only = reads_only
        self.tenant_ids = tenants
        self._binds = binds if binds is not None else {}

    @property
    def tenant_id(self) -> int:
        """The one tenant this unit of work is for."""
        assert self.tenant_ids is not None and len(self.tenant_ids) == 1, self.tenant_ids
        return next(iter(self.tenant_ids))

    def _bind(self) -> AsyncEngine | None:
        """For one tenant, the engine with that tenant as an execution option: what an insert
        (a flush included) takes as its `tenant_id` default."""
        if self.tenant_ids is None or len(self.tenant_ids) != 1:
            return None
        tenant = self.tenant_id
        bind = self._binds.get(tenant)
        if bind is None:
            engine = self._session_factory.kw["bind"]
            bind = self._binds[tenant] = engine.execution_options(**{TENANT_OPTION: tenant})
        return bind

    async def __aenter__(self) -> UnitOfWork:
        bind = self._bind()
        info = {TENANTS_KEY: self.tenant_ids} if self.tenant_ids is not None else {}
        self._session = (
            self._session_factory(bind=bind, info=info)
            if bind is not None
            else self._session_factory(info=info)
        )
        self.deals = DealRepository(self._session)
        self.copies = CardCopyRepository(self._session)
        self.budget = BudgetRepository(self._session)
        self.bindings = BindingRepository(self._session)
        self.channels = ChannelRepository(self._session)
        self.events = ProcessedEventRepository(self._session)
        self.digests = DigestRepository(self._session)
        self.disclosures = DisclosureRepository(self._session)
        self.partners = PartnerRepository(self._session)
        self.partnerships = PartnershipRepository(self._session)
        self.outbox = OutboxRepository(self._session)
        self.crm = CrmLinkRepository(self._session)
        self.cosell = CoSellRepository(self._session)
        self.invitations = InvitationRepository(self._session)
        self.metrics = MetricsRepository(self._session)
        self.tenants = TenantRepository(self._session)
        self.purge = PurgeRepository(self._session)
        self.routing = RoutingRepository(self._session)
        self.own_fields = OwnFieldsRepository(self._session)
        if self.reads_only:
            await read_only(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None

    async def refresh_statistics(self) -> None:
        """SQLite: refresh the query planner's statistics (ANALYZE, sampling a few hundred rows
        per index, so it takes milliseconds). Without them SQLite may pick a plan that reads a
        table once per row of another: `/ptm metrics` over 50,000 deals took over a minute on a
        database never analysed, 1.2 s once analysed (BENCHMARKS.md). PostgreSQL analyses by
        itself (autovacuum)."""
        assert self._session is not None
        if self._session.bind.dialect.name != "sqlite":  # type: ignore[union-attr]
            return
        await self._session.execute(sa.text("PRAGMA analysis_limit = 400"))
        await self._session.execute(sa.text("ANALYZE"))
        # A sample of a few hundred rows sees one value of `tenant_id` where there are only a
        # few tenants, and SQLite then takes it for a selective column: it read every event of
        # the tenant for each chunk of a digest instead of the chunk's deals by their index
        # (30 ms a chunk against 4.4 ms). These narrow indexes are read in full: 25 ms at
        # 500,000 events.
        tenant_indexes = await self._session.scalars(
            sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%_tenant_id'"
            )
        )
        await self._session.execute(sa.text("PRAGMA analysis_limit = 0"))
        for name in list(tenant_indexes):
            await self._session.execute(sa.text(f'ANALYZE "{name}"'))

    async def commit(self) -> None:
        assert self._session is not None
        if self.reads_only:
            raise RuntimeError("a unit of work opened with reads() cannot write")
        message = _FINISHING.get()
        if message is not None:
            # The change a bot mention asked for and the mark that it was applied are one
            # transaction: a crash leaves both undone (to be applied again) or both done, and
            # if another process applied it meanwhile (we were too slow, our lease lapsed),
            # this change is not made at all.
            if not await self.events.finish_pending(message):
                raise MessageAlreadyApplied(message)
            _FINISHING.set(None)  # later commits of the same mention need not mark it again
        await self._session.commit()


class UowFactory:
    """`uow()` opens a unit of work that may write; `uow.reads()` one that only reads. A
    factory is for a tenant, a batch of tenants, or none: `for_tenant` and `for_tenants` give
    the factory of another scope (cheap: the engine and its pool are shared)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tenants: frozenset[int] | None = None,
        binds: dict[int, AsyncEngine] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self.tenant_ids = tenants
        self._binds = binds if binds is not None else {}

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._session_factory, tenants=self.tenant_ids, binds=self._binds)

    def reads(self) -> UnitOfWork:
        return UnitOfWork(
            self._session_factory, reads_only=True, tenants=self.tenant_ids, binds=self._binds
        )

    @property
    def tenant_id(self) -> int:
        assert self.tenant_ids is not None and len(self.tenant_ids) == 1, self.tenant_ids
        return next(iter(self.tenant_ids))

    def for_tenant(self, tenant_id: int) -> UowFactory:
        return UowFactory(self._session_factory, frozenset((tenant_id,)), self._binds)

    def for_tenants(self, tenant_ids: Collection[int]) -> UowFactory:
        return UowFactory(self._session_factory, frozenset(tenant_ids), self._binds)

    def unscoped(self) -> UowFactory:
        """For the `tenants` table alone (installs, choosing whom a job works for)."""
        return UowFactory(self._session_factory, None, self._binds)


def uow_factory(
    session_factory: async_sessionmaker[AsyncSession], tenant_id: int | None = None
) -> UowFactory:
    tenants = frozenset((tenant_id,)) if tenant_id is not None else None
    return UowFactory(session_factory, tenants)
