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
from minichat.errors import ConfigError
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
        """The request's parameters over the server's; a bad one raises ``ParamError``
        naming the field as the client spelled it."""
        given = self.model_extra or {}
        config = defaults
        for param in PARAMS:
            name = next((n for n in (*param.api, param.name) if given.get(n) is not None), None)
            if name is None:
                continue
            try:
                value = param.accept(given[name])  # 4.0 for 4, "5", one stop string
                config = config.with_values(**{param.name: value})
            except ConfigError as error:
                raise ParamError(name, f"{name}: {error}") from None
        return config


class ParamError(ConfigError):
    """A request parameter out of its type or range; ``param`` is the client's name."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


class TokenizeRequest(BaseModel):
    """vLLM's /tokenize body for chats (``add_generation_prompt`` is always on here)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings body: one text or a list of texts (token arrays are refused)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)
