"""``EchoBackend``: a deterministic backend with no model and no torch.

It answers with the last user message, one word per token, and honours
``max_new_tokens``, stop sequences and cancellation through the same code as
the real engine, so the user interfaces and their tests run in milliseconds.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Generator, Sequence
from typing import ClassVar

from minichat.backend import ChatBackend, FinishReason, Message, Outcome
from minichat.config import GenerationConfig
from minichat.engine.stops import StopMatcher
from minichat.prompt.budget import ensure_fits

TOKENS_PER_MESSAGE = 4  # what a chat template adds around each message
_WORD = re.compile(r"\s*\S+|\s+")


def tokenize(text: str) -> list[str]:
    """Words with their leading white space: joined back they give ``text``."""
    return _WORD.findall(text)


class EchoBackend(ChatBackend):
    name: ClassVar[str] = "echo"

    def __init__(self, model_id: str = "echo", context_length: int = 4096):
        self.model_id = model_id
        self.context_length = context_length

    def count_tokens(self, messages: Sequence[Message]) -> int:
        body = sum(TOKENS_PER_MESSAGE + len(tokenize(m.prompt_text)) for m in messages)
        return body + TOKENS_PER_MESSAGE  # the opening of the assistant's turn

    def reply_to(self, messages: Sequence[Message]) -> str:
        last = next((m.prompt_text for m in reversed(messages) if m.role == "user"), "")
        return f"You said: {last}"

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        prompt_tokens = self.count_tokens(messages)
        ensure_fits(prompt_tokens, config.max_new_tokens, self.context_length)
        stops = StopMatcher(config.stop)
        reason: FinishReason = "end_turn"
        new_tokens = 0
        for word in tokenize(self.reply_to(messages)):
            if cancel.is_set():
                return Outcome("cancelled", prompt_tokens, new_tokens)
            if new_tokens == config.max_new_tokens:
                reason = "length"
                break
            new_tokens += 1
            text = stops.push(word)
            if text:
                yield text
            if stops.stopped:
                return Outcome("stop", prompt_tokens, new_tokens)
        tail = stops.flush()
        if tail:
            yield tail
        return Outcome(reason, prompt_tokens, new_tokens)
