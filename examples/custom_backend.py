"""A custom ChatBackend in a few dozen lines: a rule-based bot behind minichat's interface.

Anything that can count tokens and yield text can be a backend; the conversation,
token budgeting, stop sequences and the command line then work with it unchanged.
Run: python examples/custom_backend.py
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from typing import ClassVar

from minichat import ChatBackend, Conversation, GenerationConfig, Message, Outcome

RULES = {"hello": "Hello! What shall we talk about?", "tea": "Green, black or oolong?"}


class RuleBackend(ChatBackend):
    name: ClassVar[str] = "rules"

    def __init__(self) -> None:
        self.model_id = "rules"
        self.context_length = 4096

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(2 + len(m.content.split()) for m in messages) + 1  # one token per word

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        last = messages[-1].content.lower()
        answer = next((text for key, text in RULES.items() if key in last), "Tell me more.")
        words = answer.split(" ")[: config.max_new_tokens]
        for i, word in enumerate(words):
            if cancel.is_set():
                return Outcome("cancelled", self.count_tokens(messages), i)
            yield word if i == 0 else " " + word
        return Outcome("end_turn", self.count_tokens(messages), len(words))


if __name__ == "__main__":
    backend, conversation = RuleBackend(), Conversation(system="Be friendly.")
    for text in ["hello there", "I like tea", "why?"]:
        exchange = conversation.exchange(text, backend, GenerationConfig())
        print(f"> {text}\n{exchange.reply}")
    print(f"{len(conversation.messages)} messages kept")
