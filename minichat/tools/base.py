"""``ToolFunction``: a tool's schema for the model and the code that runs it.

``run`` takes the arguments the model gave (already parsed from JSON and valid
against the schema when decoding was constrained) and returns the result as
text for the model. A ``ToolError`` says, in words for the model, why it
failed; the chat sends that back as the tool's result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minichat.errors import MinichatError
from minichat.tools.spec import Tool


class ToolError(MinichatError):
    """A tool could not do what was asked; the message goes back to the model."""


@dataclass(frozen=True)
class ToolFunction:
    tool: Tool
    run: Callable[[dict[str, Any]], str]
    changes: bool = False  # it changes something outside the chat: a user approves each call

    @property
    def name(self) -> str:
        return self.tool.name
