"""The process a ``--functions`` file runs in, and how a function becomes a tool.

A user's file runs here, not in the chat's process: code stuck in C (a huge power, a
regular expression backtracking) holds the GIL, so no thread of the chat could ever
stop it, and what it prints would land in the reply (and break ``ask --json``). The
chat kills this process when a call takes too long and starts another for the next.

The chat starts it with ``python -c BOOT worker.py FOLDER`` (the file's folder first
on ``sys.path``, as ``python FILE.py`` has it) and speaks JSON lines over copies of
its stdin and stdout. Then stdin becomes ``/dev/null`` (``input()`` ends at once) and
stdout and stderr one pipe that a thread here drains, so what the user's code writes,
from Python or C, is caught. The model reads what a function returns; what it printed
is its answer only when it returns nothing (a function written to report by printing):
a debugging print beside a return value would read to the model as part of it.

    {"source": text, "path": p}        -> {"tools": [{name, description, parameters}]}
    {"call": name, "arguments": {...}} -> {"result": text}
    either                             -> {"error": one line}

Standard library only: it starts in tens of milliseconds, and the chat imports it
too (``describe``, ``call``) for functions it runs in-process.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import signal
import sys
import threading
import time
import types
import typing
from collections.abc import Callable
from typing import Any

MODULE = "minichat_functions"  # the file's __name__: its `if __name__ == "__main__":` stays off
MAX_RESULT = 200_000  # characters of a result sent back; the chat cuts it to the context later
MAX_PRINTED = 4_000  # bytes kept of what one call printed, for a call that returns None
MAX_MESSAGE = 300  # characters of an exception's message
MAX_DESCRIPTION = 1_000  # characters of a docstring's first paragraph
SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object"}
VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


class Unusable(Exception):
    """A file or function that cannot be offered as tools; the message says what to do."""


def brief(error: BaseException) -> str:
    """``ValueError: no`` on one line, however long or broken the message."""
    try:
        message = str(error)
    except Exception:  # a __str__ that raises says nothing, but must not hide the error
        message = "(its message cannot be shown)"
    message = " ".join(message.split())
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + "…"
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


# --- a function as a tool --------------------------------------------------------------------


def public_functions(module: types.ModuleType) -> dict[str, Callable[..., Any]]:
    """The functions (lambdas too) the file itself binds to public names, by those names:
    that name is what the model calls, whatever ``__name__`` says (``<lambda>``)."""
    return {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, types.FunctionType)
        and value.__module__ == module.__name__
        and not name.startswith("_")
    }


def describe(function: Callable[..., Any], name: str | None = None) -> dict[str, Any]:
    """The tool ``function`` makes: its name, description and JSON Schema."""
    name = name or function.__name__
    if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
        raise Unusable(f"{name} yields its results; return them instead (a list, or text)")
    try:
        hints = typing.get_type_hints(function)
    except Exception as error:  # a name that is not defined, an annotation that is no type
        raise Unusable(
            f"the annotations of {name} cannot be read ({brief(error)}); use str, int, float, "
            "bool, list, dict or Literal, or none"
        ) from None
    properties: dict[str, Any] = {}
    required = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in VARIADIC:
            continue
        where = f"{name}({parameter.name})"
        properties[parameter.name] = schema_of(hints.get(parameter.name, str), where)
        if parameter.default is parameter.empty:
            required.append(parameter.name)
    doc = inspect.getdoc(function) or name
    return {
        "name": name,
        "description": " ".join(doc.split("\n\n")[0].split())[:MAX_DESCRIPTION],
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        },
    }


def schema_of(annotation: Any, where: str = "") -> dict[str, Any]:
    """A JSON Schema for a type annotation; anything else is text."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in SIMPLE:
        return {"type": SIMPLE[annotation]}
    if annotation is Any:
        return {}
    if origin is typing.Literal:
        for value in arguments:
            if not is_json(value):
                raise Unusable(
                    f"the choice {value!r} of {where} is not a JSON value; "
                    "offer text, numbers, True, False or None"
                )
        return {"enum": list(arguments)}
    if origin in (list, set, frozenset) or (origin is tuple and arguments[1:] == (...,)):
        return {"type": "array", "items": schema_of(arguments[0], where) if arguments else {}}
    if origin is tuple:  # tuple[int, str]: items of different kinds
        return {"type": "array"}
    if origin is dict:
        return {"type": "object"}
    if origin in (typing.Union, types.UnionType):  # Optional[X]: X, or null
        kept = [a for a in arguments if a is not type(None)]
        if len(kept) != 1:
            return {"type": "string"}
        inner = schema_of(kept[0], where)
        if len(kept) == len(arguments):
            return inner
        # a model may say null for "not given", as OpenAI's own models do
        if isinstance(inner.get("type"), str):
            return {**inner, "type": [inner["type"], "null"]}
        return {"anyOf": [inner, {"type": "null"}]}
    return {"type": "string"}


def is_json(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # NaN and infinity are not JSON
    return value is None or isinstance(value, (str, int, bool))


# --- a call ---------------------------------------------------------------------------------


def call(function: Callable[..., Any], arguments: dict[str, Any]) -> str | None:
    """Call ``function`` with the model's arguments, awaited if it is async; its result
    as text (``repr`` unless it is text), cut to ``MAX_RESULT`` characters; None when
    it returned None."""
    positional = []
    keywords = dict(arguments)
    for parameter in inspect.signature(function).parameters.values():
        # `def f(a, /)`: no keyword reaches a, so the model's `a` goes by position
        if parameter.kind is not parameter.POSITIONAL_ONLY:
            break
        value = keywords.pop(parameter.name, parameter.default)
        if value is parameter.empty:
            break  # missing: the call below says so
        positional.append(value)
    result = function(*positional, **keywords)
    if inspect.isawaitable(result):
        import asyncio

        async def wait() -> Any:
            return await result

        result = asyncio.run(wait())
    if result is None:
        return None
    text = str.__str__(result) if isinstance(result, str) else repr(result)
    if len(text) > MAX_RESULT:
        text = f"{text[:MAX_RESULT]}\n[cut: the first {MAX_RESULT} of {len(text)} characters]"
    return text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates: no one takes them


# --- the process ----------------------------------------------------------------------------


class Printed:
    """Fds 1 and 2 as one pipe drained by a thread, keeping the start of each call's output:
    a writer never blocks on a full pipe, and output from C is caught as well as print's."""

    MARK = b"\0minichat-printed-%012d\0"  # ends a call's output: every byte before it was written

    def __init__(self) -> None:
        read, write = os.pipe()
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.close(write)
        self._read = read
        self._kept = bytearray()
        self._more = 0
        self._mark = b""
        self._count = 0
        self._found = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        held = b""  # the end of what was read, which may be the start of a mark
        size = len(self.MARK % 0)
        while chunk := os.read(self._read, 65536):
            held += chunk
            with self._lock:
                at = held.find(self._mark) if self._mark else -1
                if at >= 0:
                    self._keep(held[:at])
                    held = held[at + size :]
                    self._found.set()
                else:
                    self._keep(held[: max(0, len(held) - size + 1)])
                    held = held[max(0, len(held) - size + 1) :]

    def _keep(self, data: bytes) -> None:
        room = MAX_PRINTED - len(self._kept)
        self._kept += data[:room]
        self._more += max(0, len(data) - room)

    def take(self) -> str:
        """What was written since the last ``take``, once it has all been read."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # the user's code closed or replaced it
                stream.flush()
        self._count += 1
        with self._lock:
            self._mark = self.MARK % self._count
            self._found.clear()
        try:
            os.write(1, self._mark)
            self._found.wait(2.0)  # at once, unless the user's code moved fd 1 elsewhere
        except OSError:
            pass
        with self._lock:
            text = self._kept.decode("utf-8", "replace")
            if self._more:
                text += f"\n[… {self._more} more bytes]"
            self._kept.clear()
            self._more = 0
        return text


def load(path: str, source: str) -> tuple[dict[str, Callable[..., Any]], list[dict[str, Any]]]:
    """Run the file's code as a module; its public functions, and the tools they make."""
    module = types.ModuleType(MODULE)
    module.__file__ = path
    sys.modules[MODULE] = module  # before it runs: dataclasses and pickle look it up there
    try:
        exec(compile(source, path, "exec"), module.__dict__)
    except SystemExit as error:
        raise Unusable(
            f"calls sys.exit({error.code!r}) at import; "
            "put that code under `if __name__ == '__main__':`"
        ) from None
    except BaseException as error:  # whatever the file raises, said in one line
        why = brief(error)
        raise Unusable(f"does not import ({why}); fix it, or install what it needs") from None
    functions = public_functions(module)
    if not functions:
        raise Unusable("defines no public function; define one whose name has no leading _")
    tools = [describe(function, name) for name, function in functions.items()]
    try:
        json.dumps(tools, allow_nan=False)  # the chat takes JSON, not Python's NaN
    except (TypeError, ValueError) as error:
        raise Unusable(f"its tools cannot be written as JSON ({brief(error)})") from None
    return functions, tools


def answer(
    request: dict[str, Any], functions: dict[str, Callable[..., Any]], printed: Printed
) -> tuple[dict[str, Any], dict[str, Callable[..., Any]]]:
    if "source" in request:
        try:
            functions, tools = load(str(request["path"]), str(request["source"]))
            reply: dict[str, Any] = {"tools": tools}
        except Unusable as error:
            reply = {"error": str(error)}
        printed.take()  # what the import printed is nobody's answer
        return reply, functions
    name = str(request.get("call"))
    function = functions.get(name)
    if function is None:
        return {"error": f"the functions file defines no {name} any more"}, functions
    try:
        reply = {"result": call(function, request.get("arguments") or {})}
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: the process goes on
        reply = {"error": f"{name} failed: {brief(error)}"}
    output = printed.take()
    if "result" in reply and reply["result"] is None:  # it reported by printing, or not at all
        reply["result"] = output.rstrip("\n") or "None"
    return reply, functions


def watch_parent() -> None:
    """End this process when the chat's ends, even mid-call: nobody is left to answer."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1.0)
    end()


def end() -> None:
    """Leave, and take every process the user's code started along: this process leads
    its group (the chat starts it in a session of its own), so the group is all of them."""
    if os.getpgid(0) == os.getpid():  # run by hand, the group would be the shell's
        with contextlib.suppress(OSError):
            os.killpg(0, signal.SIGKILL)
    os._exit(0)


def main() -> None:
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")  # dup'd fds are not inherited
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    printed = Printed()
    threading.Thread(target=watch_parent, daemon=True).start()
    functions: dict[str, Callable[..., Any]] = {}
    for line in requests:
        reply, functions = answer(json.loads(line), functions, printed)
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    end()  # the chat has gone: nothing the user's code started may keep running


if __name__ == "__main__":
    main()
