"""What a turn yields, in order, for every surface to show, send or keep.

A turn is an iterator of events: ``Sources`` first when documents were read, then
the reply's ``Text`` as it is generated, a ``ToolResult`` for each call the model
made (its text stops, the call runs, the next round's text follows), ``Notice``
for what the user must be told (turns left out to fit the context, passages left
out, a call the reply limit cut), and ``Done`` last, with the finished
``Exchange``. The REPL and one-shot print them, the web page and the server
translate them, a test asserts on them; nothing else carries a turn's output.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from minichat.backend import FinishReason, Stats
from minichat.prompt.budget import Fitted
from minichat.retrieval.search import Hit
from minichat.tools.spec import ToolCall
from minichat.tools.toolbox import Ran


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


@dataclass(frozen=True)
class Text:
    """A piece of the reply, as the model wrote it."""

    text: str


@dataclass(frozen=True)
class Sources:
    """The passages the model reads with the question, numbered as it sees them."""

    hits: tuple[Hit, ...]
    labels: tuple[str, ...]
    left_out: int  # passages found but left out to fit the context


@dataclass(frozen=True)
class ToolResult:
    """A call the model made, run (or refused), with its result."""

    ran: Ran


@dataclass(frozen=True)
class Notice:
    """Something the user must be told beside the reply; a warning when it went wrong."""

    text: str
    warning: bool = False


@dataclass(frozen=True)
class Done:
    """The turn is over: the reply, why it ended, its numbers."""

    exchange: Exchange


Event = Text | Sources | ToolResult | Notice | Done
OnText = Callable[[str], object]


def finish(
    events: Generator[Event, None, Any],
    on_text: OnText | None = None,
    on_event: Callable[[Event], object] | None = None,
) -> Exchange:
    """Run a turn to its end: each piece of text to ``on_text``, every other event to
    ``on_event``; the finished exchange (``Done``'s, or what the turn returns)."""
    done: list[Exchange] = []

    def take(event: Event) -> None:
        if isinstance(event, Done):
            done.append(event.exchange)
        elif isinstance(event, Text):
            if on_text is not None:
                on_text(event.text)
        elif on_event is not None:
            on_event(event)

    returned = read(events, take)
    if done:
        return done[0]
    if isinstance(returned, Exchange):
        return returned
    raise AssertionError("a turn ends with Done or an exchange, or raises")


def read(events: Generator[Event, None, Any], show: Callable[[Event], object]) -> Any:
    """Hand each event to ``show``; what the turn returns. Ctrl+C while the reply's text
    is shown goes into the turn, as if pressed while the model worked: the reply stops
    there and is kept, cut off (pressed while a call's result is shown, it ends the
    turn; once the reply is kept, it is the caller's)."""
    interrupted = False
    while True:
        try:
            event = events.throw(KeyboardInterrupt()) if interrupted else next(events)
        except StopIteration as end:
            return end.value
        interrupted = False
        try:
            show(event)
        except KeyboardInterrupt:
            if isinstance(event, (Notice, Done)):
                raise
            interrupted = True
