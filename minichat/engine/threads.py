"""How many threads a reply is computed with: the cores other programs leave free.

PyTorch splits every matrix product over all cores and its threads meet after
each one. When another program holds a core, every meeting waits for the thread
that shares it: on 2 cores beside one busy process, decoding with 2 threads ran
at 20% of its quiet speed and with 1 thread at 60%; beside a two-thread compute
job, 9% against 45% (``bench/threads.py``). So before each reply ``ThreadPolicy``
looks at how much CPU the other programs used since the last reply ended (the
user's reading time is the window: nothing is added to the time to the first
token) and uses the cores they left free, at least one.

The count comes from ``/proc/stat``: user, system and interrupt time of all the
programs, less this process's own (``os.times``). Time at a positive nice
value does not count, since such work yields to us: minichat's own background
builder runs at the idle priority with nice 19 for that reason. Where
``/proc/stat`` is missing (not Linux) the threads stay as PyTorch set them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_WINDOW = 0.05  # seconds; a shorter look says too little, and the last choice stays


@dataclass(frozen=True)
class CpuSample:
    at: float  # time.monotonic(), seconds
    busy: float  # CPU seconds every program has used, nice ones left out
    own: float  # CPU seconds this process has used, all its threads


def sample() -> CpuSample | None:
    """Now, from ``/proc/stat``; None where it cannot be read."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if len(fields) < 8 or fields[0] != "cpu":
        return None
    # cpu user nice system idle iowait irq softirq ...: all but nice, idle and iowait
    ticks = sum(int(fields[i]) for i in (1, 3, 6, 7))
    times = os.times()
    return CpuSample(time.monotonic(), ticks / os.sysconf("SC_CLK_TCK"), times[0] + times[1])


def free_threads(before: CpuSample, after: CpuSample, limit: int) -> int | None:
    """The cores the other programs left free between two samples, from 1 to
    ``limit``; None when the window is too short to say."""
    window = after.at - before.at
    if window < MIN_WINDOW:
        return None
    others = max(0.0, (after.busy - before.busy) - (after.own - before.own)) / window
    return max(1, min(limit, round(limit - others)))


class ThreadPolicy:
    """Picks the thread count before each reply from what the CPU did since the last.

    ``limit`` is the most it uses: PyTorch's own count when it starts (all the cores,
    or ``OMP_NUM_THREADS``)."""

    def __init__(
        self,
        limit: int,
        set_threads: Callable[[int], None],
        read: Callable[[], CpuSample | None] = sample,
    ):
        self.limit = limit
        self.threads = limit
        self._set = set_threads
        self._read = read
        self._mark = read()  # from the model's load to the first reply is a window too
        self._changed = False  # whether it ever set a count (else PyTorch's own stands)

    def before_reply(self) -> int:
        now = self._read()
        if now is not None and self._mark is not None:
            chosen = free_threads(self._mark, now, self.limit)
            self.threads = self.threads if chosen is None else chosen
        if self.threads != self.limit or self._changed:
            # set each time: OpenMP keeps the count per thread, and a reply may be
            # computed in another thread than the last (the web page, the server)
            self._set(self.threads)
            self._changed = True
        return self.threads

    def after_reply(self) -> None:
        self._mark = self._read()


_policy: ThreadPolicy | None = None


def process_policy() -> ThreadPolicy:
    """The one policy of this process (PyTorch's thread count is the process's).
    Made when a local model starts to load, so the load is the first reply's window."""
    global _policy
    if _policy is None:
        import torch

        _policy = ThreadPolicy(torch.get_num_threads(), torch.set_num_threads)
    return _policy
