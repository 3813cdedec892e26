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
        cut = min((i for i in (self._pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            released, self._pending = self._pending[:cut], ""
            return released
        hold = self._held_back_length()
        released = self._pending[: len(self._pending) - hold]
        self._pending = self._pending[len(released) :]
        return released

    def flush(self) -> str:
        """The reply ended without a match: release what was held back."""
        released, self._pending = self._pending, ""
        return "" if self.stopped else released

    def _held_back_length(self) -> int:
        """Length of the longest tail of the pending text that begins a stop string."""
        longest = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(self._pending)), longest, -1):
                if self._pending.endswith(stop[:n]):
                    longest = n
                    break
        return longest
