"""A conversation: the system prompt, the turns so far, and one turn.

``Conversation.turn`` adds the user's message, fits the prompt to the context
(``turn.fit_turn``: old turns go in chunks and stay out, so the KV cache is
rebuilt only now and then; passages and the tools' description are counted),
yields the reply's events as they come (``chat.events``) and keeps the reply.
A failure before any reply, or a turn its reader closes early, rolls the
user's message back so the conversation stays as it was; a cancelled reply is
kept, marked as cut off.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import Any

from minichat.backend import ChatBackend, Message
from minichat.chat.documents import Documents
from minichat.chat.events import Event, Exchange, OnText, Sources, ToolResult, finish
from minichat.chat.turn import fit_result, fit_turn, half_room, stream_reply
from minichat.config import GenerationConfig
from minichat.prompt.budget import REFILL, Fitted
from minichat.tools.spec import Tools
from minichat.tools.toolbox import Approve, Ran, Toolbox


@dataclass
class Conversation:
    system: str | None = None
    messages: list[Message] = field(default_factory=list)
    left_out: int = 0  # oldest turns no longer sent to the model (kept in the history)

    def prompt(self) -> list[Message]:
        head = [Message("system", self.system)] if self.system else []
        return [*head, *self.messages]

    def turn(
        self,
        text: str,
        backend: ChatBackend,
        config: GenerationConfig,
        *,
        cancel: threading.Event | None = None,
        documents: Documents | None = None,
        tools: Toolbox | None = None,
        approve: Approve | None = None,
        schema: dict[str, Any] | None = None,
    ) -> Generator[Event, None, Exchange]:
        """Send ``text``; yield the reply's events and return the exchange, both kept.
        With ``documents``, the passages found for ``text`` go with it; with ``tools``,
        the model may call them first, in rounds (a call that may change things runs
        only if ``approve`` says yes); with ``schema``, its answer is JSON in that shape."""
        start = len(self.messages)
        self.messages.append(Message("user", text))
        try:
            grounded = fit_turn(
                backend,
                self.prompt(),
                config,
                passages=documents.find(text) if documents is not None else (),
                root=documents.root if documents is not None else None,
                tools=offer(tools, 0, schema),
                skip=self.left_out,
                refill=REFILL,
            )
            if documents is not None:
                self.messages[-1] = asked = grounded.fitted.messages[-1]  # with its passages
                yield Sources(tuple(grounded.sources), asked.sources, grounded.left_out)
            exchange = yield from self.rounds(
                backend, config, grounded.fitted, cancel, tools, approve, schema
            )
        except BaseException:
            del self.messages[start:]
            raise
        if documents is not None:
            exchange = replace(
                exchange,
                sources=grounded.sources,
                sources_left_out=grounded.left_out,
                source_labels=grounded.fitted.messages[-1].sources,
            )
        self.left_out = exchange.fitted.dropped_turns
        self.messages.append(Message("assistant", exchange.reply, cut_off=exchange.cut_off))
        return exchange

    def rounds(
        self,
        backend: ChatBackend,
        config: GenerationConfig,
        fitted: Fitted,
        cancel: threading.Event | None,
        tools: Toolbox | None,
        approve: Approve | None,
        schema: dict[str, Any] | None,
    ) -> Generator[Event, None, Exchange]:
        """The model replies to ``fitted``; while it calls tools, the calls run, their
        results join the conversation and it replies again (the last round offers none).
        Calls to the toolbox's external tools end the rounds: they are the caller's."""
        ran: list[Ran] = []
        for round_number in range(tools.max_rounds + 1 if tools else 1):
            offered = offer(tools, round_number, schema)
            if round_number:  # the calls and their results are part of the prompt now
                fitted = fit_turn(
                    backend, self.prompt(), config, tools=offered, skip=self.left_out, refill=REFILL
                ).fitted
            exchange = yield from stream_reply(backend, fitted, config, cancel, offered)
            if tools is None or exchange.finish_reason != "tool_calls":
                break
            if tools.passes_on(exchange.tool_calls):
                break
            self.messages.append(
                Message("assistant", exchange.reply, tool_calls=exchange.tool_calls)
            )
            for call in exchange.tool_calls:
                done = tools.run(call, approve)
                ran.append(done)
                yield ToolResult(done)
                result = fit_result(backend, done.result, half_room(backend, config))
                self.messages.append(Message("tool", result, tool_call_id=call.id))
        return replace(exchange, tools_ran=ran)

    def exchange(
        self,
        text: str,
        backend: ChatBackend,
        config: GenerationConfig,
        on_text: OnText | None = None,
        **reading: Any,
    ) -> Exchange:
        """``turn`` run to its end, its text to ``on_text`` as it comes (``reading``: the
        keyword arguments ``turn`` takes)."""
        return finish(self.turn(text, backend, config, **reading), on_text)

    def retry(
        self,
        backend: ChatBackend,
        config: GenerationConfig,
        on_text: OnText | None = None,
        **reading: Any,
    ) -> Exchange | None:
        """``again`` run to its end; None when there is nothing to ask again."""
        if self.last_question() is None:
            return None
        return finish(self.again(backend, config, **reading), on_text)

    def last_question(self) -> int | None:
        """The index of the last user message, or None when there is none."""
        return next(
            (i for i in range(len(self.messages) - 1, -1, -1) if self.messages[i].role == "user"),
            None,
        )

    def undo(self) -> bool:
        """Remove the last exchange (the user's message and the reply to it)."""
        last = self.last_question()
        if last is None:
            return False
        del self.messages[last:]
        return True

    def again(
        self,
        backend: ChatBackend,
        config: GenerationConfig,
        *,
        cancel: threading.Event | None = None,
        documents: Documents | None = None,
        tools: Toolbox | None = None,
        approve: Approve | None = None,
        schema: dict[str, Any] | None = None,
    ) -> Generator[Event, None, Exchange | None]:
        """Ask the last question again; the old exchange goes only once a new reply came.
        Returns None when there is nothing to ask again."""
        last = self.last_question()
        if last is None:
            return None
        removed = self.messages[last:]
        del self.messages[last:]
        try:
            return (
                yield from self.turn(
                    removed[0].content,
                    backend,
                    config,
                    cancel=cancel,
                    documents=documents,
                    tools=tools,
                    approve=approve,
                    schema=schema,
                )
            )
        except BaseException:
            self.messages.extend(removed)
            raise


def offer(tools: Toolbox | None, round_number: int, schema: dict[str, Any] | None) -> Tools | None:
    """What a round's reply may do: the toolbox's offer for the round, its answer held
    to ``schema`` (without tools too). With a schema, the round after the calls
    answers: a small model that may call again or write JSON calls again and again."""
    offered = tools.offer(round_number) if tools else None
    if schema is None:
        return offered
    if offered is None:
        return Tools((), "none", schema)
    return replace(offered, schema=schema, choice="none" if round_number else offered.choice)
