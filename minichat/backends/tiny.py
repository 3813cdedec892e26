"""``TinyBackend``: chat with a TinyGPT checkpoint written by ``minichat train``.

A checkpoint is a Llama-layout model folder (see ``tinygpt.checkpoint``), so it
runs on the native path like the default model; this module checks that a folder really
is one before loading it.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from minichat.backends.device import resolve_device
from minichat.backends.native import NativeBackend, load_native
from minichat.errors import ModelLoadError, ModelNotFoundError

REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


class TinyBackend(NativeBackend):
    name: ClassVar[str] = "tiny"


def load_tiny(folder: Path, *, device: str, dtype: str, model_id: str) -> NativeBackend:
    """The checkpoint in ``folder``; a missing, incomplete or mismatched one is an error."""
    if not folder.is_dir():
        raise ModelNotFoundError(
            f"no TinyGPT checkpoint at {folder}: train one with `minichat train --out {folder}`"
        )
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"{folder} is not a complete TinyGPT checkpoint: {', '.join(missing)} missing"
        )
    if dtype == "auto" and resolve_device(device).type == "cpu":
        # a model this small is bound by per-token overhead, not memory: fp32 decodes
        # faster than bf16 here and keeps its speed late in the context (bench/train.py)
        dtype = "fp32"
    backend = load_native(folder, device=device, dtype=dtype, model_id=model_id, kind=TinyBackend)
    vocabulary = backend.format.tokenizer.get_vocab_size(with_added_tokens=True)
    if vocabulary > backend.token_model.model.config.vocab_size:
        raise ModelLoadError(
            f"{folder}: the tokenizer has {vocabulary} ids but the model only "
            f"{backend.token_model.model.config.vocab_size}; the files come from different runs"
        )
    return backend
