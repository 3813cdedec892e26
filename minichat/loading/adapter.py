"""LoRA adapters in PEFT's format: read, checked against a base model, merged into it.

An adapter folder holds ``adapter_config.json`` (rank, alpha, target modules) and
``adapter_model.safetensors`` with a pair of small matrices per adapted layer, named
as PEFT names them (``base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight``),
so adapters from ``minichat finetune``, PEFT and tools that write PEFT's format load
alike. Merging adds ``scale * B @ A`` to each adapted weight once, at load: decoding
then costs what it costs without an adapter (the fast engine caches the merged,
quantized weights, keyed by ``Adapter.digest``). ``minichat.json``, when present,
names the base model the adapter was trained on. Nothing here needs ``peft``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from minichat.errors import ModelLoadError

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
INFO_FILE = "minichat.json"  # what minichat adds: the base model, the run's settings
PREFIX = "base_model.model."  # PEFT's prefix before the base model's own names


@dataclass(frozen=True)
class Adapter:
    folder: Path
    rank: int
    alpha: float
    rslora: bool  # scale alpha / sqrt(rank) instead of alpha / rank
    base: str | None  # the model it was trained on, as minichat names it
    digest: str  # of the config and the weights: the merged-weights cache key
    label: str  # as the user named it: a shipped adapter's name, or the folder

    @property
    def scale(self) -> float:
        return self.alpha / (math.sqrt(self.rank) if self.rslora else self.rank)

    @cached_property
    def pairs(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The base weight's name -> (A, B), as stored."""
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(self.folder / WEIGHTS_FILE))
        except Exception as error:  # safetensors raises its own kinds on a damaged file
            raise ModelLoadError(f"cannot read the adapter {self.folder}: {error}") from None
        pairs: dict[str, dict[str, torch.Tensor]] = {}
        for key, tensor in tensors.items():
            name = key.removeprefix(PREFIX)
            for part in ("lora_A", "lora_B"):
                marker = f".{part}."  # "...q_proj.lora_A.weight" or "...lora_A.default.weight"
                if marker in name:
                    weight = name[: name.index(marker)] + ".weight"
                    pairs.setdefault(weight, {})[part] = tensor
                    break
            else:
                raise ModelLoadError(
                    f"the adapter {self.folder} holds {key}, which is not a LoRA matrix; "
                    "minichat merges LoRA adapters of linear layers only"
                )
        if any(len(pair) != 2 for pair in pairs.values()) or not pairs:
            raise ModelLoadError(f"the adapter {self.folder} is incomplete: {WEIGHTS_FILE}")
        return {name: (pair["lora_A"], pair["lora_B"]) for name, pair in pairs.items()}

    def blocks(self) -> tuple[str, ...]:
        """The fast engine's names of the blocks it changes (``blocks.3.``), for keeping
        them at 8 bits (``tinygpt.quant``)."""
        found = {int(name.split(".")[2]) for name in self.pairs if name.startswith("model.layers.")}
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
    """The adapter in folder ``path``, its config checked; the weights are read on use."""
    folder = Path(path).expanduser()
    config_file = folder / CONFIG_FILE
    if not folder.is_dir() or not config_file.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise ModelLoadError(
            f"{folder} is not a LoRA adapter: it needs {CONFIG_FILE} and {WEIGHTS_FILE} "
            "(as minichat finetune and PEFT's save_pretrained write them)"
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
        info = _read_info(folder)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot read the adapter {folder}: {error}") from None
    if config.get("peft_type", "LORA") != "LORA":
        raise ModelLoadError(f"{folder} is a {config['peft_type']} adapter; minichat merges LoRA")
    for option in ("use_dora", "fan_in_fan_out"):
        if config.get(option):
            raise ModelLoadError(f"the adapter {folder} uses {option}, which minichat cannot merge")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise ModelLoadError(
            f"the adapter {folder} has per-layer ranks, which minichat cannot merge"
        )
    digest = hashlib.sha256()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        digest.update((folder / name).read_bytes())
    try:
        return Adapter(
            folder=folder,
            rank=int(config["r"]),
            alpha=float(config.get("lora_alpha", config["r"])),
            rslora=bool(config.get("use_rslora", False)),
            base=info.get("base"),
            digest=digest.hexdigest()[:16],
            label=label or str(folder),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(f"{config_file} lacks a valid rank (r): {error}") from None


def _read_info(folder: Path) -> dict[str, Any]:
    path = folder / INFO_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}
