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


@contextmanager
def first_ctrl_c(request_stop: Callable[[], None]) -> Iterator[None]:
    """Inside the block, the first Ctrl+C calls ``request_stop``; the next raises."""
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

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
