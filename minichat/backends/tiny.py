"""``TinyBackend``: chat with a TinyGPT checkpoint written by ``minichat train``.

A checkpoint is a Llama-layout model folder (see ``tinygpt.checkpoint``), so it
runs on the native path like the default model; this module checks that a
folder really is one, with files that belong together, before it is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from minichat.backends.native import NativeBackend
from minichat.errors import ModelLoadError, ModelNotFoundError

REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


class TinyBackend(NativeBackend):
    name: ClassVar[str] = "tiny"


def check_checkpoint(folder: Path) -> Path:
    """``folder`` if it holds a whole checkpoint; a missing, incomplete or mismatched
    one is an error that says which."""
    from tokenizers import Tokenizer

    if not folder.is_dir():
        raise ModelNotFoundError(
            f"no TinyGPT checkpoint at {folder}: train one with `minichat train --out {folder}`"
        )
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"{folder} is not a complete TinyGPT checkpoint: {', '.join(missing)} missing"
        )
    try:
        model_vocabulary = int(json.loads((folder / "config.json").read_text())["vocab_size"])
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as error:  # json, key and tokenizers errors alike
        raise ModelLoadError(f"{folder}: damaged config.json or tokenizer.json ({error})") from None
    vocabulary = tokenizer.get_vocab_size(with_added_tokens=True)
    if vocabulary > model_vocabulary:
        raise ModelLoadError(
            f"{folder}: the tokenizer has {vocabulary} ids but the model only "
            f"{model_vocabulary}; the files come from different runs"
        )
    return folder
