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

from minichat.backend import Message, Tool, ToolCall, Tools
from minichat.config import GenerationConfig
from minichat.errors import ConfigError
from minichat.params import PARAMS


class FunctionCall(BaseModel):
    name: str
    arguments: str


class ToolCallSpec(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCallSpec] | None = None  # an assistant message's calls
    tool_call_id: str | None = None  # a tool message: the call it answers

    def message(self) -> Message:
        role = "system" if self.role == "developer" else self.role
        if self.content is None or isinstance(self.content, str):
            text = self.content or ""
        else:
            text = "".join(str(p.get("text", "")) for p in self.content)  # text only
        calls = tuple(
            ToolCall(c.id, c.function.name, c.function.arguments) for c in self.tool_calls or []
        )
        return Message(role, text, tool_calls=calls, tool_call_id=self.tool_call_id)


class FunctionSpec(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


class ToolSpec(BaseModel):
    type: Literal["function"]
    function: FunctionSpec


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
    tools: list[ToolSpec] | None = None
    tool_choice: str | dict[str, Any] | None = None

    def offered_tools(self) -> Tools | None:
        """The request's tools as the chat core takes them; ``ParamError`` names what is
        wrong (a schema that is not JSON Schema, a choice naming no tool)."""
        if not self.tools:
            if self.tool_choice not in (None, "none", "auto"):
                raise ParamError("tool_choice", "tool_choice: no tools were given to choose from")
            return None
        tools = []
        for number, spec in enumerate(self.tools):
            check_schema(spec.function.parameters, f"tools[{number}].function.parameters")
            f = spec.function
            tools.append(Tool(f.name, f.description, f.parameters))
        choice = self.tool_choice or "auto"
        if isinstance(choice, dict):
            choice = str((choice.get("function") or {}).get("name", ""))
        try:
            return Tools(tuple(tools), choice)
        except ConfigError as error:
            raise ParamError("tool_choice", str(error)) from None

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


def check_schema(schema: dict[str, Any], where: str) -> None:
    """A tool's parameters must be a JSON Schema (checked by ``jsonschema``, where it is
    installed; the grammar refuses what it cannot follow in any case)."""
    try:
        import jsonschema
    except ImportError:
        return
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ParamError(where, f"{where} is not a JSON Schema: {error.message}") from None


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
