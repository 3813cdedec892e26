"""Layered settings: defaults < config file < environment < flags.

The config file is YAML (``config.yaml`` in the user's config directory, or
``--config FILE``); the environment uses ``MINICHAT_<KEY>`` (``MINICHAT_MODEL``,
``MINICHAT_TEMPERATURE``, ...). Each value is checked where it comes from, so an
error names its source, and ``Settings.sources`` records where every effective
value came from for ``minichat config``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minichat.config import GenerationConfig, coerce, fitting_reply_limit
from minichat.errors import ConfigError
from minichat.loading.choices import (
    DEFAULT_MODEL,
    check_compile,
    check_device_name,
    check_dtype_name,
    check_engine,
)
from minichat.safety.files import read_regular
from minichat.settings.params import FIELD_NAMES
from minichat.settings.paths import config_dir

MODEL_KEYS = (
    "model",
    "device",
    "dtype",
    "engine",
    "quant",
    "compile",
    "adapter",
    "system",
    "openai_api_key",
)
SECRET_KEYS = ("openai_api_key",)  # shown masked by `minichat config`
KEYS = (*MODEL_KEYS, *FIELD_NAMES)
ENV_PREFIX = "MINICHAT_"
CONFIG_BYTES = 1 << 20  # a config file of settings is a few lines


def flag_name(key: str) -> str:
    """How the command line spells the flag for setting ``key`` in full."""
    return "--" + key.replace("_", "-")


def env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


@dataclass(frozen=True)
class Settings:
    model: str = DEFAULT_MODEL
    device: str = "auto"
    dtype: str = "auto"
    engine: str = "auto"  # local path: fast (TinyGPT's code), hf (transformers) or auto
    quant: str = "auto"  # fast path weights: none, int8, int4; auto: int4 (AVX2: int8), smollm2
    compile: str = "auto"  # the fast path's compiled decode step: auto, wait or off
    # a LoRA adapter for a local model: a folder or a shipped name; off; auto: the model's
    # tool-use adapter while tools are on (smollm2-tools for smollm2)
    adapter: str = "auto"
    system: str | None = None  # None: the model's own default system prompt, if any
    openai_api_key: str | None = None  # for openai:MODEL@URL; OPENAI_API_KEY also works
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    sources: Mapping[str, str] = field(default_factory=dict)  # key -> where its value came from
    config_file: Path | None = None
    # the config file's MCP servers: name -> how to reach it (read by tools.mcp.declared)
    mcp_servers: Mapping[str, Any] = field(default_factory=dict)

    def generation_for(self, context_length: int) -> GenerationConfig:
        """The decoding parameters for a model with this context length."""
        if self.sources.get("max_new_tokens", "default") != "default":
            return self.generation
        return fitting_reply_limit(self.generation, context_length)

    def value(self, key: str) -> Any:
        if key in MODEL_KEYS:
            return getattr(self, key)
        return getattr(self.generation, key)


def default_config_file() -> Path:
    return config_dir() / "config.yaml"


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every layer; ``flags`` maps keys to what was given on the command line
    (None for flags left out; text for numbers, to be parsed like any other input)."""
    environ = os.environ if environ is None else environ
    layers: list[tuple[str, dict[str, Any]]] = []
    file = config_file or default_config_file()
    servers: Any = {}
    if config_file is not None or file.is_file():
        read = _read_config_file(file)
        # mcpServers: the spelling other tools' config files use
        for key in ("mcp_servers", "mcpServers"):
            found = read.pop(key, None) or {}
            if not isinstance(found, Mapping):
                raise ConfigError(f"config file {file}: {key} must map names to servers")
            servers = {**servers, **found}
        layers.append((f"config file {file}", read))
    for key in KEYS:
        name = env_name(key)
        if environ.get(name):
            layers.append((f"env {name}", {key: environ[name]}))
    for key, value in (flags or {}).items():
        if value is not None and value != ():
            layers.append((f"flag {flag_name(key)}", {key: value}))

    values: dict[str, Any] = {}
    sources = dict.fromkeys(KEYS, "default")
    generation = GenerationConfig()
    for source, layer in layers:
        for key, raw in layer.items():
            try:
                value = _parse(key, raw)
                if key in FIELD_NAMES:
                    generation = generation.with_values(**{key: value})
                else:
                    values[key] = value
            except ConfigError as error:
                raise ConfigError(f"{source}: {error}") from None
            sources[key] = source
    return Settings(
        **values,
        generation=generation,
        sources=sources,
        config_file=file if file.is_file() else None,
        mcp_servers=dict(servers),
    )


def _parse(key: str, raw: Any) -> Any:
    if key not in KEYS:
        close = difflib.get_close_matches(key, KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(KEYS)}"
        raise ConfigError(f"unknown setting {key!r}{hint}")
    if key in MODEL_KEYS:
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigError(f"{key} must be a non-empty string, got {raw!r}")
        if key == "device":
            return check_device_name(raw)
        if key == "dtype":
            return check_dtype_name(raw)
        if key == "engine":
            check_engine(raw, "auto")
        if key == "quant":
            check_engine("auto", raw)
        if key == "compile":
            return check_compile(raw)
        return raw
    if key == "stop" and isinstance(raw, (list, tuple)):
        return tuple(raw)
    return coerce(key, raw) if isinstance(raw, str) else raw


def _read_config_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        raw = read_regular(path, CONFIG_BYTES)
        if len(raw) > CONFIG_BYTES:
            raise ConfigError(f"config file {path} is larger than {CONFIG_BYTES >> 10} KiB")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of setting: value")
    return {str(key): value for key, value in data.items()}
