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
from typing import Any

from minichat.backend import ChatBackend, Message, Outcome
from minichat.config import GenerationConfig
from minichat.engine.decode import generate_text
from minichat.engine.threads import process_policy


class LocalBackend(ChatBackend):
    token_model: Any  # a TokenModel with ``device``, ``dtype`` and a ``cache`` to free
    end_ids: frozenset[int]  # token ids that end the assistant's turn
    extra_stops: tuple[str, ...]  # stop strings the chat format itself needs
    reuse_cache: bool = True  # keep the KV cache of the shared prefix from call to call

    @abstractmethod
    def encode(self, messages: Sequence[Message]) -> list[int]:
        """The prompt's token ids, formatted with the model's chat template."""

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """Text for ``ids``, special tokens left out."""

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.encode(messages))

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        policy = process_policy() if self.token_model.device.type == "cpu" else None
        if policy is not None:
            policy.before_reply()  # the cores other programs left free (engine.threads)
        try:
            return (
                yield from generate_text(
                    self.token_model,
                    self.decode,
                    self.encode(messages),
                    config,
                    end_ids=self.end_ids,
                    cancel=cancel,
                    extra_stops=self.extra_stops,
                    reuse=self.reuse_cache,
                )
            )
        finally:
            if policy is not None:
                policy.after_reply()

    def describe(self) -> str:
        dtype = str(self.token_model.dtype).removeprefix("torch.")
        return f"{super().describe()}, {self.token_model.device.type}, {dtype}"

    def close(self) -> None:
        self.token_model.cache = None
        self.token_model.cached_ids = []
