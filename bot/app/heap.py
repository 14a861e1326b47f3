"""Python's cyclic garbage collector, tuned for a long-running server.

A full collection scans every object that is alive, and a PTM process holds several hundred
thousand from start-up alone (modules, SQLAlchemy's and Bolt's caches) that are never garbage.
`settle()` moves them out of the collector's sight once the process has started, so every later
collection costs what the live request or job holds (the digest of 10,000 people: 8.2 → 5.8 s,
BENCHMARKS.md). `fewer_collections()` raises the young generation's threshold while a large
batch of short-lived objects is built (a morning's digests), so it is not scanned every 700
allocations; it only delays collections, never skips one.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BATCH_THRESHOLD = 20_000


def settle() -> None:
    """Once, after start-up: what is alive now stays alive; the collector stops scanning it."""
    gc.collect()
    gc.freeze()


_raised = {"depth": 0, "before": gc.get_threshold()}


@contextmanager
def fewer_collections(threshold: int = BATCH_THRESHOLD) -> Iterator[None]:
    """Across awaits, and when several batches overlap: the first to enter raises the
    threshold, the last to leave puts back what was there before."""
    if _raised["depth"] == 0:
        before = gc.get_threshold()
        _raised["before"] = before
        gc.set_threshold(max(threshold, before[0]), *before[1:])
    _raised["depth"] += 1
    try:
        yield
    finally:
        _raised["depth"] -= 1
        if _raised["depth"] == 0:
            gc.set_threshold(*_raised["before"])
