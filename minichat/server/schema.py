"""The chat-completions request, validated the way OpenAI's API validates it.

Fields minichat does not use (``n`` above 1 excepted, which it refuses) are
accepted and ignored, as clients send many. The decoding parameters are read
by the names ``minichat.params`` gives them (OpenAI's, and minichat's own full
names such as ``top_k`` and ``repetition_penalty``) and checked by
``GenerationConfig``, so the server refuses what the CLI refuses.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from minichat.backend import Message
from minichat.config import GenerationConfig
from minichat.params import PARAMS


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
    """A chat-completions request. The decoding parameters are not fields of their own:
    they come from ``minichat.params``, each by its OpenAI name (``max_tokens``,
    ``max_completion_tokens``) or its full name (``max_new_tokens``, ``top_k``), and are
    checked by ``GenerationConfig``."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: Literal[1] = 1

    def chat_messages(self) -> list[Message]:
        return [m.message() for m in self.messages]

    def generation(self, defaults: GenerationConfig) -> GenerationConfig:
        """The request's parameters over the server's; raises ConfigError when out of range."""
        given = self.model_extra or {}
        values: dict[str, Any] = {}
        for param in PARAMS:
            for name in (*param.api, param.name):
                if given.get(name) is not None:
                    values[param.name] = given[name]
                    break
        if isinstance(values.get("stop"), str):
            values["stop"] = (values["stop"],)
        return defaults.with_values(**values)


class TokenizeRequest(BaseModel):
    """vLLM's /tokenize body for chats (``add_generation_prompt`` is always on here)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
