"""Alembic migrations of the PTM schema (run with `ptm db upgrade`)."""
