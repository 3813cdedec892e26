"""A reply computed in a worker thread and read as it comes, by a page or a server.

The turn code pushes text through a callback and blocks while the model works;
a web page pulls views from a generator and a server awaits in an event loop.
``Relay`` sits between them, once for both: it runs the work in a thread, hands
the text over in batches (all that arrived since the last read) to a plain
iterator or an async one, and then gives the work's result or raises its error.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

from minichat.chat.turn import OnText

T = TypeVar("T")
_DONE = None  # what the worker puts last


class Relay(Generic[T]):
    """Runs ``work(on_text)`` in a thread of its own; ``on_done`` runs in that thread
    once the work is over, however it ended (the server frees its model there)."""

    def __init__(
        self,
        work: Callable[[OnText], T],
        on_done: Callable[[], object] | None = None,
        *,
        name: str = "minichat-reply",
    ):
        self._work = work
        self._on_done = on_done
        self._pieces: queue.Queue[str | None] = queue.Queue()
        self._result: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ended = False

    def start(self) -> Relay[T]:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._result = self._work(self._pieces.put)
        except BaseException as error:  # handed to the reader by result()
            self._error = error
        finally:
            self._pieces.put(_DONE)
            if self._on_done is not None:
                self._on_done()

    def batches(self) -> Iterator[str]:
        """The text as it comes, one batch per read, until the work is over."""
        while not self._ended:
            batch = self._batch(self._pieces.get())
            if batch:
                yield batch

    async def abatches(self) -> AsyncIterator[str]:
        """``batches`` for an event loop: the wait happens in a thread, not the loop."""
        while not self._ended:
            batch = self._batch(await asyncio.to_thread(self._pieces.get))
            if batch:
                yield batch

    def _batch(self, first: str | None) -> str:
        parts, piece = [], first
        while piece is not None:
            parts.append(piece)
            try:
                piece = self._pieces.get_nowait()
            except queue.Empty:
                return "".join(parts)
        self._ended = True
        return "".join(parts)

    def join(self) -> None:
        """Wait for the work to end."""
        self._thread.join()

    def result(self) -> T:
        """Wait for the work; its return value, or its exception raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]
