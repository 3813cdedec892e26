"""The loading choices a user makes (model, device, dtype, engine, quantization,
compiled step), checked by name alone: no torch, no backend is imported here, so
settings and flags are validated at start-up for free.
"""

from __future__ import annotations

from minichat.errors import ConfigError

DEFAULT_MODEL = "smollm2"
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "fp32", "fp16", "bf16")
ENGINES = ("auto", "fast", "hf")
QUANT_CHOICES = ("auto", "none", "int8", "int4")
COMPILE_CHOICES = ("auto", "wait", "off")


def check_device_name(name: str) -> str:
    base, _, index = name.partition(":")
    if base not in DEVICES or (index and (base != "cuda" or not index.isdigit())):
        raise ConfigError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {name!r}")
    return name


def check_dtype_name(name: str) -> str:
    if name not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return name


def check_engine(engine: str, quant: str) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if quant not in QUANT_CHOICES:
        raise ConfigError(f"quant must be one of {', '.join(QUANT_CHOICES)}, got {quant!r}")
    if engine == "hf" and quant in ("int8", "int4"):
        raise ConfigError(f"--quant {quant} needs the fast engine; drop --engine hf")


def check_compile(value: str) -> str:
    if value not in COMPILE_CHOICES:
        raise ConfigError(f"compile must be one of {', '.join(COMPILE_CHOICES)}, got {value!r}")
    return value
