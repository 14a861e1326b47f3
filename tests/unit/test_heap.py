"""The collector's tuning for large batches: overlapping batches (two digest runs at once, across
awaits) leave the thresholds as they found them."""

from __future__ import annotations

import gc

from bot.app.heap import fewer_collections


def test_overlapping_batches_restore_the_thresholds() -> None:
    before = gc.get_threshold()
    first, second = fewer_collections(50_000), fewer_collections(50_000)
    first.__enter__()
    second.__enter__()
    assert gc.get_threshold()[0] == 50_000
    first.__exit__(None, None, None)  # the first to start ends first
    assert gc.get_threshold()[0] == 50_000  # the other batch is still building
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
