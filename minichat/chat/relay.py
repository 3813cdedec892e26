"""A turn driven in a worker thread, read as it comes by a page or a server.

The chat core yields a turn's events as the model computes them and blocks
while it works; a web page draws views at its own pace and a server awaits in an
event loop. ``Relay`` runs the generator to its end in a thread of its own and
hands its items over, in batches (all that came since the last read: a page
that draws slower than the model shows more at once, and never holds the model
back) or one by one to an async iterator; then it gives the generator's return
value or raises its error. The work goes on to its end whoever reads it (a
reader that left sets the turn's cancel event, so that end is the next token),
and ``on_done`` runs in the thread once it is over: the server frees its model
there.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator
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

    def batches(self) -> Iterator[list[T]]:
        """The items as they come, all that arrived since the last read, until the work
        is over."""
        ended = False
        while not ended:
            batch = [self._items.get()]
            while True:
                try:
                    batch.append(self._items.get_nowait())
                except queue.Empty:
                    break
            ended = batch[-1] is _END
            items = [item for item in batch if item is not _END]
            if items:
                yield items  # type: ignore[misc]

    def join(self) -> None:
        """Wait for the work to end."""
        self._thread.join()

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
