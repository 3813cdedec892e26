"""What a tool is to a model, in OpenAI's shapes: a ``Tool`` it may call, a ``ToolCall``
it made, and the ``Tools`` a reply is offered with how it may use them.

Every backend takes these (``ChatBackend.generate_with_tools``) and a message
carries its calls, so they import nothing of minichat's but its errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minichat.errors import ConfigError


@dataclass(frozen=True)
class Tool:
    """A function a model may call: OpenAI's ``{"type": "function", "function": ...}``."""

    name: str
    description: str
    parameters: dict[str, Any]  # the JSON Schema of its arguments (an object)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True)
class ToolCall:
    """A model's request to call a tool; ``arguments`` is JSON text, as OpenAI sends it."""

    id: str
    name: str
    arguments: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class Tools:
    """The tools a reply may call, and how: ``auto`` (the model decides), ``required``
    (at least one call), ``none`` (no call), or one tool's name (that call); and the
    JSON Schema an answer in words must follow instead (``schema``; None: free text),
    with or without tools."""

    tools: tuple[Tool, ...]
    choice: str = "auto"
    schema: dict[str, Any] | None = None

    @property
    def shaped(self) -> bool:
        """Whether a reply is held to anything: tools offered or an answer's schema."""
        return bool(self.tools) or self.schema is not None

    def __post_init__(self) -> None:
        names = [t.name for t in self.tools]
        if self.choice not in ("auto", "required", "none", *names):
            raise ConfigError(
                f"tool_choice must be auto, required, none or a tool's name "
                f"({', '.join(names) or 'no tools given'}), got {self.choice!r}"
            )
        if len(set(names)) != len(names):
            raise ConfigError(f"two tools share a name: {', '.join(names)}")

    def named(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.name == name), None)
