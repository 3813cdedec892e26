"""``ChatBackend``: the one interface every user interface talks to.

A backend turns a list of messages into a stream of text pieces. Backends
implement ``generate`` as a plain generator that yields text and returns an
``Outcome`` (why it stopped, how many tokens); callers use ``stream``, which
wraps that generator in a ``Stream``: iterate it for the text, then read
``finish_reason`` and ``stats``. Closing or cancelling a ``Stream`` stops
generation before the next token.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from minichat.config import GenerationConfig
from minichat.errors import ConfigError
from minichat.tools.spec import ToolCall, Tools

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "end_turn", "length", "cancelled", "tool_calls"]
"""Why a reply ended: a stop sequence, the model's end of turn, ``max_new_tokens``,
the caller cancelled it, or it asked for tools to be called."""


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    cut_off: bool = False  # a reply stopped part-way (Ctrl+C); kept, and shown as such
    # passages from the user's documents the model read before this message (``docs``);
    # kept with it, so later turns send the same prompt and the KV cache stays valid
    context: str | None = None
    sources: tuple[str, ...] = ()  # where those passages are: "[1] notes.md:3-9", ...
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant message's calls
    tool_call_id: str | None = None  # a tool message: the call it answers

    @property
    def prompt_text(self) -> str:
        """What the model reads: the passages, then the message."""
        return f"{self.context}\n{self.content}" if self.context else self.content

    def to_dict(self) -> dict[str, Any]:
        """OpenAI's shape, as chat templates and servers take it."""
        data: dict[str, Any] = {"role": self.role, "content": self.prompt_text}
        if self.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        return data


@dataclass(frozen=True)
class Outcome:
    """What a backend's ``generate`` returns when it is done."""

    finish_reason: FinishReason
    prompt_tokens: int
    new_tokens: int
    cached_tokens: int = 0  # prompt tokens whose keys and values came from the KV cache
    tool_calls: tuple[ToolCall, ...] = ()  # with finish_reason "tool_calls"


@dataclass(frozen=True)
class Stats:
    """Measured by ``Stream`` around the backend's generator."""

    prompt_tokens: int
    new_tokens: int
    time_to_first_token: float | None  # seconds from the call to the first text
    total_seconds: float
    cached_tokens: int = 0  # prompt tokens reused from the previous call's KV cache

    @property
    def prefilled_tokens(self) -> int:
        """Prompt tokens computed for this reply: those not reused from the cache."""
        return self.prompt_tokens - self.cached_tokens

    @property
    def tokens_per_second(self) -> float | None:
        """Decode speed: tokens after the first, over the time after the first."""
        if self.time_to_first_token is None or self.new_tokens < 2:
            return None
        decode_time = self.total_seconds - self.time_to_first_token
        return (self.new_tokens - 1) / decode_time if decode_time > 0 else None


class Stream(Iterator[str]):
    """The text of one reply as it is generated, then its outcome."""

    def __init__(self, pieces: Generator[str, None, Outcome | None], cancel: threading.Event):
        self._pieces = pieces
        self._cancel = cancel
        self._start = time.perf_counter()
        self._first: float | None = None
        self._parts: list[str] = []
        self.outcome: Outcome | None = None
        self.stats: Stats | None = None

    def __next__(self) -> str:
        if self.outcome is not None:
            raise StopIteration
        try:
            piece = next(self._pieces)
        except StopIteration as done:
            outcome = done.value
            if outcome is None:  # a backend that returns nothing ended its turn
                outcome = Outcome("end_turn", 0, len(self._parts))
            self._finish(outcome)
            raise
        if self._first is None:
            self._first = time.perf_counter() - self._start
        self._parts.append(piece)
        return piece

    def cancel(self) -> None:
        """Ask the backend to stop before its next token (safe from a signal handler)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def close(self) -> None:
        """Stop now; what was generated so far stays in ``text``.

        The backend is asked to stop and given one step to return its outcome
        (with its token counts); one that ignores the request is closed hard.
        """
        if self.outcome is not None:
            return
        self._cancel.set()
        if not self._parts:
            self._pieces.close()  # never started, or nothing came yet: do not run it now
            self._finish(Outcome("cancelled", 0, 0))
            return
        outcome: Outcome | None = None
        try:
            next(self._pieces)
        except StopIteration as done:
            outcome = done.value
        finally:
            self._pieces.close()
        if outcome is None or outcome.finish_reason != "cancelled":
            outcome = Outcome(
                "cancelled",
                outcome.prompt_tokens if outcome else 0,
                len(self._parts),
                outcome.cached_tokens if outcome else 0,
            )
        self._finish(outcome)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def finish_reason(self) -> FinishReason | None:
        return self.outcome.finish_reason if self.outcome else None

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return self.outcome.tool_calls if self.outcome else ()

    def _finish(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.stats = Stats(
            prompt_tokens=outcome.prompt_tokens,
            new_tokens=outcome.new_tokens,
            time_to_first_token=self._first,
            total_seconds=time.perf_counter() - self._start,
            cached_tokens=outcome.cached_tokens,
        )


class ChatBackend(ABC):
    """A chat model: formats messages, counts their tokens, streams replies."""

    name: ClassVar[str]  # the kind of backend, e.g. "hf" or "echo"
    model_id: str  # the model this instance serves, as the user named it
    context_length: int  # prompt tokens + reply tokens may not exceed this
    adapter: str | None = None  # the LoRA adapter merged into a local model's weights

    @abstractmethod
    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Exactly how many tokens ``messages`` take as this backend formats them,
        including the prompt that opens the assistant's reply."""

    @abstractmethod
    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome | None]:
        """Yield the reply's text piece by piece; stop once ``cancel`` is set."""

    def generate_with_tools(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event,
        tools: Tools,
    ) -> Generator[str, None, Outcome | None]:
        """As ``generate``, offering ``tools``: the reply's ``Outcome`` carries the calls
        the model made. Backends that can call tools override this."""
        raise self.no_tools()

    def no_tools(self) -> ConfigError:
        """The one wording for tools asked of a backend that cannot call them."""
        return ConfigError(
            f"{self.model_id} ({self.name}) cannot call tools; use a local model "
            "(smollm2, tiny:..., hf:...)"
        )

    def count_tokens_with_tools(self, messages: Sequence[Message], tools: Tools) -> int:
        """``count_tokens`` for a prompt that also describes ``tools`` (as the backend
        describes them); a backend that calls tools counts this exactly."""
        described = json.dumps([tool.to_dict() for tool in tools.tools] + [tools.schema or {}])
        return self.count_tokens([Message("system", described), *messages])

    @property
    def supports_tools(self) -> bool:
        return type(self).generate_with_tools is not ChatBackend.generate_with_tools

    def stream(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event | None = None,
        tools: Tools | None = None,
    ) -> Stream:
        """The reply as a ``Stream``; setting ``cancel`` (from any thread, even before the
        first token) stops it, as ``Stream.cancel`` does. With ``tools`` the model may
        call them (``Stream.tool_calls``)."""
        cancel = threading.Event() if cancel is None else cancel
        if tools is None or not tools.shaped:
            return Stream(self.generate(messages, config, cancel), cancel)
        pieces = self.generate_with_tools(messages, config, cancel, tools)
        return Stream(pieces, cancel)

    def describe(self) -> str:
        adapter = f", adapter {self.adapter}" if self.adapter else ""
        return f"{self.model_id} ({self.name}, context {self.context_length}{adapter})"

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Free what the backend holds (weights, connections)."""
