"""The built-in tools a chat model may call: a calculator, the clock, and read-only
access to files under the working folder.

Small models guess at sums and dates and cannot see the user's files; these tools
answer instead. Each is a ``ToolFunction`` whose JSON Schema and description are
short enough for a 135M model to follow. None changes anything, so none needs the
user's approval; the file tools stay inside the working folder (the one current
when the call runs) and refuse any path that leads out of it, symlinks included,
however the folders on the way change meanwhile (``tools.beneath``).
Arguments are checked here too, since a remote model may call without constraint.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from minichat.errors import ConfigError
from minichat.tools.base import ToolError, ToolFunction
from minichat.tools.beneath import open_beneath
from minichat.tools.calculator import CONSTANTS, FUNCTIONS, evaluate
from minichat.tools.spec import Tool

# the longest expression a model may write in a call: arithmetic a person asks about is
# short, and a small model that rambles inside the string must reach its end in time
CALL_LENGTH = 120

MAX_CHARACTERS = 20_000  # of a file read
MAX_BYTES = 4 * 1024 * 1024  # read no more of a file than this, however large it is
MAX_ENTRIES = 200  # of a folder listed

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def clock() -> datetime:
    """The current local time with its zone; tests replace this function."""
    return datetime.now().astimezone()


def _schema(properties: dict[str, dict[str, Any]], required: Sequence[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    schema["additionalProperties"] = False
    return schema


def _string(arguments: dict[str, Any], name: str, default: str | None = None) -> str:
    value = arguments.get(name, default)
    if value is None:
        raise ToolError(f"the argument `{name}` is missing")
    if not isinstance(value, str):
        raise ToolError(f"the argument `{name}` must be a string, got {type(value).__name__}")
    return value


def _expect(arguments: dict[str, Any], names: Sequence[str]) -> None:
    if not isinstance(arguments, dict):
        raise ToolError("the arguments must be a JSON object")
    unknown = sorted(set(arguments) - set(names))
    if unknown:
        takes = ", ".join(names) if names else "no arguments"
        raise ToolError(f"unknown argument(s) {', '.join(unknown)}; this tool takes {takes}")


def run_calculator(arguments: dict[str, Any]) -> str:
    _expect(arguments, ["expression"])
    return evaluate(_string(arguments, "expression"))


def describe_time(moment: datetime) -> str:
    """``moment`` as "Wednesday 2 December 2026, 14:05 (UTC+01:00)"."""
    if moment.utcoffset() is None:
        moment = moment.astimezone()  # a naive time is taken as local
    offset = moment.utcoffset() or timedelta(0)
    sign, minutes = ("-" if offset < timedelta(0) else "+"), abs(offset) // timedelta(minutes=1)
    day = f"{WEEKDAYS[moment.weekday()]} {moment.day} {MONTHS[moment.month - 1]} {moment.year}"
    return f"{day}, {moment:%H:%M} (UTC{sign}{minutes // 60:02d}:{minutes % 60:02d})"


def run_now(arguments: dict[str, Any]) -> str:
    _expect(arguments, [])
    return describe_time(clock())


def run_read_file(arguments: dict[str, Any]) -> str:
    _expect(arguments, ["path"])
    name = _string(arguments, "path")
    descriptor = open_beneath(Path.cwd().resolve(), name)
    if stat.S_ISDIR(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise ToolError(f"`{name}` is a folder; use list_dir to see what is in it")
    with os.fdopen(descriptor, "rb") as file:
        try:
            data = file.read(MAX_BYTES + 1)
        except OSError as error:
            raise ToolError(f"cannot read `{name}`: {error.strerror}") from None
    text, whole = _text_of(data, name)
    if whole and len(text) <= MAX_CHARACTERS:
        return text or "(the file is empty)"
    size = f"{len(text)} characters" if whole else f"more than {MAX_BYTES} bytes"
    shown = f"showing the first {MAX_CHARACTERS}"
    return f"{text[:MAX_CHARACTERS]}\n[truncated: the file has {size}; {shown}]"


def _text_of(data: bytes, name: str) -> tuple[str, bool]:
    """The text of a file's first bytes (at most ``MAX_BYTES``) and whether that is all."""
    whole = len(data) <= MAX_BYTES
    if b"\0" in data:
        raise ToolError(f"`{name}` is a binary file, not text")
    try:
        # a character cut in two at MAX_BYTES is dropped, not an error
        return data[:MAX_BYTES].decode("utf-8", errors="strict" if whole else "ignore"), whole
    except UnicodeDecodeError:
        raise ToolError(f"`{name}` is not UTF-8 text") from None


def run_list_dir(arguments: dict[str, Any]) -> str:
    _expect(arguments, ["path"])
    name = _string(arguments, "path", ".")
    root = Path.cwd().resolve()
    descriptor = open_beneath(root, name)
    try:
        if not stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise ToolError(f"`{name}` is a file, not a folder; use read_file to read it")
        with os.scandir(descriptor) as found:
            entries = sorted(
                shown_name(entry.name) + ("/" if _is_folder(root, name, entry) else "")
                for entry in found
                if not entry.name.startswith(".")
            )
    except OSError as error:
        raise ToolError(f"cannot list `{name}`: {error.strerror}") from None
    finally:
        os.close(descriptor)
    if not entries:
        return "(the folder is empty)"
    more = [f"[... {len(entries) - MAX_ENTRIES} more]"] if len(entries) > MAX_ENTRIES else []
    return "\n".join(entries[:MAX_ENTRIES] + more)


def _is_folder(root: Path, folder: str, entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is a folder; a link counts as one only when it leads to a folder
    inside the working folder (followed as ``open_beneath`` follows, never out)."""
    if not entry.is_symlink():
        return entry.is_dir(follow_symlinks=False)
    try:
        descriptor = open_beneath(root, os.path.join(folder, entry.name))
    except ToolError:
        return False
    try:
        return stat.S_ISDIR(os.fstat(descriptor).st_mode)
    finally:
        os.close(descriptor)


def shown_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (kept by Python as lone
    surrogates, which no tokenizer or terminal takes) shown as ``\\xff``."""
    return os.fsencode(name).decode("utf-8", errors="backslashreplace")


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


ARITHMETIC = "numbers with + - * / // % ** ( ) and " + ", ".join([*FUNCTIONS, *CONSTANTS])
PATH = "the path relative to the working folder"
BUILTIN: dict[str, ToolFunction] = {
    function.name: function
    for function in [
        ToolFunction(
            Tool(
                "calculator",
                "Compute arithmetic exactly, e.g. 1234 * 5678 or sqrt(2) / 3. Use it for any sum.",
                _schema({"expression": _text(ARITHMETIC, maxLength=CALL_LENGTH)}, ["expression"]),
            ),
            run_calculator,
        ),
        ToolFunction(
            Tool("now", "Get the current date, time and time zone.", _schema({}, [])),
            run_now,
        ),
        ToolFunction(
            Tool(
                "read_file",
                "Read a text file in the working folder.",
                _schema({"path": _text(f"{PATH}, e.g. notes.md")}, ["path"]),
            ),
            run_read_file,
        ),
        ToolFunction(
            Tool(
                "list_dir",
                "List the files and folders in a folder; folders end with /.",
                _schema({"path": _text(f"{PATH}; . for itself", default=".")}, []),
            ),
            run_list_dir,
        ),
    ]
}


def builtin(names: Sequence[str]) -> list[ToolFunction]:
    """The built-in tools called ``names`` ("all" for every one), each once, in order."""
    chosen: list[str] = []
    for name in names:
        if name != "all" and name not in BUILTIN:
            known = ", ".join(BUILTIN)
            raise ConfigError(f"unknown tool {name!r}; the built-in tools are {known} (or all)")
        chosen += [n for n in (BUILTIN if name == "all" else [name]) if n not in chosen]
    return [BUILTIN[name] for name in chosen]
