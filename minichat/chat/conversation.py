"""A conversation: the system prompt, the turns so far, and one exchange.

``Conversation.exchange`` is the single path every interface takes for a turn:
add the user's message, fit the prompt to the context (``budget.fit``, which
drops old turns in chunks and remembers how many are out), stream
the reply to a callback, and keep it. A failure before any reply rolls the
user's message back so the conversation stays as it was; Ctrl+C keeps the
partial reply, marked as cut off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from minichat.backend import ChatBackend, FinishReason, Message, Stats, Stream
from minichat.budget import REFILL, Fitted, fit
from minichat.config import GenerationConfig
from minichat.interrupts import first_ctrl_c


@dataclass(frozen=True)
class Exchange:
    """One finished turn: what was sent, what came back, how it went."""

    fitted: Fitted
    reply: str
    finish_reason: FinishReason
    stats: Stats

    @property
    def cut_off(self) -> bool:
        return self.finish_reason == "cancelled"


@dataclass
class Conversation:
    system: str | None = None
    messages: list[Message] = field(default_factory=list)
    left_out: int = 0  # oldest turns no longer sent to the model (kept in the history)

    def prompt(self) -> list[Message]:
        head = [Message("system", self.system)] if self.system else []
        return [*head, *self.messages]

    def exchange(
        self,
        text: str,
        backend: ChatBackend,
        config: GenerationConfig,
        on_text: Callable[[str], object] | None = None,
    ) -> Exchange:
        """Send ``text`` and stream the reply through ``on_text``; keep both."""
        self.messages.append(Message("user", text))
        try:
            fitted = fit(
                self.prompt(),
                backend.count_tokens,
                backend.context_length,
                config.max_new_tokens,
                skip=self.left_out,
                refill=REFILL,
            )
            stream = backend.stream(fitted.messages, config)
            _pump(stream, on_text)
        except BaseException:
            self.messages.pop()
            raise
        assert stream.outcome is not None and stream.stats is not None
        cut_off = stream.outcome.finish_reason == "cancelled"
        self.left_out = fitted.dropped_turns
        self.messages.append(Message("assistant", stream.text, cut_off=cut_off))
        return Exchange(fitted, stream.text, stream.outcome.finish_reason, stream.stats)

    def undo(self) -> bool:
        """Remove the last exchange (the user's message and the reply to it)."""
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index].role == "user":
                del self.messages[index:]
                return True
        return False

    def retry(
        self,
        backend: ChatBackend,
        config: GenerationConfig,
        on_text: Callable[[str], object] | None = None,
    ) -> Exchange | None:
        """Ask the last question again; the old exchange goes only once a new reply came.
        Returns None when there is nothing to retry."""
        last = next(
            (i for i in range(len(self.messages) - 1, -1, -1) if self.messages[i].role == "user"),
            None,
        )
        if last is None:
            return None
        removed = self.messages[last:]
        del self.messages[last:]
        try:
            return self.exchange(removed[0].content, backend, config, on_text)
        except BaseException:
            self.messages.extend(removed)
            raise


def _pump(stream: Stream, on_text: Callable[[str], object] | None) -> None:
    """Feed the stream to ``on_text``; Ctrl+C stops it and keeps what came.

    In the main thread the first Ctrl+C only asks the backend to stop, so the
    model finishes the token it is computing and the reply ends cleanly with its
    counts; a second Ctrl+C interrupts at once.
    """
    with first_ctrl_c(stream.cancel):
        try:
            for piece in stream:
                if on_text is not None:
                    on_text(piece)
        except KeyboardInterrupt:
            pass  # close() marks the reply cancelled and keeps its text
        finally:
            stream.close()
