"""The chat-completions request, validated the way OpenAI's API validates it.

Fields minichat does not use (``n`` above 1 excepted, which it refuses) are
accepted and ignored, as clients send many. The decoding parameters are read
by the names ``minichat.settings.params`` gives them (OpenAI's, and minichat's own full
names such as ``top_k`` and ``repetition_penalty``) and checked by
``GenerationConfig``, so the server refuses what the CLI refuses. A few limits
are the server's own, so that no request costs more than a reply could use:
at most ``MAX_MESSAGES`` messages and ``MAX_CHARS_PER_TOKEN`` characters for each
token of the context, checked before anything is tokenized.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from minichat.backend import Message
from minichat.config import GenerationConfig
from minichat.errors import ConfigError
from minichat.settings.params import PARAMS
from minichat.tools.schema import JSON_OBJECT, not_json_schema, schema_problem, schema_problem_of
from minichat.tools.spec import Tool, ToolCall, Tools

MAX_MESSAGES = 2048  # as OpenAI's chat completions
# No tokenizer makes tokens this long on average, so a prompt with more characters
# than this many per token of the context cannot fit: refused without tokenizing it
MAX_CHARS_PER_TOKEN = 32
MAX_STOPS, MAX_STOP_CHARS = 16, 256  # a stop string holds back that much of the reply


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

    def size(self) -> int:
        """The characters of text in the message, its calls' included."""
        text = self.content if isinstance(self.content, str) else ""
        parts = sum(len(str(p.get("text", ""))) for p in self.content or [] if isinstance(p, dict))
        calls = sum(len(c.function.name) + len(c.function.arguments) for c in self.tool_calls or [])
        return len(text) + parts + calls


class FunctionSpec(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


class ToolSpec(BaseModel):
    type: Literal["function"]
    function: FunctionSpec


class StreamOptions(BaseModel):
    include_usage: bool = False


class NamedFunction(BaseModel):
    name: str


class NamedChoice(BaseModel):
    """``tool_choice`` naming one tool: ``{"type": "function", "function": {"name": ...}}``."""

    type: Literal["function"] = "function"
    function: NamedFunction


class JsonSchemaFormat(BaseModel):
    """``response_format.json_schema``: the shape the answer must have."""

    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(default="answer", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    shape: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None  # the grammar holds every answer to the schema: always strict


class ResponseFormat(BaseModel):
    """OpenAI's ``response_format``: ``text``, ``json_object`` (any JSON object) or
    ``json_schema`` (an object in the schema's shape)."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    def answer_schema(self) -> dict[str, Any] | None:
        """The schema answers must follow, or None; ``ParamError`` names what is wrong."""
        if self.type == "text":
            return None
        if self.type == "json_object":
            return JSON_OBJECT
        if self.json_schema is None or self.json_schema.shape is None:
            where = "response_format.json_schema"
            raise ParamError(where, f"{where}: a json_schema response_format needs its schema")
        where = "response_format.json_schema.schema"
        problem = schema_problem_of(self.json_schema.shape)
        if problem:
            raise ParamError(where, f"{where} {problem}")
        return self.json_schema.shape


class ChatRequest(BaseModel):
    """A chat-completions request. The decoding parameters are not fields of their own:
    they come from ``minichat.settings.params``, each by its OpenAI name (``max_tokens``,
    ``max_completion_tokens``) or its full name (``max_new_tokens``, ``top_k``), and are
    checked by ``GenerationConfig``."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: Literal[1] = 1
    tools: list[ToolSpec] | None = None
    tool_choice: NamedChoice | str | None = None
    response_format: ResponseFormat | None = None

    def offered_tools(self) -> Tools | None:
        """The request's tools and the answer's shape as the chat core takes them;
        ``ParamError`` names what is wrong (a schema that is not JSON Schema, a choice
        naming no tool)."""
        tools = self._tools()
        shape = self.response_format.answer_schema() if self.response_format else None
        if shape is None:
            return tools
        return Tools((), "none", shape) if tools is None else replace(tools, schema=shape)

    def _tools(self) -> Tools | None:
        if not self.tools:
            if self.tool_choice not in (None, "none", "auto"):
                raise ParamError("tool_choice", "tool_choice: no tools were given to choose from")
            return None
        tools = []
        for number, spec in enumerate(self.tools):
            where = f"tools.{number}.function.parameters"
            check_schema(spec.function.parameters, where)
            problem = schema_problem(spec.function.parameters)
            if problem:
                raise ParamError(where, f"{where}: {problem}")
            f = spec.function
            tools.append(Tool(f.name, f.description, f.parameters))
        choice = self.tool_choice or "auto"
        if isinstance(choice, NamedChoice):
            choice = choice.function.name
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
        if len(config.stop) > MAX_STOPS or any(len(s) > MAX_STOP_CHARS for s in config.stop):
            raise ParamError(
                "stop",
                f"stop: at most {MAX_STOPS} stop strings of {MAX_STOP_CHARS} characters each",
            )
        return config


def check_room(messages: list[ChatMessage], context_length: int) -> None:
    """Refuse, before tokenizing, more messages' text than the context could hold."""
    limit = context_length * MAX_CHARS_PER_TOKEN
    size = sum(m.size() for m in messages)
    if size > limit:
        raise ParamError(
            "messages",
            f"the messages are {size} characters, more than this model's context of "
            f"{context_length} tokens could hold; shorten them",
        )


class ParamError(ConfigError):
    """A request parameter out of its type or range; ``param`` is the client's name."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


def check_schema(schema: dict[str, Any], where: str) -> None:
    """A tool's parameters must be a JSON Schema (checked by ``jsonschema``, where it is
    installed; the grammar refuses what it cannot follow in any case)."""
    problem = not_json_schema(schema)
    if problem:
        raise ParamError(where, f"{where} {problem}")


class TokenizeRequest(BaseModel):
    """vLLM's /tokenize body for chats (``add_generation_prompt`` is always on here)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings body: one text or a list of texts (token arrays are refused)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None  # the embedder's own size only: it is not Matryoshka-trained

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)
