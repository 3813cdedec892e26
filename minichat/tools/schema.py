"""Answers in a JSON Schema's shape: the schema a user gives, read and checked.

``--schema`` (and ``/schema``, and the server's ``response_format``) take a JSON
Schema, inline or in a file, or llm's concise form, fields separated by commas (or
one a line), each a name, an optional type (``str``, the default, ``int``,
``float``, ``bool``) and an optional description after a colon::

    name, age int, bio: one line about them

``multi`` asks for a list of such objects, as ``{"items": [...]}``. The grammar
(``tools.grammar``) keeps the reply valid JSON in the schema's shape from its first
token; the schema is also described to the model in the system turn (``hermes``)
so what it writes in that shape makes sense.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from minichat.errors import ConfigError

TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
NAME = re.compile(r"^[A-Za-z_][\w-]*$")
MAX_SCHEMA_BYTES = 256 * 1024  # a schema file is a few kilobytes; refuse a stray big file
JSON_OBJECT: dict[str, Any] = {"type": "object"}  # OpenAI's json_object: any object


# keyword pairs no value can satisfy when the first is above the second (or equal,
# for a bound that excludes itself)
LIMITS = (
    ("minLength", "maxLength", False),
    ("minItems", "maxItems", False),
    ("minProperties", "maxProperties", False),
    ("minimum", "maximum", False),
    ("minimum", "exclusiveMaximum", True),
    ("exclusiveMinimum", "maximum", True),
    ("exclusiveMinimum", "exclusiveMaximum", True),
)


# JSON written as ``json.dumps`` writes it (", " and ": "), not any spacing JSON allows:
# a small model has one way to write a call, and no room to pad it out
COMPACT = {"whitespace_pattern": "[ \\n]{0,2}"}


def arguments_schema(parameters: dict[str, Any]) -> dict[str, Any]:
    return {**parameters, "x-guidance": COMPACT}


def closed(parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool's arguments with none but the named ones: most schemas (an API client's,
    an MCP server's) leave ``additionalProperties`` out, which would let the grammar
    take any key, and a small model invents some (``estimate_rent`` given an
    ``annual_income``). A schema that says what it allows is kept as it is."""
    if "properties" in parameters and "additionalProperties" not in parameters:
        return {**parameters, "additionalProperties": False}
    return parameters


def schema_problem(parameters: dict[str, Any]) -> str | None:
    """Why no grammar can follow ``parameters``, or None; None too when llguidance,
    which would say, is not installed."""
    contradiction = next(contradictions(parameters), None)
    if contradiction:
        return contradiction
    try:
        from llguidance import LLMatcher
    except ImportError:
        return None
    try:
        compiled = LLMatcher.grammar_from_json_schema(arguments_schema(parameters))
    except (ValueError, TypeError) as error:
        return f"it cannot be turned into a grammar: {error}"
    refusal = LLMatcher.validate_grammar(compiled)
    if refusal:
        # llguidance's message goes on with the grammar's text: its first line says it
        return f"it cannot be turned into a grammar: {refusal.splitlines()[0]}"
    return None


def contradictions(schema: Any) -> Iterator[str]:
    """Limits in ``schema`` (or any schema within it) that no value meets: a call the
    grammar forces could never be finished."""
    stack = [schema]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        if not isinstance(value, dict):
            continue
        stack.extend(value.values())
        if value.get("enum") == []:
            yield "enum [] allows no value"
        for low, high, strict in LIMITS:
            a, b = number(value.get(low)), number(value.get(high))
            if a is not None and b is not None and (a > b or (strict and a == b)):
                yield f"{low} {a} and {high} {b} allow no value"


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def concise(text: str, flag: str = "--schema") -> dict[str, Any]:
    """llm's concise schema form to a JSON Schema (every field required)."""
    fields = [f.strip() for f in re.split(r"\n" if "\n" in text else r",", text) if f.strip()]
    if not fields:
        raise ConfigError(f"{flag} is empty: give field names, e.g. 'name, age int'")
    properties: dict[str, Any] = {}
    for field in fields:
        head, _, description = field.partition(":")
        words = head.split()
        if not words or len(words) > 2 or not NAME.match(words[0]):
            raise ConfigError(
                f"{flag}: {field!r} is not 'name [type][: description]' "
                "(e.g. 'name, age int, bio: one line')"
            )
        kind = words[1] if len(words) == 2 else "str"
        if kind not in TYPES:
            raise ConfigError(
                f"{flag}: {words[0]}'s type {kind!r} is not one of {', '.join(TYPES)}"
            )
        prop: dict[str, Any] = {"type": TYPES[kind]}
        if description.strip():
            prop["description"] = description.strip()
        properties[words[0]] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def many(schema: dict[str, Any]) -> dict[str, Any]:
    """A list of objects in ``schema``'s shape, as ``{"items": [...]}`` (llm's multi)."""
    items = {"type": "array", "items": schema}
    return {
        "type": "object",
        "properties": {"items": items},
        "required": ["items"],
        "additionalProperties": False,
    }


def read_schema(given: str, multi: bool = False, flag: str = "--schema") -> dict[str, Any]:
    """The JSON Schema ``given`` means: inline JSON, a ``.json`` file, or the concise
    form; refused in one line (``ConfigError``, naming ``flag``) when it is none of
    them or no grammar can follow it. A file is a name ending in ``.json`` or a path
    with a folder in it: a bare word is a field."""
    text = given.strip()
    if text.startswith("{"):
        schema = _parse(text, flag)
    elif text.endswith(".json") or (os.sep in text and Path(text).expanduser().exists()):
        schema = _parse(_read_file(Path(text).expanduser(), flag), text)
    else:
        schema = concise(text, flag)
    problem = schema_problem_of(schema)
    if problem:
        raise ConfigError(f"{flag} {problem}")
    return many(schema) if multi else schema


def schema_problem_of(schema: Any) -> str | None:
    """Why ``schema`` cannot shape an answer: not a JSON Schema, or no grammar can
    follow it; None when it can."""
    if not isinstance(schema, dict):
        return "must be a JSON object (a JSON Schema)"
    problem = not_json_schema(schema)
    if problem:
        return problem
    return schema_problem(schema)


def not_json_schema(schema: dict[str, Any]) -> str | None:
    """What makes ``schema`` not a JSON Schema (``jsonschema`` checks, where installed)."""
    try:
        import jsonschema
    except ImportError:
        return None
    dialect = schema.get("$schema")
    if dialect is not None and not (
        isinstance(dialect, str) and jsonschema.validators.validator_for(schema, None)
    ):
        return (
            f"names $schema {str(dialect)[:80]!r}, no JSON Schema draft minichat knows; "
            "leave $schema out"
        )
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        return f"is not a JSON Schema: {error.message}"
    return None


def answer_problem(text: str, schema: dict[str, Any]) -> str | None:
    """Why the reply ``text`` is not an answer in ``schema``'s shape (cut short by the
    reply limit, say), or None."""
    try:
        value = json.loads(text)
    except ValueError:
        return "the reply is not whole JSON (cut short? raise --max-tokens)"
    try:
        import jsonschema
    except ImportError:
        return None
    error = jsonschema.exceptions.best_match(
        jsonschema.validators.validator_for(schema)(schema).iter_errors(value)
    )
    return None if error is None else f"the reply does not follow the schema: {error.message}"


def describe(schema: dict[str, Any]) -> str:
    """What the system turn tells the model about the answer's shape."""
    shown = json.dumps(schema, ensure_ascii=False)
    return f"Answer with only a JSON object that follows this JSON Schema:\n{shown}"


def _parse(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise ConfigError(f"{where} is not valid JSON: {error}") from None


def _read_file(path: Path, flag: str) -> str:
    from minichat.safety.files import read_given

    data = read_given(path, MAX_SCHEMA_BYTES, flag, "a JSON Schema file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{flag}: {path} is not UTF-8 text") from None
