"""Stop sequences, matched on decoded text with the least possible hold-back.

Text arrives in pieces that may split a stop string anywhere. ``StopMatcher``
releases text as soon as it cannot be the start of a stop string, holds back
only the longest tail that still could be, and reports a match so that the
stop string itself is never released.
"""

from __future__ import annotations

from collections.abc import Iterable


class StopMatcher:
    def __init__(self, stops: Iterable[str]):
        self.stops = tuple(s for s in stops if s)
        self._pending = ""
        self.stopped = False

    def push(self, text: str) -> str:
        """Add text; return what is safe to show now. Sets ``stopped`` on a match."""
        if self.stopped:
            return ""
        self._pending += text
        found = self._earliest_match()
        # Text that could still grow into a stop starts here; a stop that would
        # begin before a complete match must be given the chance to complete, so
        # that the earliest-starting stop wins however the text was split.
        partial = len(self._pending) - self._held_back_length()
        if found >= 0 and found <= partial:
            return self._stop_at(found)
        safe = partial if found < 0 else min(partial, found)
        released, self._pending = self._pending[:safe], self._pending[safe:]
        return released

    def flush(self) -> str:
        """The reply ended: release what was held back, up to any stop in it."""
        if self.stopped:
            return ""
        found = self._earliest_match()
        if found >= 0:
            return self._stop_at(found)
        released, self._pending = self._pending, ""
        return released

    def _earliest_match(self) -> int:
        return min((i for i in (self._pending.find(s) for s in self.stops) if i >= 0), default=-1)

    def _stop_at(self, index: int) -> str:
        self.stopped = True
        released, self._pending = self._pending[:index], ""
        return released

    def _held_back_length(self) -> int:
        """Length of the longest tail of the pending text that begins a stop string."""
        longest = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(self._pending)), longest, -1):
                if self._pending.endswith(stop[:n]):
                    longest = n
                    break
        return longest
