"""Ctrl+C as a polite request: the first press asks the work to stop at a safe
point (between two tokens, between two training steps); a second press
interrupts at once. Outside the main thread signals cannot be caught, so there
Ctrl+C keeps its usual meaning.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_active: list[Callable[[int, object], None]] = []  # the blocks inside, innermost last
_before: list[Any] = []  # the handler in place before the first of them


@contextmanager
def first_ctrl_c(request_stop: Callable[[], None]) -> Iterator[None]:
    """Inside the block, the first Ctrl+C calls ``request_stop``; the next raises. Blocks
    may overlap (two replies read in turns): each one's end hands Ctrl+C to the newest
    block still open, and the last one's to the handler there was before."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal pressed
        if pressed:
            raise KeyboardInterrupt
        pressed = True
        request_stop()

    if not _active:
        _before[:] = [signal.getsignal(signal.SIGINT)]
    _active.append(on_sigint)
    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        _active.remove(on_sigint)
        signal.signal(signal.SIGINT, _active[-1] if _active else _before.pop())
