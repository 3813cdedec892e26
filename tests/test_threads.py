"""Threads that adapt: a reply uses the cores other programs leave free."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minichat.engine.threads import CpuSample, ThreadPolicy, free_threads, sample


def at(t: float, busy: float, own: float = 0.0) -> CpuSample:
    return CpuSample(t, busy, own)


@pytest.mark.parametrize(
    ("others", "limit", "threads"),
    [(0.0, 2, 2), (1.0, 2, 1), (2.0, 2, 1), (0.9, 4, 3), (2.6, 4, 1), (0.3, 4, 4)],
)
def test_the_cores_left_free(others: float, limit: int, threads: int) -> None:
    # one second in which this process used 1.5 CPU seconds and the others `others`
    assert free_threads(at(0, 0, 0), at(1, 1.5 + others, 1.5), limit) == threads


def test_a_short_window_keeps_the_last_choice() -> None:
    assert free_threads(at(0, 0), at(0.01, 0.02), 2) is None
    readings = iter([at(0, 0), at(1, 1.0), at(1.0, 1.0), at(1.01, 1.02)])
    chosen: list[int] = []
    policy = ThreadPolicy(2, chosen.append, lambda: next(readings))
    assert policy.before_reply() == 1 and chosen == [1]  # one core was busy meanwhile
    policy.after_reply()
    assert policy.before_reply() == 1 and chosen == [1, 1]  # 10 ms say nothing: kept


def test_without_proc_stat_the_threads_stay() -> None:
    chosen: list[int] = []
    policy = ThreadPolicy(2, chosen.append, lambda: None)
    assert policy.before_reply() == 2 and chosen == []


@pytest.mark.skipif(
    sample() is None or (os.cpu_count() or 1) < 2, reason="needs /proc/stat and 2 cores"
)
def test_a_busy_program_beside_it_takes_a_thread_away() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start
        chosen: list[int] = []
        limit = os.cpu_count() or 2
        policy = ThreadPolicy(limit, chosen.append)
        time.sleep(0.5)
        assert policy.before_reply() < limit
    finally:
        busy.kill()
        busy.wait()


@pytest.mark.skipif(
    sample() is None or (os.cpu_count() or 1) < 2, reason="needs /proc/stat and 2 cores"
)
def test_work_at_the_lowest_priority_is_not_counted() -> None:
    """minichat's own compiled-step builder runs at nice 19: it yields, so it counts as free."""
    limit = os.cpu_count() or 2
    quiet = ThreadPolicy(limit, lambda _: None)
    time.sleep(0.5)
    if quiet.before_reply() < limit:  # this test reads the real CPU: it needs it to itself
        pytest.skip("other programs are using the CPU now")
    busy = subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        limit = os.cpu_count() or 2
        policy = ThreadPolicy(limit, lambda _: None)
        time.sleep(0.5)
        assert policy.before_reply() == limit
    finally:
        busy.kill()
        busy.wait()


def test_a_local_backend_asks_the_policy_before_each_reply(
    tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from minichat import GenerationConfig, Message, load_backend

    # the others used one core's worth between the load and the reply
    readings = iter([at(0, 0), *(at(t, 3.0 * t) for t in range(1, 50))])
    seen: list[int] = []
    policy = ThreadPolicy(2, seen.append, lambda: next(readings))
    monkeypatch.setattr("minichat.engine.threads._policy", policy)
    backend = load_backend(f"tiny:{tiny_checkpoint}", device="cpu")
    before = torch.get_num_threads()
    "".join(backend.stream([Message("user", "hi")], GenerationConfig(max_new_tokens=4)))
    assert seen == [1] and policy.threads == 1
    assert torch.get_num_threads() == before  # the fake setter touched nothing real
