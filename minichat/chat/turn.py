"""One turn, the same for every surface: fit the prompt, stream the reply, stop on request.

``fit_prompt`` fits the messages to the context (``budget.fit``) or says why they
cannot fit; ``stream_reply`` streams the reply to a callback and returns the
finished ``Exchange``. The chat (``Conversation.exchange``) runs both on its
history; the stateless server runs them on each request's messages. A reply is
stopped by setting its ``cancel`` event, from any thread; in the main thread the
first Ctrl+C does that too (``interrupts.first_ctrl_c``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from minichat.backend import ChatBackend, FinishReason, Message, Stats, Stream, ToolCall, Tools
from minichat.budget import Fitted, fit
from minichat.config import GenerationConfig
from minichat.docs.search import Hit

if TYPE_CHECKING:
    from minichat.chat.tooling import Ran
from minichat.interrupts import first_ctrl_c

OnText = Callable[[str], object]


@dataclass(frozen=True)
class Exchange:
    """One finished turn: what was sent, what came back, how it went."""

    fitted: Fitted
    reply: str
    finish_reason: FinishReason
    stats: Stats
    sources: list[Hit] = field(default_factory=list)  # passages from documents it read
    sources_left_out: int = 0  # passages found but left out to fit the context
    source_labels: tuple[str, ...] = ()  # where those passages are, numbered as the model saw
    tool_calls: tuple[ToolCall, ...] = ()  # the calls this reply asked for (unanswered)
    tools_ran: list[Ran] = field(default_factory=list)  # calls made on the way to the reply

    @property
    def cut_off(self) -> bool:
        return self.finish_reason == "cancelled"


def fit_prompt(
    backend: ChatBackend,
    messages: Sequence[Message],
    config: GenerationConfig,
    *,
    skip: int = 0,
    refill: float = 1.0,
    tools: Tools | None = None,
) -> Fitted:
    """The messages that fit beside the reply (``budget.fit``), counted as the model
    will read them (with ``tools``, their description too); ``PromptTooLongError``
    when even the newest turn does not."""
    count = backend.count_tokens
    if tools is not None and tools.tools:
        count = lambda messages: backend.count_tokens_with_tools(messages, tools)  # noqa: E731
    return fit(
        messages,
        count,
        backend.context_length,
        config.max_new_tokens,
        skip=skip,
        refill=refill,
    )


def stream_reply(
    backend: ChatBackend,
    fitted: Fitted,
    config: GenerationConfig,
    on_text: OnText | None = None,
    cancel: threading.Event | None = None,
    tools: Tools | None = None,
) -> Exchange:
    """Stream the reply to ``fitted`` through ``on_text``; setting ``cancel`` (or Ctrl+C)
    ends it before the next token and keeps what came, marked cancelled. With
    ``tools`` the reply may be calls instead (``Exchange.tool_calls``)."""
    stream = backend.stream(fitted.messages, config, cancel, tools)
    _pump(stream, on_text)
    assert stream.outcome is not None and stream.stats is not None
    outcome = stream.outcome
    return Exchange(
        fitted, stream.text, outcome.finish_reason, stream.stats, tool_calls=outcome.tool_calls
    )


def _pump(stream: Stream, on_text: OnText | None) -> None:
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
