"""``NativeBackend``: Llama-family models on minichat's own TinyGPT code, no transformers.

For an architecture TinyGPT runs exactly (see ``tinygpt.weights``) this is the
fast path: weights load straight from safetensors, the tokenizer and chat
template from the folder's files (``ChatFormat``), and each token costs one
pass through a compact model with a preallocated KV cache. Start-up skips the
transformers import entirely.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import torch

from minichat.backend import Message
from minichat.backends.chat_format import ChatFormat
from minichat.backends.device import resolve_device, resolve_dtype
from minichat.backends.local import LocalBackend
from minichat.errors import ModelLoadError
from minichat.tinygpt.model import KVCache, TinyGPT
from minichat.tinygpt.weights import llama_config, load_llama


class NativeTokenModel:
    """The engine's view of TinyGPT: ids in, last logits out, cache kept here."""

    def __init__(self, model: TinyGPT):
        self.model = model
        self.context_length = model.config.context_length
        self.device = model.embed.weight.device
        self.dtype = model.embed.weight.dtype
        self.cache: KVCache | None = None

    def reset(self) -> None:
        if self.cache is None:
            self.cache = self.model.new_cache()
        self.cache.length = 0  # positions past the length are never read

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
) -> NativeBackend:
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target)
    config = llama_config(folder)
    if config is None:
        raise ModelLoadError(f"{folder} is not a Llama-family model the native path can run")
    try:
        model = load_llama(folder, config, torch_dtype, target)
        chat_format = ChatFormat(folder)
    except Exception as error:  # safetensors, json and tokenizers each raise their own kinds
        raise ModelLoadError(
            f"cannot load the model in {folder} (corrupt or incomplete?): {error}"
        ) from error
    return kind(model, chat_format, model_id or str(folder))
