"""A call's arguments checked against its tool's JSON Schema before the tool runs.

A local model's calls are held to the schema by a grammar; a remote model's are not,
and a user's function must not be called with an argument missing, unknown or of
the wrong type. ``check`` raises a ``ToolError`` naming the argument, in words the
model can act on. It reads the keywords a tool's parameters are written with
(``type``, ``enum``, ``const``, ``properties``, ``required``,
``additionalProperties``, ``items``, ``anyOf``) and leaves the rest (lengths, ranges,
patterns) to the tool, which checks them with better words: running a tool's
``pattern`` here could backtrack for ever in the chat's own process.
It needs no ``jsonschema``: a remote backend runs without the ``tools`` extra.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from minichat.safety.untrusted import one_line
from minichat.tools.base import ToolError

TYPES: dict[str, Callable[[Any], bool]] = {  # JSON's kinds, as json.loads gives them
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}
MAX_DEPTH = 32  # of lists and objects in one argument: deeper is no tool's input, and
# checking it, or sending it to a worker, would recurse past Python's limit
ARTICLES = {"integer": "an integer", "array": "an array", "object": "an object", "null": "null"}


def check(schema: dict[str, Any], arguments: dict[str, Any], tool: str) -> None:
    """``ToolError`` naming the first argument of ``arguments`` that ``schema`` refuses."""
    for name, value in arguments.items():
        if depth(value) > MAX_DEPTH:
            raise ToolError(
                f"the argument `{one_line(str(name), 60)}` is nested more than "
                f"{MAX_DEPTH} deep; give it flatter"
            )
    problem = refusal(schema, arguments, "", tool)
    if problem:
        raise ToolError(problem)


def refusal(schema: Any, value: Any, where: str, tool: str) -> str | None:
    """Why ``value`` (the argument at ``where``; "" for the arguments as a whole) does not
    fit ``schema``; None when it fits."""
    if not isinstance(schema, dict):
        return None  # `true`, or a schema that is not one: anything goes
    what = f"the argument `{where}`" if where else "the arguments"
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if isinstance(kinds, list) and not any(TYPES.get(k, lambda v: True)(value) for k in kinds):
        wanted = " or ".join(ARTICLES.get(k, f"a {k}") for k in kinds)
        return f"{what} must be {wanted}, not {shown(value)}"
    if "enum" in schema and not any(same(value, choice) for choice in schema["enum"]):
        choices = ", ".join(json.dumps(c) for c in schema["enum"])
        return f"{what} must be one of {choices}, not {shown(value)}"
    if "const" in schema and not same(value, schema["const"]):
        return f"{what} must be {json.dumps(schema['const'])}, not {shown(value)}"
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = refusal(schema.get("items"), item, f"{where}[{index}]", tool)
            if problem:
                return problem
    if isinstance(value, dict):
        problem = fields(schema, value, where, tool)
        if problem:
            return problem
    options = schema.get("anyOf")
    if isinstance(options, list) and options:
        problems = [refusal(option, value, where, tool) for option in options]
        if all(problems):
            return problems[0]
    return None


def fields(schema: dict[str, Any], value: dict[str, Any], where: str, tool: str) -> str | None:
    """What is wrong with an object's fields: one missing, unknown or refused."""
    properties = schema.get("properties") or {}
    prefix = f"{where}." if where else ""
    takes = ", ".join(properties) or "none"
    takes = f"{tool} takes {takes}" if not where else f"`{where}` takes {takes}"
    for name in schema.get("required") or []:
        if name not in value:
            return f"the argument `{prefix}{name}` is missing; {takes}"
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            problem = refusal(properties[name], item, f"{prefix}{name}", tool)
        elif extra is False:
            problem = f"unknown argument `{prefix}{one_line(str(name), 60)}`; {takes}"
        else:
            problem = refusal(extra, item, f"{prefix}{name}", tool)
        if problem:
            return problem
    return None


def depth(value: Any) -> int:
    """How deep lists and objects nest in ``value`` (0 for a string or number), counted
    without recursion, so however deep it is costs no stack."""
    deepest, level = 0, [(value, 0)]
    while level:
        item, at = level.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, at + 1)
            if deepest > MAX_DEPTH:
                break
            level += [
                (each, at + 1) for each in (item.values() if isinstance(item, dict) else item)
            ]
    return deepest


def same(value: Any, choice: Any) -> bool:
    """Equal as JSON sees it: ``true`` is not ``1``, but ``1`` is ``1.0``."""
    numbers = (int, float)
    if isinstance(value, bool) or isinstance(choice, bool):
        return type(value) is type(choice) and value == choice
    if isinstance(value, numbers) and isinstance(choice, numbers):
        return value == choice
    return type(value) is type(choice) and bool(value == choice)


def shown(value: Any) -> str:
    """A value as the model wrote it, cut short, after its kind: ``a string ("two")``."""
    kind = next((k for k, fits in TYPES.items() if fits(value)), "value")
    text = one_line(json.dumps(value, ensure_ascii=False), 60)
    return f"{ARTICLES.get(kind, f'a {kind}')} ({text})"
