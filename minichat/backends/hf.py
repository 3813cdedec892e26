"""``HFBackend``: any Hugging Face causal language model, on the shared engine.

Loads a model folder, a hub id (where the hub or its local cache has it) or a
GGUF file (converted once, see ``gguf``). Messages are formatted with the
tokenizer's chat template, or a plain fallback for models without one; the
shared engine in ``minichat.engine`` does the decoding.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from minichat.backend import Message
from minichat.backends.local import LocalBackend
from minichat.errors import ConfigError, ModelLoadError, ModelNotFoundError
from minichat.loading.adapter import Adapter
from minichat.loading.device import resolve_device, resolve_dtype
from minichat.loading.gguf import ensure_converted
from minichat.prompt.template import (
    FALLBACK_STOPS,
    FALLBACK_TEMPLATE,
    end_of_turn_ids,
    render_with_system_fallback,
)
from minichat.tools import hermes
from minichat.tools.schema import describe
from minichat.tools.spec import Tools

DEFAULT_CONTEXT = 2048  # when neither the config nor the tokenizer says


class HFTokenModel:
    """The engine's view of a transformers model: ids in, last logits out."""

    def __init__(self, model: Any, context_length: int):
        self.model = model
        self.context_length = context_length
        self.device = next(model.parameters()).device
        self.dtype = model.dtype
        self.cache: Any = None
        self.cached_ids: list[int] = []
        self.cache_argument = cache_argument(model)

    def keep(self, length: int) -> int:
        if self.cache is not None and length > 0:
            try:  # crop takes the number of positions to remove, as a negative count
                self.cache.crop(length - self.cache.get_seq_length())
                return length
            except (RuntimeError, ValueError):  # a layer that cannot roll back (sliding window)
                pass
        from transformers import DynamicCache

        self.cache = DynamicCache(config=self.model.config)
        return 0

    def forward(self, ids: Sequence[int]) -> torch.Tensor:
        input_ids = torch.tensor([list(ids)], device=self.device)
        cache = {self.cache_argument: self.cache}
        out = self.model(input_ids=input_ids, use_cache=True, logits_to_keep=1, **cache)
        logits: torch.Tensor = out.logits[0, -1]
        return logits


def cache_argument(model: Any) -> str:
    """The name ``model.forward`` takes its KV cache under: ``cache`` in transformers
    from 5.x on, where ``past_key_values`` still works but warns (a FutureWarning in
    the middle of a reply); ``past_key_values`` for models from before the rename."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # no signature to read: the long-standing name
        return "past_key_values"
    return "cache" if "cache" in parameters else "past_key_values"


class HFBackend(LocalBackend):
    name: ClassVar[str] = "hf"

    def __init__(self, model: Any, tokenizer: Any, model_id: str):
        self.model_id = model_id
        self.tokenizer = tokenizer
        self.extra_stops: tuple[str, ...] = ()
        if not tokenizer.chat_template:
            tokenizer.chat_template = FALLBACK_TEMPLATE
            self.extra_stops = FALLBACK_STOPS
        self.context_length = _context_length(model, tokenizer)
        self.token_model = HFTokenModel(model, self.context_length)
        self.end_ids = end_of_turn_ids(
            tokenizer.get_vocab(), model.generation_config.eos_token_id, tokenizer.eos_token_id
        )

    def encode(self, messages: Sequence[Message]) -> list[int]:
        def render(dicts: list[dict[str, str]]) -> list[int]:
            return list(
                self.tokenizer.apply_chat_template(
                    dicts, add_generation_prompt=True, tokenize=True, return_dict=False
                )
            )

        return list(render_with_system_fallback(render, messages))

    def encode_with_tools(self, messages: Sequence[Message], tools: Tools) -> list[int]:
        """A template that describes tools itself (Qwen2.5, Hermes, Llama 3.x...) gets them
        as transformers passes them, with the calls and results in its own words; the
        calls are still asked for, and read, in the Hermes format the grammar forces."""
        if "tools" not in str(self.tokenizer.chat_template) or not tools.tools:
            return super().encode_with_tools(messages, tools)
        if tools.schema is not None:  # the answer's shape, after the template's own words
            messages = hermes.add_to_system(messages, describe(tools.schema))
        dicts = [_template_dict(m) for m in messages]
        described = [tool.to_dict() for tool in tools.tools]
        return list(
            self.tokenizer.apply_chat_template(
                dicts, tools=described, add_generation_prompt=True, tokenize=True, return_dict=False
            )
        )

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    def tokenizer_json(self) -> str:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ConfigError(f"{self.model_id} has no fast tokenizer; tools need one")
        return str(backend.to_str())


def load_hf(
    source: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    model_id: str | None = None,
    adapter: Adapter | None = None,
) -> HFBackend:
    """Load a model folder, a ``.gguf`` file or a hub id onto ``device`` in ``dtype``,
    ``adapter`` merged into its weights."""
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target)
    folder = local_folder(source)
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    local_only = folder is not None
    where = str(folder) if folder is not None else source
    try:
        tokenizer = _load_tokenizer(folder, source)
        model: Any = AutoModelForCausalLM.from_pretrained(
            where, dtype=torch_dtype, local_files_only=local_only
        )
    except OSError as error:
        if folder is None:
            raise ModelNotFoundError(
                f"cannot load {source!r} from the Hugging Face hub or its local cache "
                f"({error}); download it first, or give a local folder as hf:/path/to/model"
            ) from error
        raise ModelLoadError(f"cannot load the model in {where}: {error}") from error
    except Exception as error:  # safetensors, json and torch each raise their own kinds
        raise ModelLoadError(
            f"cannot load the model in {where} (corrupt or incomplete?): {error}"
        ) from error
    if adapter is not None:
        merge_adapter(model, adapter, model_id or source)
    try:
        model = model.to(target).eval()
    except (torch.cuda.OutOfMemoryError, MemoryError) as error:
        raise ModelLoadError(
            f"not enough memory for {source} on {target}; try --dtype bf16 or --device cpu"
        ) from error
    backend = HFBackend(model, tokenizer, model_id or source)
    backend.adapter = adapter.label if adapter is not None else None
    return backend


@torch.no_grad()
def merge_adapter(model: Any, adapter: Adapter, label: str) -> None:
    """Add the adapter's deltas to the model's weights, in fp32, once."""
    parameters = dict(model.named_parameters())
    adapter.check_base({name: tuple(p.shape) for name, p in parameters.items()}, label)
    for name in adapter.pairs:
        weight = parameters[name]
        weight.copy_((weight.float() + adapter.delta(name).to(weight.device)).to(weight.dtype))


def _load_tokenizer(folder: Path | None, source: str) -> Any:
    """A folder with tokenizer.json loads it directly: the same tokenizer as
    AutoTokenizer gives, in a fifth of the time (it skips resolving the class)."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if folder is None:
        return AutoTokenizer.from_pretrained(source)
    if (folder / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)
    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def local_folder(source: str) -> Path | None:
    """The folder to load from, or None for a hub id; GGUF files are converted."""
    path = Path(source).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelNotFoundError(f"no GGUF file at {path}")
        return ensure_converted(path)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"{path} is not a transformers model folder (it has no config.json)"
            )
        return path
    if path.exists() or source.startswith((".", "/", "~")) or source.count("/") > 1:
        raise ModelNotFoundError(
            f"no model folder at {path}; give a folder with config.json, a .gguf file, "
            "or a hub id like org/name"
        )
    return None


def _template_dict(message: Message) -> dict[str, Any]:
    """A message as chat templates take it: a call's arguments as an object, not text."""
    data = message.to_dict()
    for call in data.get("tool_calls", []):
        with contextlib.suppress(ValueError):  # text that is not JSON stays text
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    return data


def _context_length(model: Any, tokenizer: Any) -> int:
    for value in (
        getattr(model.config, "max_position_embeddings", None),
        getattr(tokenizer, "model_max_length", None),
    ):
        if isinstance(value, int) and 0 < value < 10_000_000:
            return value
    return DEFAULT_CONTEXT
