"""A conversation: the system prompt, the turns so far, and one exchange.

``Conversation.exchange`` adds the user's message, fits the prompt to the
context (``turn.fit_prompt``: old turns go in chunks and stay out, so the KV
cache is rebuilt only now and then), streams the reply (``turn.stream_reply``)
and keeps it. A failure before any reply rolls the user's message back so the
conversation stays as it was; a cancelled reply is kept, marked as cut off.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from minichat.backend import ChatBackend, Message, Tools
from minichat.budget import REFILL, Fitted
from minichat.chat.documents import Documents, Grounded, fit_with_passages
from minichat.chat.tooling import OnTool, Ran, Toolbox, fit_result
from minichat.chat.turn import Exchange, OnText, fit_prompt, stream_reply
from minichat.config import GenerationConfig


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
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
        documents: Documents | None = None,
        tools: Toolbox | None = None,
        on_tool: OnTool | None = None,
    ) -> Exchange:
        """Send ``text`` and stream the reply through ``on_text``; keep both. With
        ``documents``, the passages found for ``text`` go with it; with ``tools``, the
        model may call them first (each call shown through ``on_tool``), in rounds."""
        start = len(self.messages)
        self.messages.append(Message("user", text))
        try:
            offered = tools.offer(0) if tools else None
            fitted, grounded = self._fit(backend, config, documents, text, offered)
            ran: list[Ran] = []
            for round_number in range(tools.max_rounds + 1 if tools else 1):
                offered = tools.offer(round_number) if tools else None
                if round_number:  # the calls and their results are part of the prompt now
                    fitted = fit_prompt(
                        backend,
                        self.prompt(),
                        config,
                        skip=self.left_out,
                        refill=REFILL,
                        tools=offered,
                    )
                exchange = stream_reply(backend, fitted, config, on_text, cancel, offered)
                if tools is None or exchange.finish_reason != "tool_calls":
                    break
                self.messages.append(
                    Message("assistant", exchange.reply, tool_calls=exchange.tool_calls)
                )
                room = (backend.context_length - config.max_new_tokens) // 2
                for call in exchange.tool_calls:
                    done = tools.run(call)
                    ran.append(done)
                    if on_tool is not None:
                        on_tool(done)
                    result = fit_result(backend, done.result, room)
                    self.messages.append(Message("tool", result, tool_call_id=call.id))
        except BaseException:
            del self.messages[start:]
            raise
        if grounded is not None:
            exchange = replace(
                exchange,
                sources=grounded.sources,
                sources_left_out=grounded.left_out,
                source_labels=grounded.fitted.messages[-1].sources,
            )
        exchange = replace(exchange, tools_ran=ran)
        self.left_out = fitted.dropped_turns
        self.messages.append(Message("assistant", exchange.reply, cut_off=exchange.cut_off))
        return exchange

    def _fit(
        self,
        backend: ChatBackend,
        config: GenerationConfig,
        documents: Documents | None,
        text: str,
        tools: Tools | None,
    ) -> tuple[Fitted, Grounded | None]:
        """The prompt for the first round; with documents, the question with its passages."""
        if documents is None:
            fitted = fit_prompt(
                backend, self.prompt(), config, skip=self.left_out, refill=REFILL, tools=tools
            )
            return fitted, None
        grounded = fit_with_passages(
            backend,
            self.prompt(),
            config,
            documents.find(text),
            documents.root,
            skip=self.left_out,
            refill=REFILL,
        )
        self.messages[-1] = grounded.fitted.messages[-1]  # the question with its passages
        return grounded.fitted, grounded

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

    def retry(
        self,
        backend: ChatBackend,
        config: GenerationConfig,
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
        documents: Documents | None = None,
        tools: Toolbox | None = None,
        on_tool: OnTool | None = None,
    ) -> Exchange | None:
        """Ask the last question again; the old exchange goes only once a new reply came.
        Returns None when there is nothing to retry."""
        last = self.last_question()
        if last is None:
            return None
        removed = self.messages[last:]
        del self.messages[last:]
        try:
            return self.exchange(
                removed[0].content, backend, config, on_text, cancel, documents, tools, on_tool
            )
        except BaseException:
            self.messages.extend(removed)
            raise
