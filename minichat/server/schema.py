"""The chat-completions request, validated the way OpenAI's API validates it.

Fields minichat does not use (``n`` above 1 excepted, which it refuses) are
accepted and ignored, as clients send many; ``top_k`` and
``repetition_penalty`` are minichat's extras. Values are checked again by
``GenerationConfig``, so the server refuses what the CLI refuses.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from minichat.backend import Message
from minichat.config import GenerationConfig


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[dict[str, Any]]

    def message(self) -> Message:
        role = "system" if self.role == "developer" else self.role
        if isinstance(self.content, str):
            return Message(role, self.content)
        return Message(role, "".join(str(p.get("text", "")) for p in self.content))  # text only


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    n: Literal[1] = 1
    top_k: int | None = None  # minichat's extra
    repetition_penalty: float | None = None  # minichat's extra

    def chat_messages(self) -> list[Message]:
        return [m.message() for m in self.messages]

    def generation(self, defaults: GenerationConfig) -> GenerationConfig:
        """The request's parameters over the server's; raises ConfigError when out of range."""
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        values = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_completion_tokens or self.max_tokens,
            "stop": tuple(stop) if stop is not None else None,
            "seed": self.seed,
            "top_k": self.top_k,
            "repetition_penalty": self.repetition_penalty,
        }
        return defaults.with_values(**{k: v for k, v in values.items() if v is not None})


class TokenizeRequest(BaseModel):
    """vLLM's /tokenize body for chats (``add_generation_prompt`` is always on here)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
