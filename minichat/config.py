"""``GenerationConfig``: the decoding parameters, validated on construction.

It is an immutable value: change it with ``dataclasses.replace`` (or
``config.with_values``) and every change is checked again. ``coerce`` turns the
text a user typed (a flag, an environment variable, a slash command) into a
field's value, so every interface reports a bad value with the same words.
The fields, their ranges and defaults come from ``minichat.settings.params``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minichat.settings.params import BY_NAME, FIELD_NAMES, unknown_parameter


@dataclass(frozen=True)
class GenerationConfig:
    """How a reply is decoded. Temperature 0 means greedy (argmax). Each field's range,
    default and help live in ``minichat.settings.params.PARAMS``."""

    max_new_tokens: int = BY_NAME["max_new_tokens"].default  # the reply's length, in tokens
    temperature: float = BY_NAME["temperature"].default  # 0 = greedy; higher = more random
    top_p: float = BY_NAME["top_p"].default  # nucleus sampling: the smallest set with this mass
    top_k: int = BY_NAME["top_k"].default  # keep only the k most likely tokens; 0 = no limit
    repetition_penalty: float = BY_NAME["repetition_penalty"].default  # >1 discourages repeats
    stop: tuple[str, ...] = field(default=())  # reply ends before any of these strings
    seed: int | None = BY_NAME["seed"].default  # fixed seed = reproducible sampling

    def __post_init__(self) -> None:
        for name in FIELD_NAMES:
            object.__setattr__(self, name, BY_NAME[name].check(getattr(self, name)))

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


def check_field_name(name: str) -> None:
    """Raise unless ``name`` is a field's full name (with a suggestion when close)."""
    if name not in FIELD_NAMES:
        raise unknown_parameter(name, FIELD_NAMES)


def coerce(name: str, text: str) -> Any:
    """Parse the text a user typed into the type of field ``name``."""
    check_field_name(name)
    return BY_NAME[name].parse(text)


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
