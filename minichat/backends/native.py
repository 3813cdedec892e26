"""``NativeBackend``: Llama-family models on minichat's own TinyGPT code, no transformers.

For an architecture TinyGPT runs exactly (see ``tinygpt.weights``) this is the
fast path: weights load straight from safetensors, the tokenizer and chat
template from the folder's files (``ChatFormat``), and each token costs one
pass through a compact model with a preallocated KV cache. Start-up skips the
transformers import entirely.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import torch

from minichat.backend import Message
from minichat.backends.chat_format import ChatFormat
from minichat.backends.device import resolve_device, resolve_dtype
from minichat.backends.local import LocalBackend
from minichat.errors import ConfigError, ModelLoadError
from minichat.files import replacing
from minichat.paths import cache_dir
from minichat.tinygpt.model import GPTConfig, KVCache, TinyGPT
from minichat.tinygpt.quant import FORMAT, Quant, quantize
from minichat.tinygpt.weights import empty_model, llama_config, load_llama, load_llama_fp32


class NativeTokenModel:
    """The engine's view of TinyGPT: ids in, last logits out, cache kept here."""

    def __init__(self, model: TinyGPT):
        self.model = model
        self.context_length = model.config.context_length
        self.device = model.embed.weight.device
        self.dtype = model.embed.weight.dtype
        self.cache: KVCache | None = None
        self.cached_ids: list[int] = []

    def keep(self, length: int) -> int:
        if self.cache is None:
            self.cache = self.model.new_cache()
        self.cache.length = length  # positions past the length are never read
        return length

    def forward(self, ids: Sequence[int]) -> torch.Tensor:
        input_ids = torch.tensor([list(ids)], device=self.device)
        logits: torch.Tensor = self.model(input_ids, self.cache, last_only=True)[0, -1]
        return logits


class NativeBackend(LocalBackend):
    name: ClassVar[str] = "native"

    def __init__(self, model: TinyGPT, chat_format: ChatFormat, model_id: str):
        self.model_id = model_id
        self.format = chat_format
        self.token_model = NativeTokenModel(model)
        self.context_length = model.config.context_length
        self.end_ids = chat_format.end_ids
        self.extra_stops = chat_format.extra_stops

    def encode(self, messages: Sequence[Message]) -> list[int]:
        return self.format.encode(messages)

    def decode(self, ids: Sequence[int]) -> str:
        return self.format.decode(ids)


def supports(folder: Path) -> bool:
    """Whether the native path runs the model in ``folder`` exactly."""
    return (folder / "tokenizer.json").is_file() and llama_config(folder) is not None


def load_native(
    folder: Path,
    *,
    device: str = "auto",
    dtype: str = "auto",
    model_id: str | None = None,
    kind: type[NativeBackend] = NativeBackend,
    quant: Quant = "none",
) -> NativeBackend:
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target)
    if quant != "none":
        check_quant(quant, target, dtype)
    config = llama_config(folder)
    if config is None:
        raise ModelLoadError(f"{folder} is not a Llama-family model the native path can run")
    try:
        if quant == "none":
            model = load_llama(folder, config, torch_dtype, target)
        else:
            model = load_quantized(folder, config, quant)
        chat_format = ChatFormat(folder)
    except Exception as error:  # safetensors, json and tokenizers each raise their own kinds
        raise ModelLoadError(
            f"cannot load the model in {folder} (corrupt or incomplete?): {error}"
        ) from error
    return kind(model, chat_format, model_id or str(folder))


def check_quant(quant: Quant, device: torch.device, dtype: str) -> None:
    if device.type != "cpu":
        raise ConfigError(
            f"--quant {quant} runs on the CPU only; on {device.type} use --quant none"
        )
    if dtype not in ("auto", "bf16"):
        raise ConfigError(
            f"--quant {quant} computes in bf16; leave --dtype at auto or use --quant none"
        )


def load_quantized(folder: Path, config: GPTConfig, quant: Quant) -> TinyGPT:
    """TinyGPT with quantized matrices (bf16 elsewhere), from the cache when it has them.

    The cache is keyed by the weights' path, size and time, the format and the torch
    version (the int4 layout is the kernel's own); it is written atomically.
    """
    from safetensors.torch import load_file, save_file

    cached = quantized_path(folder, quant)
    if cached.is_file():
        model = empty_model(config)
        quantize(model, quant, empty=True)
        try:
            # copies: the kernels need aligned memory, which tensors read at their offsets
            # in a safetensors file do not always have (a misaligned matrix crashes them)
            state = {name: tensor.clone() for name, tensor in load_file(str(cached)).items()}
            model.load_state_dict(state, strict=True, assign=True)
            return model.eval()
        except Exception:  # a damaged or foreign cache file: quantize again, replace it
            cached.unlink(missing_ok=True)
    model = load_llama_fp32(folder, config)  # quantize from the stored values, not bf16
    quantize(model, quant)
    model = model.to(torch.bfloat16).eval()
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    with replacing(cached) as temporary:
        save_file(state, str(temporary))
    return model


def quantized_path(folder: Path, quant: Quant) -> Path:
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in folder.glob("*.safetensors")]
    key = f"{folder.resolve()}:{stats}:{quant}:{FORMAT}:{torch.__version__}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir() / "quantized" / f"{folder.name}-{quant}-{digest}.safetensors"
