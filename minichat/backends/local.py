"""``LocalBackend``: what every backend on the shared engine has in common.

A local backend turns messages into token ids (``encode``), ids into text
(``decode``), and owns a ``TokenModel``; counting tokens, generating through
``minichat.engine`` (which keeps the KV cache of the prefix a new prompt shares
with the last one), describing itself and freeing that cache are the same for
all of them and live here once.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Generator, Sequence
from dataclasses import replace
from typing import Any

from minichat.backend import ChatBackend, Message, Outcome
from minichat.config import GenerationConfig
from minichat.engine import decode as engine
from minichat.engine.decode import generate_text
from minichat.engine.threads import process_policy
from minichat.errors import ConfigError, ModelNotFoundError
from minichat.tools import hermes
from minichat.tools.copying import Copier, Vocabulary
from minichat.tools.grammar import Constraint, llg_tokenizer
from minichat.tools.spec import Tools

DTYPE_NAMES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


class LocalBackend(ChatBackend):
    token_model: Any  # a TokenModel with ``device``, ``dtype`` and a ``cache`` to free
    end_ids: frozenset[int]  # token ids that end the assistant's turn
    extra_stops: tuple[str, ...]  # stop strings the chat format itself needs
    reuse_cache: bool = True  # keep the KV cache of the shared prefix from call to call
    _grammar_tokenizer: Any = None  # llguidance's view of the tokenizer, built once
    _vocabulary: Vocabulary | None = None  # the tokens as text, for Copier

    @abstractmethod
    def encode(self, messages: Sequence[Message]) -> list[int]:
        """The prompt's token ids, formatted with the model's chat template."""

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """Text for ``ids``, special tokens left out."""

    @abstractmethod
    def tokenizer_json(self) -> str:
        """The tokenizer as ``tokenizers`` serialises it (for the tool grammar)."""

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.encode(hermes.history(messages)))

    def encode_with_tools(self, messages: Sequence[Message], tools: Tools) -> list[int]:
        """The prompt with the tools described: in the Hermes format, in the system turn
        (a backend whose template describes tools itself does it its own way)."""
        return self.encode(hermes.prepare(messages, tools))

    def count_tokens_with_tools(self, messages: Sequence[Message], tools: Tools) -> int:
        return len(self.encode_with_tools(messages, tools))

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        prompt = self.encode(hermes.history(messages))
        return (yield from self._generate(prompt, config, cancel))

    def _generate(
        self,
        prompt_ids: list[int],
        config: GenerationConfig,
        cancel: threading.Event,
        constraint: engine.Constraint | None = None,
    ) -> Generator[str, None, Outcome]:
        policy = process_policy() if self.token_model.device.type == "cpu" else None
        if policy is not None:
            policy.before_reply()  # the cores other programs left free (engine.threads)
        try:
            return (
                yield from generate_text(
                    self.token_model,
                    self.decode,
                    prompt_ids,
                    config,
                    end_ids=self.end_ids,
                    cancel=cancel,
                    extra_stops=self.extra_stops,
                    reuse=self.reuse_cache,
                    constraint=constraint,
                )
            )
        finally:
            if policy is not None:
                policy.after_reply()

    def generate_with_tools(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event,
        tools: Tools,
    ) -> Generator[str, None, Outcome]:
        """Tools in the Hermes format (``tools.hermes``), calls forced valid by a grammar
        (``tools.grammar``); the calls' markup never reaches the streamed text."""
        prompt = self.encode_with_tools(messages, tools)
        if tools.choice == "none" and tools.schema is None:  # no grammar, maybe no llguidance
            try:
                copier: Copier | None = self._copier(messages)
            except (ModelNotFoundError, ConfigError):
                copier = None  # copying is a help, not a need: the reply goes on without
            return (yield from self._generate(prompt, config, cancel, copier))
        copier = self._copier(messages)
        constraint = Constraint(self._grammar_tokenizer, tools, copier)
        calls = hermes.CallFilter()
        pieces = self._generate(prompt, config, cancel, constraint)
        try:
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as done:
                    outcome: Outcome = done.value
                    break
                # every piece goes on, an empty one while a call is written: the time
                # of each token is measured as it comes, not all at the call's end
                yield calls.push(piece)
        finally:
            pieces.close()
        if outcome.finish_reason == "cancelled":  # ended where it was cut, nothing more
            return outcome
        found = tuple(hermes.parse_calls(calls.calls_text))
        tail = calls.flush()  # text held back in case it began a call
        if tail:
            yield tail
        if found:
            return replace(outcome, finish_reason="tool_calls", tool_calls=found)
        # a call cut short (the reply limit, a stop string): never its markup as text, but
        # the call as far as it got, under the reply's own finish, for nobody to run
        cut = hermes.cut_call(calls.calls_text) if calls.calls_text else None
        return replace(outcome, tool_calls=(cut,)) if cut else outcome

    def _copier(self, messages: Sequence[Message]) -> Copier:
        """What this reply may copy (``tools.copying``): the user's last message into
        calls, the results of the calls since into the answer's numbers and quotes."""
        if self._grammar_tokenizer is None:
            self._grammar_tokenizer = llg_tokenizer(self.tokenizer_json(), self.end_ids)
        if self._vocabulary is None:
            self._vocabulary = Vocabulary(self._grammar_tokenizer)
        last = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
        asked = messages[last].content if last >= 0 else ""
        results = "\n".join(m.content for m in messages[last + 1 :] if m.role == "tool")
        return Copier(self._vocabulary, asked, results)

    def describe(self) -> str:
        dtype = str(self.token_model.dtype).removeprefix("torch.")
        dtype = DTYPE_NAMES.get(dtype, dtype)  # as --dtype names them
        device = self.token_model.device.type
        if device == "cpu":  # the instruction set that chose the dtype and the kernels
            from minichat import cpu

            device = f"cpu {cpu.isa()}"
        return f"{super().describe()}, {device}, {dtype}"

    def close(self) -> None:
        self.token_model.cache = None
        self.token_model.cached_ids = []
