"""One turn, the same for every surface: fit the prompt, stream the reply, stop on request.

``fit_turn`` fits the messages to the context (``budget.fit``), counted as the
model will read them: with the tools' description when tools are offered, and
with the passages found for the question put before it, whole passages left
out, weakest first, until it fits (they never take more than half the room); or
it says why they cannot fit. ``stream_reply`` yields the reply's text as it
comes and returns the finished ``Exchange``. The chat (``Conversation.turn``)
runs both on its history; the stateless server runs them on each request's
messages. A reply is stopped by setting its ``cancel`` event, from any thread;
in the main thread the first Ctrl+C does that too (``interrupts.first_ctrl_c``).
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from minichat.backend import ChatBackend, Message
from minichat.chat.events import Exchange, Text
from minichat.config import GenerationConfig
from minichat.errors import PromptTooLongError
from minichat.prompt.budget import Fitted, fit
from minichat.retrieval import context
from minichat.retrieval.search import Hit
from minichat.safety.interrupts import first_ctrl_c
from minichat.tools.spec import Tools


@dataclass(frozen=True)
class Fit:
    """A fitted prompt, with the passages that went with its question."""

    fitted: Fitted
    sources: list[Hit] = field(default_factory=list)  # the passages the model reads
    left_out: int = 0  # passages found but left out to fit the context


def half_room(backend: ChatBackend, config: GenerationConfig) -> int:
    """The most tokens passages, or one tool result, may take: half of what the reply
    leaves, so the question and the turns before it always keep the other half."""
    return (backend.context_length - config.max_new_tokens) // 2


def fit_result(backend: ChatBackend, result: str, room: int) -> str:
    """A tool's result cut to ``room`` tokens (``half_room``), saying so: a long file
    must not push the question out of the context, nor end the chat."""
    if backend.count_tokens([Message("user", result)]) <= room:
        return result
    low, high = 0, len(result)
    while low < high:  # the longest start of the result that fits
        middle = (low + high + 1) // 2
        if backend.count_tokens([Message("user", result[:middle])]) <= room:
            low = middle
        else:
            high = middle - 1
    return f"{result[:low]}\n[cut to fit the context: {low} of {len(result)} characters]"


def fit_turn(
    backend: ChatBackend,
    messages: Sequence[Message],
    config: GenerationConfig,
    *,
    passages: Sequence[Hit] = (),
    root: Path | None = None,
    tools: Tools | None = None,
    skip: int = 0,
    refill: float = 1.0,
) -> Fit:
    """The messages that fit beside the reply, with as many of ``passages`` (best first)
    as fit before the last message, the question; ``PromptTooLongError`` when even the
    newest turn does not fit, without a passage."""
    if not passages:
        return Fit(_fit(backend, messages, config, tools, skip, refill))
    *earlier, question = messages
    for n in range(len(passages), -1, -1):
        text = context.render(passages[:n], root) or None
        if text is not None and backend.count_tokens([Message("user", text)]) > half_room(
            backend, config
        ):
            continue
        labels = tuple(context.label(i, hit, root) for i, hit in enumerate(passages[:n], 1))
        asked = replace(question, context=text, sources=labels)
        try:
            fitted = _fit(backend, [*earlier, asked], config, tools, skip, refill)
        except PromptTooLongError:
            if n == 0:
                raise
            continue
        return Fit(fitted, list(passages[:n]), len(passages) - n)
    raise AssertionError("the loop returns or raises at n == 0")


def _fit(
    backend: ChatBackend,
    messages: Sequence[Message],
    config: GenerationConfig,
    tools: Tools | None,
    skip: int,
    refill: float,
) -> Fitted:
    count = backend.count_tokens
    if tools is not None and tools.shaped:
        count = lambda messages: backend.count_tokens_with_tools(messages, tools)  # noqa: E731
    return fit(
        messages, count, backend.context_length, config.max_new_tokens, skip=skip, refill=refill
    )


def stream_reply(
    backend: ChatBackend,
    fitted: Fitted,
    config: GenerationConfig,
    cancel: threading.Event | None = None,
    tools: Tools | None = None,
) -> Generator[Text, None, Exchange]:
    """Yield the reply to ``fitted`` as it comes (``Text`` events); setting ``cancel``
    (or Ctrl+C) ends it before the next token and keeps what came, marked cancelled.
    With ``tools`` the reply may be calls instead (``Exchange.tool_calls``).

    In the main thread the first Ctrl+C only asks the backend to stop, so the model
    finishes the token it is computing and the reply ends cleanly with its counts; a
    second Ctrl+C interrupts at once."""
    stream = backend.stream(fitted.messages, config, cancel, tools)
    with first_ctrl_c(stream.cancel):
        try:
            for piece in stream:
                yield Text(piece)
        except KeyboardInterrupt:
            pass  # close() marks the reply cancelled and keeps its text
        finally:
            stream.close()
    assert stream.outcome is not None and stream.stats is not None
    outcome = stream.outcome
    return Exchange(
        fitted, stream.text, outcome.finish_reason, stream.stats, tool_calls=outcome.tool_calls
    )
