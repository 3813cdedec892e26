"""LoRA adapters in PEFT's format: read, checked against a base model, merged into it.

An adapter folder holds ``adapter_config.json`` (rank, alpha, target modules) and
``adapter_model.safetensors`` with a pair of small matrices per adapted layer, named
as PEFT names them (``base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight``),
so adapters from ``minichat finetune``, PEFT and tools that write PEFT's format load
alike. Merging adds ``scale * B @ A`` to each adapted weight once, at load: decoding
then costs what it costs without an adapter (the fast engine caches the merged,
quantized weights, keyed by ``Adapter.digest``). ``minichat.json``, when present,
names the base model the adapter was trained on. Nothing here needs ``peft``.

An adapter may come from anywhere, so reading one checks everything merging relies
on, and refuses in one line naming the adapter what would not give a working model:
files that are not regular files or are over their caps (``CONFIG_LIMIT``,
``WEIGHTS_LIMIT``), a config that is no JSON object or lacks a sound rank and alpha,
matrices that are not floating point, not 2-D, not finite, of a rank other than the
config's, or that would change a weight by more than ``MAX_CHANGE``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from minichat.errors import ModelLoadError
from minichat.safety.files import NotRegularFile, read_regular
from minichat.safety.untrusted import one_line

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
INFO_FILE = "minichat.json"  # what minichat adds: the base model, the run's settings
PREFIX = "base_model.model."  # PEFT's prefix before the base model's own names
CONFIG_LIMIT = 2**20  # adapter_config.json and minichat.json: a few kB in practice
# adapter_model.safetensors: rank 64 on every layer of an 8B model is half of this
WEIGHTS_LIMIT = 2**30
# the most merging may change a weight by: trained adapters change weights (of order
# one) by hundredths, the shipped one by 0.06 at most; a thousand is a broken adapter,
# whose model would answer nothing
MAX_CHANGE = 1000.0
FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass(frozen=True)
class Adapter:
    folder: Path
    rank: int
    alpha: float
    rslora: bool  # scale alpha / sqrt(rank) instead of alpha / rank
    base: str | None  # the model it was trained on, as minichat names it
    digest: str  # of the config and the weights: the merged-weights cache key
    label: str  # as the user named it: a shipped adapter's name, or the folder
    # the base weight's name -> (A, B), as stored, checked
    pairs: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(repr=False, compare=False)

    @property
    def scale(self) -> float:
        return self.alpha / (math.sqrt(self.rank) if self.rslora else self.rank)

    def blocks(self) -> tuple[str, ...]:
        """The fast engine's names of the blocks it changes (``blocks.3.``), for keeping
        them at 8 bits (``tinygpt.quant``)."""
        parts = [name.split(".") for name in self.pairs if name.startswith("model.layers.")]
        found = {int(p[2]) for p in parts if p[2].isdigit()}
        return tuple(f"blocks.{i}." for i in sorted(found))

    def delta(self, name: str) -> torch.Tensor:
        """What merging adds to the base weight ``name`` (out x in), in fp32."""
        a, b = self.pairs[name]
        return (b.float() @ a.float()) * self.scale

    def merge_into(self, weights: dict[str, torch.Tensor], model: str) -> None:
        """Add every delta to ``weights`` (the base model's tensors by their transformers
        names), in fp32. A layer the base lacks, or of another shape, means the adapter
        was trained on another model: refused in one line, ``weights`` left as they were."""
        self.check_base(
            {name: tuple(weights[name].shape) for name in self.pairs if name in weights}, model
        )
        for name in self.pairs:
            weights[name] = weights[name].float() + self.delta(name)

    def check_base(self, shapes: dict[str, tuple[int, ...]], model: str) -> None:
        for name, (a, b) in self.pairs.items():
            shape = shapes.get(name)
            if shape != (b.shape[0], a.shape[1]):
                trained = f" (it was trained on {self.base})" if self.base else ""
                found = "has no such layer" if shape is None else f"has shape {list(shape)}"
                raise ModelLoadError(
                    f"the adapter {self.folder} was made for another model{trained}: "
                    f"it changes {name} as {[b.shape[0], a.shape[1]]}, but {model} {found}"
                )


def read_adapter(path: str | Path, label: str | None = None) -> Adapter:
    """The adapter in folder ``path``, its config and weights read and checked: anything
    that would not merge into a working model is refused here, in one line."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ModelLoadError(_not_an_adapter(folder))
    config_bytes = _read(folder, CONFIG_FILE, CONFIG_LIMIT)
    weights_bytes = _read(folder, WEIGHTS_FILE, WEIGHTS_LIMIT)
    # minichat.json is optional: absent (or a dangling link) is no error, a FIFO is
    has_info = os.path.exists(folder / INFO_FILE)
    info_bytes = _read(folder, INFO_FILE, CONFIG_LIMIT) if has_info else None
    config = _json(folder, CONFIG_FILE, config_bytes)
    info = _json(folder, INFO_FILE, info_bytes) if info_bytes is not None else {}
    _check_kind(folder, config)
    rank, alpha = _rank(folder, config), _alpha(folder, config)
    rslora = config.get("use_rslora", False)
    if not isinstance(rslora, bool):
        raise _bad(folder, f"use_rslora must be true or false, not {_shown(rslora)}")
    base = info.get("base")
    if base is not None and not isinstance(base, str):
        raise _bad(folder, f'{INFO_FILE}: "base" must be a model\'s name, not {_shown(base)}')
    digest = hashlib.sha256(config_bytes)
    digest.update(weights_bytes)
    adapter = Adapter(
        folder=folder,
        rank=rank,
        alpha=alpha,
        rslora=rslora,
        base=base,
        digest=digest.hexdigest()[:16],
        label=label or str(folder),
        pairs=_pairs(folder, weights_bytes, rank),
    )
    _check_change(adapter)
    return adapter


def _not_an_adapter(folder: Path) -> str:
    return (
        f"{folder} is not a LoRA adapter: it needs {CONFIG_FILE} and {WEIGHTS_FILE} "
        "(as minichat finetune and PEFT's save_pretrained write them)"
    )


def _bad(folder: Path, what: str) -> ModelLoadError:
    return ModelLoadError(f"the adapter {folder}: {what}")


def _shown(value: Any) -> str:
    """A value from the adapter's files, as an error shows it: short, and escaped."""
    return one_line(repr(value), 60)


def _read(folder: Path, name: str, limit: int) -> bytes:
    """The bytes of one of the adapter's files: a regular file of at most ``limit``
    bytes (a device would be read forever, a FIFO waited on)."""
    try:
        data = read_regular(folder / name, limit)
    except FileNotFoundError:
        raise ModelLoadError(_not_an_adapter(folder)) from None
    except NotRegularFile as error:
        raise _bad(folder, f"{error}; an adapter's files are regular files") from None
    except OSError as error:
        raise _bad(folder, f"cannot read {name}: {error.strerror or error}") from None
    if len(data) > limit:
        size = f"{limit // 2**30} GiB" if limit % 2**30 == 0 else f"{limit // 2**20} MiB"
        raise _bad(folder, f"{name} is over {size}, more than any LoRA adapter minichat merges")
    return data


def _json(folder: Path, name: str, data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        reason = "nested too deeply" if isinstance(error, RecursionError) else error
        raise _bad(folder, f"{name} is not JSON: {one_line(str(reason), 120)}") from None
    if not isinstance(value, dict):
        raise _bad(folder, f"{name} is not a JSON object but {_shown(value)}")
    return value


def _check_kind(folder: Path, config: dict[str, Any]) -> None:
    """Only plain LoRA merges as ``scale * B @ A``."""
    kind = config.get("peft_type", "LORA")
    if kind != "LORA":
        raise _bad(folder, f"it is a {_shown(kind)} adapter; minichat merges LoRA")
    for option in ("use_dora", "fan_in_fan_out"):
        if config.get(option):
            raise ModelLoadError(f"the adapter {folder} uses {option}, which minichat cannot merge")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise ModelLoadError(
            f"the adapter {folder} has per-layer ranks, which minichat cannot merge"
        )


def _rank(folder: Path, config: dict[str, Any]) -> int:
    if "r" not in config:
        raise _bad(folder, f"{CONFIG_FILE} has no rank (r)")
    rank = config["r"]
    whole = isinstance(rank, int | float) and not isinstance(rank, bool)
    if not (whole and math.isfinite(rank) and rank == int(rank) and rank >= 1):
        raise _bad(folder, f"r must be a whole number of 1 or more, not {_shown(rank)}")
    return int(rank)


def _alpha(folder: Path, config: dict[str, Any]) -> float:
    alpha = config.get("lora_alpha", config["r"])
    number = isinstance(alpha, int | float) and not isinstance(alpha, bool)
    if not (number and math.isfinite(alpha) and alpha > 0):
        raise _bad(folder, f"lora_alpha must be a number above 0, not {_shown(alpha)}")
    return float(alpha)


def _pairs(folder: Path, data: bytes, rank: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The (A, B) pair of each adapted weight, each matrix checked: floating point,
    two dimensions, finite, of the config's rank."""
    from safetensors.torch import load

    try:
        tensors = load(data)
    except Exception as error:  # safetensors raises its own kinds on a damaged file
        raise _bad(folder, f"{WEIGHTS_FILE} is damaged: {one_line(str(error), 120)}") from None
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        shown = one_line(key, 200)  # a name from the file, as errors show it
        name, part = _weight_of(key)
        if name is None:
            raise _bad(
                folder,
                f"it holds {shown}, which is not a LoRA matrix; "
                "minichat merges LoRA adapters of linear layers only",
            )
        if part in pairs.setdefault(name, {}):
            raise _bad(folder, f"it holds two {part} matrices for {one_line(name, 200)}")
        _check_matrix(folder, shown, tensor)
        pairs[name][part] = tensor
    if any(len(pair) != 2 for pair in pairs.values()) or not pairs:
        raise _bad(
            folder, f"it is incomplete: {WEIGHTS_FILE} needs a lora_A and a lora_B per layer"
        )
    for name, pair in pairs.items():
        a, b = pair["lora_A"], pair["lora_B"]
        if a.shape[0] != rank or b.shape[1] != rank:
            raise _bad(
                folder,
                f"{one_line(name, 200)} has rank {a.shape[0]} in lora_A and {b.shape[1]} "
                f"in lora_B, but {CONFIG_FILE} says r = {rank}",
            )
    return {name: (pair["lora_A"], pair["lora_B"]) for name, pair in pairs.items()}


def _weight_of(key: str) -> tuple[str | None, str]:
    """The base weight a LoRA matrix changes, and which matrix it is: PEFT names them
    ``...q_proj.lora_A.weight`` or ``...q_proj.lora_A.default.weight``."""
    name = key.removeprefix(PREFIX)
    for part in ("lora_A", "lora_B"):
        marker = f".{part}."
        if marker in name:
            return name[: name.index(marker)] + ".weight", part
    return None, ""


def _check_matrix(folder: Path, key: str, tensor: torch.Tensor) -> None:
    if tensor.dtype not in FLOATS:
        kind = str(tensor.dtype).removeprefix("torch.")
        raise _bad(folder, f"{key} is {kind}; LoRA matrices are floating point")
    if tensor.dim() != 2:
        dimensions = "dimension" if tensor.dim() == 1 else "dimensions"
        raise _bad(folder, f"{key} has {tensor.dim()} {dimensions}; a LoRA matrix has 2")
    if not torch.isfinite(tensor).all():
        raise _bad(
            folder,
            f"{key} holds NaN or infinite values: its training diverged; "
            "train it again with a lower --lr",
        )


def _check_change(adapter: Adapter) -> None:
    """Refuse an adapter that would change a weight by more than ``MAX_CHANGE``: each
    entry of B @ A is at most the largest row sum of |B| times the largest |A|, so the
    exact change is worked out only where that bound is over the limit."""
    for name, (a, b) in adapter.pairs.items():
        bound = adapter.scale * b.double().abs().sum(1).max().item() * a.double().abs().max().item()
        if bound <= MAX_CHANGE:
            continue
        change = adapter.delta(name).abs().max().item()
        if not change <= MAX_CHANGE:  # NaN too, where fp32 overflowed
            raise _bad(
                adapter.folder,
                f"it would change {one_line(name, 200)} by up to {change:.3g}, where a trained "
                f"adapter changes weights by hundredths: its lora_alpha ({adapter.alpha:g}) "
                "or weights are out of range",
            )
