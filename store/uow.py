"""Unit of work: one session and its repositories; commit is explicit, leaving rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.model import MessageAlreadyApplied
from store.copies import BindingRepository, CardCopyRepository, ChannelRepository
from store.db import read_only
from store.deals import DealRepository
from store.digests import DigestRepository
from store.events import ProcessedEventRepository
from store.metrics import MetricsRepository
from store.outbox import OutboxRepository
from store.partners import PartnerRepository

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
    One opened with `reads_only` cannot commit (see `store.db.read_only` for what it saves)."""

    deals: DealRepository
    copies: CardCopyRepository
    bindings: BindingRepository
    channels: ChannelRepository
    events: ProcessedEventRepository
    digests: DigestRepository
    partners: PartnerRepository
    outbox: OutboxRepository
    metrics: MetricsRepository

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, reads_only: bool = False
    ) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None
        self.reads_only = reads_only

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._session_factory()
        self.deals = DealRepository(self._session)
        self.copies = CardCopyRepository(self._session)
        self.bindings = BindingRepository(self._session)
        self.channels = ChannelRepository(self._session)
        self.events = ProcessedEventRepository(self._session)
        self.digests = DigestRepository(self._session)
        self.partners = PartnerRepository(self._session)
        self.outbox = OutboxRepository(self._session)
        self.metrics = MetricsRepository(self._session)
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
    """`uow()` opens a unit of work that may write; `uow.reads()` one that only reads."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._session_factory)

    def reads(self) -> UnitOfWork:
        return UnitOfWork(self._session_factory, reads_only=True)


def uow_factory(session_factory: async_sessionmaker[AsyncSession]) -> UowFactory:
    return UowFactory(session_factory)
