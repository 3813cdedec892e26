"""``GenerationConfig``: the decoding parameters, validated on construction.

It is an immutable value: change it with ``dataclasses.replace`` (or
``config.with_values``) and every change is checked again. ``coerce`` turns the
text a user typed (a flag, an environment variable, a slash command) into a
field's value, so every interface reports a bad value with the same words.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from minichat.errors import ConfigError

MAX_STOP_SEQUENCES = 16


@dataclass(frozen=True)
class GenerationConfig:
    """How a reply is decoded. Temperature 0 means greedy (argmax)."""

    max_new_tokens: int = 512  # upper bound on the reply's length, in tokens
    temperature: float = 0.7  # 0 = greedy; higher = more random
    top_p: float = 0.9  # nucleus sampling: keep the smallest set with this much mass
    top_k: int = 50  # keep only the k most likely tokens; 0 = no limit
    repetition_penalty: float = 1.1  # >1 discourages tokens seen recently; 1 = off
    stop: tuple[str, ...] = field(default=())  # reply ends before any of these strings
    seed: int | None = None  # fixed seed = reproducible sampling; None = random

    def __post_init__(self) -> None:
        _check_int("max_new_tokens", self.max_new_tokens, 1, 1_000_000)
        _check_float("temperature", self.temperature, 0.0, 5.0)
        _check_float("top_p", self.top_p, 0.0, 1.0, low_open=True)
        _check_int("top_k", self.top_k, 0, 1_000_000)
        _check_float("repetition_penalty", self.repetition_penalty, 0.0, 10.0, low_open=True)
        if self.seed is not None:
            _check_int("seed", self.seed, 0, 2**63 - 1)
        stop = self.stop
        if isinstance(stop, str) or not isinstance(stop, Iterable):
            raise ConfigError("stop must be a list of strings")
        stop = tuple(stop)
        if not all(isinstance(s, str) and s for s in stop):
            raise ConfigError("stop sequences must be non-empty strings")
        if len(stop) > MAX_STOP_SEQUENCES:
            raise ConfigError(f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed")
        object.__setattr__(self, "stop", stop)
        for name in ("temperature", "top_p", "repetition_penalty"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> GenerationConfig:
        """Build from a mapping; unknown keys are errors, not silently ignored."""
        return cls().with_values(**values)

    def with_values(self, **values: Any) -> GenerationConfig:
        for key in values:
            check_field_name(key)
        return dataclasses.replace(self, **values)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stop"] = list(self.stop)
        return data


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(GenerationConfig))


def check_field_name(name: str) -> None:
    if name not in FIELD_NAMES:
        raise ConfigError(
            f"unknown generation parameter {name!r}{_did_you_mean(name, FIELD_NAMES)}"
        )


def coerce(name: str, text: str) -> Any:
    """Parse the text a user typed into the type of field ``name``."""
    check_field_name(name)
    text = text.strip()
    if name == "stop":
        return (text,) if text else ()
    if name == "seed" and text.lower() in ("", "none", "random"):
        return None
    kind = int if name in ("max_new_tokens", "top_k", "seed") else float
    try:
        return kind(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {noun}, got {text!r}") from None


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, got {value}")


def _check_float(
    name: str, value: object, low: float, high: float, *, low_open: bool = False
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    bracket = "(" if low_open else "["
    too_low = value <= low if low_open else value < low
    if not math.isfinite(value) or too_low or value > high:
        raise ConfigError(f"{name} must be in {bracket}{low:g}, {high:g}], got {value!r}")


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def fitting_reply_limit(config: GenerationConfig, context_length: int) -> GenerationConfig:
    """``config`` with the default reply limit cut to half of a short context, so that a
    model with a small window (TinyGPT's 256 tokens) still has room for the prompt. Only
    for a limit left at its default: one the user chose is never changed."""
    limit = min(GenerationConfig.max_new_tokens, max(1, context_length // 2))
    return (
        dataclasses.replace(config, max_new_tokens=limit)
        if limit != config.max_new_tokens
        else config
    )
