"""Convert a GGUF file once into a safetensors folder in the user's cache.

Transformers can read GGUF, but it dequantises every tensor on each load
(~15 s for the default model on a 2-core CPU). We pay that once: the result is
written to a temporary folder and renamed into place, so an interrupted
conversion never leaves a half-written model behind; later loads read the
safetensors folder in well under a second.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from minichat.errors import ModelLoadError
from minichat.settings.paths import cache_dir


def converted_path(gguf_file: Path) -> Path:
    """Where the conversion of this exact file lives (keyed by path, size, mtime)."""
    stat = gguf_file.stat()
    key = f"{gguf_file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir() / "models" / f"{gguf_file.stem}-{digest}"


def ensure_converted(gguf_file: Path) -> Path:
    """Return the converted folder for ``gguf_file``, converting it if needed."""
    target = converted_path(gguf_file)
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    print(
        f"minichat: converting {gguf_file.name} to safetensors once, into {target} "
        "(about 15 s; later starts take under a second)",
        file=sys.stderr,
    )
    try:
        _convert(gguf_file, partial)
        if target.exists():  # a stale, incomplete folder from an older minichat
            shutil.rmtree(target)
        try:
            os.replace(partial, target)
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent conversion: a failure
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _convert(gguf_file: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    folder, name = str(gguf_file.parent), gguf_file.name
    logging.enable_progress_bar()  # the per-tensor dequantisation bar is our progress bar
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model: Any = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    except Exception as error:  # the gguf reader raises many kinds on a bad file
        raise ModelLoadError(f"cannot read GGUF file {gguf_file}: {error}") from error
    finally:
        logging.disable_progress_bar()
    # The weights are dequantised now: save them as a plain model, not as GGUF.
    del model.config.quantization_config
    model.hf_quantizer = None
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
