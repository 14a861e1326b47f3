"""Throttle deal-room activity writes: at most one per member and channel per window. Pure.

Losing this (a restart) or holding it in two processes only costs an extra write now and then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

ACTIVITY_WINDOW = timedelta(minutes=5)
MAX_TRACKED = 50_000


class ActivityThrottle:
    def __init__(self, window: timedelta = ACTIVITY_WINDOW) -> None:
        self.window = window
        self._last: dict[tuple[str, str], datetime] = {}

    def should_write(self, channel_id: str, user_id: str, at: datetime) -> bool:
        """True when this member's activity in this channel was not written within the window."""
        key = (channel_id, user_id)
        last = self._last.get(key)
        if last is not None and abs(at - last) < self.window:
            return False
        if len(self._last) >= MAX_TRACKED:
            self._last.clear()
        self._last[key] = at
        return True
