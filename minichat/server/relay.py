"""A reply's generator driven in a worker thread and read from an event loop.

The chat core yields a reply as it is computed and blocks while the model
works; the server awaits in an event loop. ``Relay`` runs the generator to its
end in a thread of its own and hands its items over, as they come, to an async
iterator; then it gives the generator's return value or raises its error. The
work goes on to its end whoever reads it (a client that left sets the reply's
cancel event, so that end is the next token), and ``on_done`` runs in the
thread once it is over: the server frees its model there.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Generator
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
_END = object()  # what the worker puts last


class Relay(Generic[T, R]):
    def __init__(
        self,
        work: Generator[T, None, R],
        on_done: Callable[[], object] | None = None,
        *,
        name: str = "minichat-reply",
    ):
        self._work = work
        self._on_done = on_done
        self._items: queue.Queue[object] = queue.Queue()
        self._result: R | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Relay[T, R]:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._result = yield_to(self._work, self._items.put)
        except BaseException as error:  # handed to the reader by result()
            self._error = error
        finally:
            self._items.put(_END)
            if self._on_done is not None:
                self._on_done()

    async def items(self) -> AsyncIterator[T]:
        """The items as they come, until the work is over; the wait is in a thread."""
        while (item := await asyncio.to_thread(self._items.get)) is not _END:
            yield item  # type: ignore[misc]

    def result(self) -> R:
        """Wait for the work; its return value, or its exception raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


def yield_to(work: Generator[T, None, R], put: Callable[[T], object]) -> R:
    """Run ``work`` to its end, each item to ``put``; its return value."""
    while True:
        try:
            item = next(work)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        put(item)
