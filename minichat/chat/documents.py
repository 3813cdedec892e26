"""Documents in a chat: the collection a chat reads from, and passages fitted to a turn.

``open_documents`` takes what a user names (``--docs``, ``/docs``): a collection,
or a file or folder, which is indexed on the fly into a cached collection (and
brought up to date, re-embedding only changed files, on every later use).
``fit_with_passages`` puts the passages found for a question with that question
and fits the prompt: the passages take at most half the room, and whole passages
are left out, weakest first, until the prompt fits; the count left out is
reported, never hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from minichat.backend import ChatBackend, Message
from minichat.budget import Fitted
from minichat.chat.turn import fit_prompt
from minichat.config import GenerationConfig
from minichat.docs import context
from minichat.docs.collection import Collection, Progress, Report
from minichat.docs.embedder import Embedder
from minichat.docs.search import TOP_K, Hit, Index
from minichat.errors import CollectionError, ConfigError, PromptTooLongError

_embedder: Embedder | None = None


def embedder() -> Embedder:
    """One embedder per process: its model loads once, whoever asks."""
    global _embedder
    if _embedder is None:
        _embedder = Embedder()
    return _embedder


@dataclass
class Documents:
    """What a chat reads from: a loaded index and how to name it."""

    label: str  # the collection's name, or the path the user gave
    index: Index
    root: Path | None  # passages are labelled relative to this folder
    report: Report | None = None  # what indexing on the fly did
    k: int = TOP_K

    def find(self, question: str) -> list[Hit]:
        return self.index.search(question, self.k)


def open_documents(target: str, progress: Progress | None = None) -> Documents:
    """A collection by name, else a file or folder (indexed into a cached collection)."""
    target = target.strip()
    path = Path(target).expanduser()
    named = Collection.named(target) if _is_name(target) else None
    if named is not None and named.exists:
        index = named.load(embedder())
        roots = [Path(p) for p in named.manifest().get("paths", [])]
        return Documents(target, index, _common_root(roots))
    if not path.exists():
        raise ConfigError(
            f"{target!r} is neither a collection nor a file or folder; "
            "`minichat docs ls` lists the collections"
        )
    cached = Collection.for_path(path)
    report = cached.build([path], embedder(), progress, rebuild=_stale(cached))
    return Documents(target, cached.load(embedder()), _common_root([path.resolve()]), report)


def _is_name(target: str) -> bool:
    try:
        Collection.named(target)
    except ConfigError:
        return False
    return True


def _stale(collection: Collection) -> bool:
    """A cached collection built another way is rebuilt rather than refused: it is a cache."""
    if not collection.exists:
        return False
    manifest = collection.manifest()
    try:
        collection.check_built_by(manifest, embedder())
    except CollectionError:
        return True
    return False


def _common_root(paths: Sequence[Path]) -> Path | None:
    folders = [p if p.is_dir() else p.parent for p in paths]
    if not folders:
        return None
    root = folders[0]
    while not all(f.is_relative_to(root) for f in folders):
        root = root.parent
    return root


@dataclass(frozen=True)
class Grounded:
    fitted: Fitted
    sources: list[Hit]  # the passages the model read
    left_out: int  # passages found but left out to fit the context


def fit_with_passages(
    backend: ChatBackend,
    messages: Sequence[Message],
    config: GenerationConfig,
    hits: Sequence[Hit],
    root: Path | None,
    *,
    skip: int = 0,
    refill: float = 1.0,
) -> Grounded:
    """Fit ``messages`` with the passages put before the last (the user's question)."""
    *earlier, question = messages
    room = backend.context_length - config.max_new_tokens
    for n in range(len(hits), -1, -1):
        text = context.render(hits[:n], root) or None
        if text is not None and backend.count_tokens([Message("user", text)]) > room // 2:
            continue  # passages never take more than half the room
        labels = tuple(context.label(i, hit, root) for i, hit in enumerate(hits[:n], 1))
        asked = replace(question, context=text, sources=labels)
        try:
            fitted = fit_prompt(backend, [*earlier, asked], config, skip=skip, refill=refill)
        except PromptTooLongError:
            if n == 0:
                raise
            continue
        return Grounded(fitted, list(hits[:n]), len(hits) - n)
    raise AssertionError("the loop returns or raises at n == 0")
