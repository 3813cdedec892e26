"""A conversation: the system prompt, the turns so far, and one exchange.

``Conversation.exchange`` is the single path every interface takes for a turn:
add the user's message, fit the prompt to the context (``budget.fit``), stream
the reply to a callback, and keep it. A failure before any reply rolls the
user's message back so the conversation stays as it was; Ctrl+C keeps the
partial reply, marked as cut off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from minichat.backend import ChatBackend, FinishReason, Message, Stats, Stream
from minichat.budget import Fitted, fit
from minichat.config import GenerationConfig


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
                self.prompt(), backend.count_tokens, backend.context_length, config.max_new_tokens
            )
            stream = backend.stream(fitted.messages, config)
            _pump(stream, on_text)
        except BaseException:
            self.messages.pop()
            raise
        assert stream.outcome is not None and stream.stats is not None
        self.messages.append(Message("assistant", stream.text))
        return Exchange(fitted, stream.text, stream.outcome.finish_reason, stream.stats)


def _pump(stream: Stream, on_text: Callable[[str], object] | None) -> None:
    """Feed the stream to ``on_text``; Ctrl+C stops it and keeps what came."""
    try:
        for piece in stream:
            if on_text is not None:
                on_text(piece)
    except KeyboardInterrupt:
        pass  # close() marks the reply cancelled and keeps its text
    finally:
        stream.close()
