"""GenerationConfig: validated on construction, changed only through validation."""

from __future__ import annotations

import dataclasses

import pytest

from minichat.config import GenerationConfig, coerce
from minichat.errors import ConfigError


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("temperature", -0.1, "temperature must be in [0, 5]"),
        ("temperature", float("nan"), "temperature"),
        ("top_p", 0.0, "top_p must be in (0, 1]"),
        ("top_p", 1.5, "top_p"),
        ("top_k", -1, "top_k must be from 0"),
        ("top_k", 2.5, "top_k must be a whole number"),
        ("max_new_tokens", 0, "max_new_tokens must be from 1"),
        ("max_new_tokens", True, "whole number"),
        ("repetition_penalty", 0.0, "repetition_penalty must be in (0, 10]"),
        ("seed", -3, "seed must be from 0"),
        ("stop", "END", "stop must be a list"),
        ("stop", ("",), "non-empty"),
    ],
)
def test_bad_values_name_the_field_and_range(field: str, value: object, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace("[", r"\[")):
        GenerationConfig(**{field: value})  # type: ignore[arg-type]


def test_immutable_and_replace_validates() -> None:
    config = GenerationConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.temperature = 1.0  # type: ignore[misc]
    assert dataclasses.replace(config, top_k=3).top_k == 3
    with pytest.raises(ConfigError):
        dataclasses.replace(config, top_k=-3)


def test_unknown_keys_are_errors_with_a_suggestion() -> None:
    with pytest.raises(
        ConfigError, match="unknown generation parameter 'temprature'.*'temperature'"
    ):
        GenerationConfig.from_mapping({"temprature": 0.5})


def test_stop_becomes_a_tuple_and_zero_temperature_is_greedy() -> None:
    config = GenerationConfig(stop=["a", "b"], temperature=0)  # type: ignore[arg-type]
    assert config.stop == ("a", "b")
    assert config.greedy and isinstance(config.temperature, float)


def test_coerce_parses_text_like_a_user_types_it() -> None:
    assert coerce("temperature", " 0.5 ") == 0.5
    assert coerce("top_k", "40") == 40
    assert coerce("seed", "none") is None
    assert coerce("stop", "###") == ("###",)
    with pytest.raises(ConfigError, match="top_k must be a whole number, got '4.5'"):
        coerce("top_k", "4.5")
    with pytest.raises(ConfigError, match="temperature must be a number, got 'hot'"):
        coerce("temperature", "hot")
