"""Layered settings: defaults < config file < environment < flags, each error named."""

from __future__ import annotations

from pathlib import Path

import pytest

from minichat.errors import ConfigError
from minichat.settings.layered import default_config_file, load_settings


def write_config(text: str) -> Path:
    path = default_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = load_settings({}, environ={})
    assert settings.model == "smollm2" and settings.generation.temperature == 0.7
    assert set(settings.sources.values()) == {"default"}


def test_each_layer_overrides_the_one_below() -> None:
    path = write_config("temperature: 0.1\ntop_k: 5\nmodel: echo\nstop: ['###']\n")
    environ = {"MINICHAT_TOP_K": "7", "MINICHAT_SEED": "3"}
    settings = load_settings({"seed": "9", "temperature": None}, environ=environ)
    assert settings.model == "echo"
    assert settings.generation.temperature == 0.1
    assert settings.generation.top_k == 7
    assert settings.generation.seed == 9
    assert settings.generation.stop == ("###",)
    assert settings.sources["temperature"] == f"config file {path}"
    assert settings.sources["top_k"] == "env MINICHAT_TOP_K"
    assert settings.sources["seed"] == "flag --seed"
    assert settings.sources["top_p"] == "default"


def test_explicit_config_file(tmp_path: Path) -> None:
    path = tmp_path / "my.yaml"
    path.write_text("max_new_tokens: 64\n")
    settings = load_settings({}, config_file=path, environ={})
    assert settings.generation.max_new_tokens == 64
    assert settings.sources["max_new_tokens"] == f"config file {path}"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("temprature: 0.5\n", "unknown setting 'temprature'; did you mean 'temperature'"),
        ("top_p: 3\n", "top_p must be in"),
        ("temperature: [1\n", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        ("device: gpu\n", "device must be one of"),
    ],
)
def test_bad_config_file_names_the_file(text: str, words: str) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError, match=words) as error:
        load_settings({}, environ={})
    assert str(path) in str(error.value)


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({}, config_file=tmp_path / "nope.yaml", environ={})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="env MINICHAT_TEMPERATURE: temperature must be a number"):
        load_settings({}, environ={"MINICHAT_TEMPERATURE": "warm"})


def test_bad_flag_names_the_flag() -> None:
    with pytest.raises(ConfigError, match="flag --max-new-tokens: max_new_tokens must be from 1"):
        load_settings({"max_new_tokens": "0"}, environ={})
