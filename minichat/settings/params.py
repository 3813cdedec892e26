"""The decoding parameters, each described once.

``PARAMS`` is the one table of what a user can tune: a field's name, type, range,
default and help, its short name as a slash command, its other flag spellings,
its names in the OpenAI request and how the web page's slider steps. Everything
else is derived from it: ``GenerationConfig``'s fields and checks, the Typer
flags, the slash commands and their completion, the ``MINICHAT_*`` environment
variables, the config file's keys, the web page's controls and the server's
request fields. Every parameter is reachable by its full name everywhere
(``--max-new-tokens``, ``/set max_new_tokens=80``, ``MINICHAT_MAX_NEW_TOKENS``).
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from minichat.errors import ConfigError

MAX_STOP_SEQUENCES = 16


@dataclass(frozen=True)
class Param:
    name: str  # the GenerationConfig field, config key and full flag (--max-new-tokens)
    kind: type  # int, float, or str for stop (a list of strings)
    default: Any
    label: str  # what a form calls it ("Max new tokens")
    help: str  # one line: what it does and its range in words
    low: float = 0  # the range; for ints both ends are included
    high: float = 0
    low_open: bool = False  # (low, high] rather than [low, high]
    short: str = ""  # the slash command when it is not the name (/temp)
    flags: tuple[str, ...] = ()  # more flag spellings (-t, --max-tokens)
    api: tuple[str, ...] = ()  # more names in an OpenAI request (max_tokens)
    nullable: bool = False  # None is a value (a random seed)
    slider: tuple[float, float, float] | None = None  # the web slider: low, high, step

    @property
    def command(self) -> str:
        """The slash command that sets it: its short name, or its name."""
        return self.short or self.name

    @property
    def flag_names(self) -> tuple[str, ...]:
        return ("--" + self.name.replace("_", "-"), *self.flags)

    @property
    def usage(self) -> str:
        """The argument in a usage line: X for a number, N for a whole one."""
        word = "N" if self.kind is int else "X" if self.kind is float else "TEXT"
        return f"{word}|none" if self.nullable else word

    def check(self, value: Any) -> Any:
        """``value`` if it is valid for this parameter (floats as floats), else a
        ``ConfigError`` that names the field and its range."""
        if value is None and self.nullable:
            return None
        if self.kind is str:
            return _check_stop(value)
        low, high = self.low, self.high
        if self.kind is int:
            low, high = int(low), int(high)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(
                    f"{self.name} must be a whole number from {low} to {high}, got {value!r}"
                )
            if not low <= value <= high:
                raise ConfigError(f"{self.name} must be from {low} to {high}, got {value}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{self.name} must be a number, got {value!r}")
        too_low = value <= low if self.low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            bracket = "(" if self.low_open else "["
            raise ConfigError(f"{self.name} must be in {bracket}{low:g}, {high:g}], got {value!r}")
        return float(value)

    def accept(self, value: Any) -> Any:
        """A value as a form or a JSON body hands it over, in this parameter's type:
        text parsed as typed, 4.0 as 4 for a whole number, one stop string as a list.
        The range is checked by ``check``."""
        if self.kind is str:
            return (value,) if isinstance(value, str) else value
        if isinstance(value, str):
            return self.parse(value)
        if self.kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    def parse(self, text: str) -> Any:
        """The value a user typed (a flag, an env variable, a slash command), checked
        for its type; the range is checked by ``check``."""
        text = text.strip()
        if self.kind is str:
            return (stop_text(text),) if text else ()
        if self.nullable and text.lower() in ("", "none", "random"):
            return None
        try:
            return self.kind(text)
        except ValueError:
            noun = "a whole number" if self.kind is int else "a number"
            raise ConfigError(f"{self.name} must be {noun}, got {text!r}") from None


PARAMS: tuple[Param, ...] = (
    Param(
        "max_new_tokens",
        int,
        512,
        "Max new tokens",
        "longest reply, in tokens",
        1,
        1_000_000,
        short="max_tokens",
        flags=("--max-tokens", "-n"),
        api=("max_completion_tokens", "max_tokens"),
        slider=(1, 4096, 1),
    ),
    Param(
        "temperature",
        float,
        0.7,
        "Temperature",
        "0 is greedy (argmax), up to 5",
        0,
        5,
        short="temp",
        flags=("-t",),
        slider=(0, 5, 0.05),
    ),
    Param(
        "top_p",
        float,
        0.9,
        "Top-p",
        "nucleus sampling mass, in (0, 1]",
        0,
        1,
        low_open=True,
        slider=(0.01, 1, 0.01),
    ),
    Param(
        "top_k",
        int,
        50,
        "Top-k",
        "keep the N most likely tokens; 0 keeps all",
        0,
        1_000_000,
        slider=(0, 200, 1),
    ),
    Param(
        "repetition_penalty",
        float,
        1.1,
        "Repetition penalty",
        "penalty on the reply's last 64 tokens; 1 is off",
        0,
        10,
        low_open=True,
        short="repeat",
        flags=("--repeat",),
        slider=(0.5, 2, 0.05),
    ),
    Param(
        "stop",
        str,
        (),
        "Stop sequences",
        "the reply ends before this text, never printed (repeatable)",
    ),
    Param(
        "seed",
        int,
        None,
        "Seed",
        "fixed seed for reproducible sampling; none is random",
        0,
        2**63 - 1,
        nullable=True,
    ),
)
BY_NAME = {param.name: param for param in PARAMS}
FIELD_NAMES: tuple[str, ...] = tuple(BY_NAME)
# every name a parameter goes by in /set: its full name and its short one
ALIASES = {**{p.short: p.name for p in PARAMS if p.short}, **{p.name: p.name for p in PARAMS}}


def param(name: str) -> Param:
    """The parameter named ``name`` (full or short); unknown names are errors."""
    if name in ALIASES:
        return BY_NAME[ALIASES[name]]
    raise unknown_parameter(name, ALIASES)


def unknown_parameter(name: str, known: Iterable[str]) -> ConfigError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown generation parameter {name!r}{hint}")


def stop_text(text: str) -> str:
    """A stop sequence as typed, or a quoted Python string for escapes: "\\nUser:"."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError) as error:
            raise ConfigError(f"cannot read the quoted text {text}: {error}") from None
        if not isinstance(value, str) or not value:
            raise ConfigError("a stop sequence must be non-empty text")
        return value
    return text


def stop_lines(stops: Iterable[str]) -> str:
    """Stop sequences one a line, in the form ``stop_text`` reads back: as typed, or
    quoted where white space or quotes would be lost."""
    return "\n".join(s if _plain(s) else repr(s) for s in stops)


def _plain(text: str) -> bool:
    quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"
    return text.isprintable() and text == text.strip() and not quoted


def _check_stop(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigError("stop must be a list of strings")
    stop: tuple[object, ...] = tuple(value)
    texts = tuple(s for s in stop if isinstance(s, str) and s)
    if len(texts) != len(stop):
        raise ConfigError("stop sequences must be non-empty strings")
    if len(texts) > MAX_STOP_SEQUENCES:
        raise ConfigError(f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed")
    return texts
