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
from minichat.backends.compiled import Builds, package_path
from minichat.backends.device import resolve_device, resolve_dtype
from minichat.backends.local import LocalBackend
from minichat.errors import ConfigError, ModelLoadError
from minichat.files import replacing
from minichat.paths import cache_dir
from minichat.tinygpt.aot import MIN_LENGTH, CompiledStep, fingerprint
from minichat.tinygpt.model import GPTConfig, KVCache, TinyGPT
from minichat.tinygpt.quant import FORMAT, Quant, quantize
from minichat.tinygpt.weights import empty_model, llama_config, load_llama, load_llama_fp32


class NativeTokenModel:
    """The engine's view of TinyGPT: ids in, last logits out, cache kept here.

    One new token after a cached prefix goes through the compiled step when there is
    one (``backends.compiled``); a build still running is checked for at each reply.
    """

    def __init__(self, model: TinyGPT):
        self.model = model
        self.context_length = model.config.context_length
        self.device = model.embed.weight.device
        self.dtype = model.embed.weight.dtype
        self.cache: KVCache | None = None
        self.cached_ids: list[int] = []
        self.compiled: CompiledStep | None = None
        self.pending: Builds | None = None  # a build in the background, not landed yet

    def keep(self, length: int) -> int:
        self.pick_up()
        if self.cache is None:
            self.cache = self.model.new_cache()
        self.cache.length = length  # positions past the length are never read
        return length

    def forward(self, ids: Sequence[int]) -> torch.Tensor:
        cache = self.cache
        # one token after at least MIN_LENGTH cached ones: the compiled step's one shape
        one_step = cache is not None and len(ids) == 1 and cache.length >= MIN_LENGTH
        if self.compiled is not None and cache is not None and one_step:
            logits, keys, values = self.compiled(torch.tensor(ids), *cache.prefix())
            cache.append(keys, values)
            return logits
        input_ids = torch.tensor([list(ids)], device=self.device)
        logits_all: torch.Tensor = self.model(input_ids, cache, last_only=True)
        return logits_all[0, -1]

    def use_compiled(self, builds: Builds) -> None:
        """Decode through the package ``builds`` names; a damaged one is removed."""
        try:
            self.compiled = CompiledStep(builds.package, self.model)
        except Exception:  # truncated or foreign: the next start builds it again
            builds.package.unlink(missing_ok=True)

    def pick_up(self) -> None:
        if self.pending is None:
            return
        if self.pending.package.is_file():
            self.use_compiled(self.pending)
            self.pending = None
        elif not self.pending.building():
            self.pending = None  # it failed; its note says why

    def step_state(self) -> str:
        if self.compiled is not None:
            return "compiled step"
        return "eager, compiling in the background" if self.pending is not None else "eager"


class NativeBackend(LocalBackend):
    name: ClassVar[str] = "native"

    quant: Quant = "none"
    compile_failure: str | None = None  # why the compiled step could not be built

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

    def describe(self) -> str:
        quant = "" if self.quant == "none" else f", {self.quant}"
        note = self.token_model.step_state() if self.token_model.device.type == "cpu" else ""
        if self.compile_failure:
            note = f"eager (the compiled step failed to build: {self.compile_failure})"
        return f"{super().describe()}{quant}" + (f", {note}" if note else "")


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
    compile: str = "off",
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
    backend = kind(model, chat_format, model_id or str(folder))
    backend.quant = quant
    if target.type == "cpu" and compile != "off":
        prepare_compiled(backend, folder, dtype, compile)
    return backend


def prepare_compiled(backend: NativeBackend, folder: Path, dtype: str, compile: str) -> None:
    """Use the compiled step if it is cached; else build it now (``wait``) or in the
    background (``auto``), unless an earlier build failed (see ``backends.compiled``)."""
    token_model = backend.token_model
    builds = Builds(package_path(fingerprint(token_model.model)))
    if not builds.package.is_file():
        backend.compile_failure = builds.failure()
        if backend.compile_failure is not None:
            return
        if compile == "auto":
            builds.start(folder, backend.quant, dtype)
            token_model.pending = builds
            return
        try:
            builds.build_here(token_model.model)
        except Exception as error:
            raise ModelLoadError(
                f"could not build the compiled decode step ({error}); "
                "run with --compile off to decode without it"
            ) from error
    token_model.use_compiled(builds)


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
