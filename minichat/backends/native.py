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
from minichat.backends.local import LocalBackend
from minichat.errors import ConfigError, ModelLoadError
from minichat.loading.adapter import Adapter
from minichat.loading.compiled import Builds, package_path
from minichat.loading.device import resolve_device, resolve_dtype
from minichat.prompt.template import ChatFormat
from minichat.safety.files import replacing
from minichat.settings.paths import cache_dir
from minichat.tinygpt import kernels
from minichat.tinygpt.aot import MIN_LENGTH, CompiledStep, fingerprint
from minichat.tinygpt.model import GPTConfig, KVCache, TinyGPT
from minichat.tinygpt.quant import FORMAT, Quant, prepare, quantize
from minichat.tinygpt.weights import (
    Merge,
    empty_model,
    llama_config,
    load_llama,
    load_llama_fp32,
)


class NativeTokenModel:
    """The engine's view of TinyGPT: ids in, last logits out, cache kept here.

    One new token after a cached prefix goes through the compiled step when there is
    one (``loading.compiled``); a build under way in the background is looked for at
    the start of each reply (``keep``), and a step that fails falls back to the eager
    network for good, losing nothing: the step only reads the cache.
    """

    def __init__(self, model: TinyGPT):
        self.model = model
        self.context_length = model.config.context_length
        self.device = model.embed.weight.device
        self.dtype = model.norm.weight.dtype  # the activations' (a quantized table is bf16)
        self.cache: KVCache | None = None
        self.cached_ids: list[int] = []
        self.compiled: CompiledStep | None = None
        self.pending: Builds | None = None  # a build in the background, not landed yet
        self.failure: str | None = None  # why there is no compiled step, if it failed

    def keep(self, length: int) -> int:
        self.pick_up()  # a reply starts here: the moment to switch to a landed build
        if self.cache is None:
            self.cache = self.model.new_cache()
        self.cache.length = length  # positions past the length are never read
        return length

    def forward(self, ids: Sequence[int]) -> torch.Tensor:
        logits = self._compiled_forward(ids) if self.compiled is not None else None
        if logits is not None:
            return logits
        input_ids = torch.tensor([list(ids)], device=self.device)
        logits_all: torch.Tensor = self.model(input_ids, self.cache, last_only=True)
        return logits_all[0, -1]

    def _compiled_forward(self, ids: Sequence[int]) -> torch.Tensor | None:
        """The compiled step's logits, or None where it does not apply: not one token
        after MIN_LENGTH cached ones, or a full context (the eager path says so)."""
        cache, compiled = self.cache, self.compiled
        if cache is None or compiled is None or len(ids) != 1:
            return None
        if not MIN_LENGTH <= cache.length < self.context_length:
            return None
        try:
            logits, keys, values = compiled(torch.tensor(ids), *cache.prefix())
        except RuntimeError as error:
            self.compiled = None
            self.failure = f"it failed while decoding: {error}".splitlines()[0]
            return None
        cache.append(keys, values)
        return logits

    def use_compiled(self, builds: Builds) -> None:
        """Decode through the package ``builds`` names. One that does not load (damaged,
        or built for another torch) is removed and noted, so it is not rebuilt in a loop."""
        try:
            # built with the step, and called by it: made again if it has gone since
            kernels.accelerate(self.model, build_first=True)
            self.compiled = CompiledStep(builds.package, self.model)
        except Exception as error:
            builds.note_failure(error)
            builds.package.unlink(missing_ok=True)
            self.failure = builds.failure()

    def pick_up(self) -> None:
        """Switch to a background build that has landed, or note that it failed. The
        build makes minichat's kernels first, where wanted: the eager model takes them
        up as soon as they are there, well before the step."""
        if self.pending is None:
            return
        kernels.accelerate(self.model, build_first=False)
        if self.pending.building():
            return
        if self.pending.package.is_file():
            self.use_compiled(self.pending)
        else:
            self.failure = self.pending.failure() or "the build stopped"
        self.pending = None

    def step_state(self) -> str:
        self.pick_up()
        if self.compiled is not None:
            return "compiled step"
        if self.pending is not None:
            return "eager, compiling in the background"
        return f"eager (no compiled step: {self.failure})" if self.failure else "eager"


class NativeBackend(LocalBackend):
    name: ClassVar[str] = "native"

    quant: Quant = "none"

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

    def tokenizer_json(self) -> str:
        return str(self.format.tokenizer.to_str())

    def describe(self) -> str:
        note = self.token_model.step_state() if self.token_model.device.type == "cpu" else ""
        quant = "" if self.quant == "none" else f", {self.quant}"
        if any(getattr(layer, "fast", False) for layer in self.token_model.model.modules()):
            quant += " (minichat's kernels)"  # tinygpt.kernels: taken up by step_state too
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
    adapter: Adapter | None = None,
) -> NativeBackend:
    """The model in ``folder`` on the fast path, ``adapter`` merged into its weights."""
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target)
    if quant != "none":
        check_quant(quant, target)
    config = llama_config(folder)
    if config is None:
        raise ModelLoadError(f"{folder} is not a Llama-family model the native path can run")
    label = model_id or str(folder)
    merge: Merge | None = None
    if adapter is not None:
        merge = lambda weights: adapter.merge_into(weights, label)  # noqa: E731
    try:
        if quant == "none":
            model = load_llama(folder, config, torch_dtype, target, merge)
        else:
            model = load_quantized(folder, config, quant, torch_dtype, adapter, merge)
        chat_format = ChatFormat(folder)
    except ModelLoadError:
        raise
    except Exception as error:  # safetensors, json and tokenizers each raise their own kinds
        raise ModelLoadError(
            f"cannot load the model in {folder} (corrupt or incomplete?): {error}"
        ) from error
    backend = kind(model, chat_format, label)
    backend.quant = quant
    backend.adapter = adapter.label if adapter is not None else None
    if target.type == "cpu" and compile != "off":
        prepare_compiled(backend, folder, dtype, compile, adapter)
    return backend


def prepare_compiled(
    backend: NativeBackend, folder: Path, dtype: str, compile: str, adapter: Adapter | None = None
) -> None:
    """Use the compiled step if it is cached; else build it now (``wait``) or in the
    background (``auto``), unless an earlier build failed (see ``loading.compiled``)."""
    token_model = backend.token_model
    builds = Builds(package_path(fingerprint(token_model.model)))
    if not builds.package.is_file():
        token_model.failure = builds.failure()
        if compile == "auto":
            where = adapter.folder if adapter is not None else None
            if token_model.failure is None and builds.start(folder, backend.quant, dtype, where):
                token_model.pending = builds
            return
        if token_model.failure is None:
            try:
                builds.build_here(token_model.model)
            except Exception:
                token_model.failure = builds.failure()
        if token_model.failure is not None:
            raise ModelLoadError(
                f"could not build the compiled decode step: {token_model.failure}; "
                "or run with --compile off to decode without it"
            )
    token_model.use_compiled(builds)


def check_quant(quant: Quant, device: torch.device) -> None:
    if device.type != "cpu":
        raise ConfigError(
            f"--quant {quant} runs on the CPU only; on {device.type} use --quant none"
        )


def load_quantized(
    folder: Path,
    config: GPTConfig,
    quant: Quant,
    dtype: torch.dtype,
    adapter: Adapter | None = None,
    merge: Merge | None = None,
) -> TinyGPT:
    """TinyGPT with quantized matrices computing in ``dtype``, from the cache; quantized
    and cached first if it is not there. Always loaded from the cache file, so the first
    start runs the very model later ones do (the compiled step's key checks that).

    The cache is keyed by the weights' path, size and time, the format, the torch
    version (the int4 layout is the kernel's own) and the adapter merged in (``merge``
    applies it), by its content; it is written atomically.
    """
    cached = quantized_path(folder, quant, adapter)
    if cached.is_file():
        try:
            return _load_cached(cached, config, quant, dtype)
        except Exception:  # a damaged or foreign cache file: quantize again, replace it
            cached.unlink(missing_ok=True)
    from safetensors.torch import save_file

    model = load_llama_fp32(folder, config, merge)  # quantize from the stored values, not bf16
    quantize(model, quant, int8=adapter.blocks() if adapter is not None else ())
    model = model.to(torch.bfloat16)
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    with replacing(cached) as temporary:
        save_file(state, str(temporary))
    return _load_cached(cached, config, quant, dtype)


def _load_cached(cached: Path, config: GPTConfig, quant: Quant, dtype: torch.dtype) -> TinyGPT:
    from safetensors.torch import load_file

    model = empty_model(config)
    # copies: the kernels need aligned memory, which tensors read at their offsets in a
    # safetensors file do not always have (a misaligned matrix crashes them)
    state = {name: tensor.clone() for name, tensor in load_file(str(cached)).items()}
    # the layers kept at int8 under int4 (an adapter's blocks, ``tinygpt.quant``): the file says
    int8 = tuple(name.removesuffix(".scales") for name in state if name.endswith(".scales"))
    quantize(model, quant, empty=True, int8=int8 if quant == "int4" else ())
    model.load_state_dict(state, strict=True, assign=True)
    prepare(model, dtype)
    kernels.accelerate(model, build_first=False)  # else once the compiled step is built
    return model.eval()


def quantized_path(folder: Path, quant: Quant, adapter: Adapter | None = None) -> Path:
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in folder.glob("*.safetensors")]
    key = f"{folder.resolve()}:{stats}:{quant}:{FORMAT}:{torch.__version__}"
    if adapter is not None:
        key += f":adapter {adapter.digest}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir() / "quantized" / f"{folder.name}-{quant}-{digest}.safetensors"
