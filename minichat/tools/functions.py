"""``--functions FILE.py``: a user's own Python functions as tools.

Each public function the file defines becomes a tool: its name, the first
paragraph of its docstring as the description, and a JSON Schema made from its
signature (``str``, ``int``, ``float``, ``bool``, lists, dicts, ``Literal`` choices;
a parameter with a default is optional; one without an annotation is text). A
function's result is turned into text for the model. minichat cannot know what
a user's function changes, so each call asks for approval (``--yes`` skips it).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minichat.backend import Tool
from minichat.errors import ConfigError
from minichat.tools.base import ToolError, ToolFunction

SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object"}


def load_functions(path: Path) -> list[ToolFunction]:
    """The public functions ``path`` defines, as tools; ``ConfigError`` in one line when
    the file is missing, does not import, or defines none."""
    if not path.is_file():
        raise ConfigError(f"--functions: no file at {path}")
    name = f"minichat_functions_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"--functions: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # whatever the user's file raises, said in one line
        raise ConfigError(
            f"--functions: {path} does not import ({type(error).__name__}: {error})"
        ) from None
    sys.modules[name] = module
    found = [
        function
        for attribute, function in vars(module).items()
        if isinstance(function, types.FunctionType)
        and function.__module__ == name
        and not attribute.startswith("_")
    ]
    if not found:
        raise ConfigError(f"--functions: {path} defines no public function")
    return [as_tool(function) for function in found]


def as_tool(function: Callable[..., Any]) -> ToolFunction:
    signature = inspect.signature(function)
    hints = typing.get_type_hints(function)
    properties: dict[str, Any] = {}
    required = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        properties[parameter.name] = schema_of(hints.get(parameter.name, str))
        if parameter.default is parameter.empty:
            required.append(parameter.name)
    schema = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    doc = inspect.getdoc(function) or function.__name__
    description = doc.split("\n\n")[0].replace("\n", " ")

    def run(arguments: dict[str, Any]) -> str:
        try:
            result = function(**arguments)
        except TypeError as error:  # arguments the signature does not take
            raise ToolError(f"{function.__name__}: {error}") from None
        return result if isinstance(result, str) else repr(result)

    return ToolFunction(Tool(function.__name__, description, schema), run, changes=True)


def schema_of(annotation: Any) -> dict[str, Any]:
    """A JSON Schema for a type annotation; anything else is text."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in SIMPLE:
        return {"type": SIMPLE[annotation]}
    if origin is typing.Literal:
        return {"enum": list(arguments)}
    if origin in (list, tuple, set, frozenset):
        return {"type": "array", "items": schema_of(arguments[0]) if arguments else {}}
    if origin is dict:
        return {"type": "object"}
    if origin in (typing.Union, types.UnionType):  # Optional[X]: X (the default covers None)
        kept = [a for a in arguments if a is not type(None)]
        return schema_of(kept[0]) if len(kept) == 1 else {"type": "string"}
    return {"type": "string"}
