"""Persistence: SQLModel tables, async repositories and the unit of work."""

from store.db import create_schema, make_engine, make_session_factory
from store.uow import UnitOfWork, UowFactory, uow_factory

__all__ = [
    "UnitOfWork",
    "UowFactory",
    "create_schema",
    "make_engine",
    "make_session_factory",
    "uow_factory",
]
