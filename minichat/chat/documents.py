"""Documents in a chat: the collection a chat reads from.

``open_documents`` takes what a user names (``--docs``, ``/docs``): a collection,
or a file or folder, which is indexed on the fly into a cached collection (and
brought up to date, re-embedding only changed files, on every later use).
``Documents.find`` gives the passages for a question; ``turn.fit_turn`` puts them
with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minichat.errors import CollectionError, ConfigError
from minichat.retrieval.collection import Collection, Progress, Report
from minichat.retrieval.context import label
from minichat.retrieval.embedder import shared as embedder
from minichat.retrieval.search import TOP_K, Hit, Index
from minichat.tools.base import ToolError, ToolFunction
from minichat.tools.spec import Tool


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


def find_documents(target: str) -> Collection:
    """The collection ``target`` names: a collection by name, else the cached collection
    of a file or folder. Cheap (nothing is read), so a bad ``--docs`` is refused before
    a model loads."""
    target = target.strip()
    if _is_name(target) and Collection.named(target).exists:
        return Collection.named(target)
    path = Path(target).expanduser()
    if not target or not path.exists():
        raise ConfigError(
            f"{target!r} is neither a collection nor a file or folder; "
            "`minichat docs ls` lists the collections"
        )
    return Collection.for_path(path)


def open_documents(target: str, progress: Progress | None = None) -> Documents:
    """A collection by name, else a file or folder, indexed into a cached collection (a
    cache built another way, or damaged, is built again rather than refused)."""
    target = target.strip()
    collection = find_documents(target)
    if collection.is_named:
        roots = [Path(p) for p in collection.manifest().get("paths", [])]
        return Documents(target, collection.load(embedder()), _common_root(roots))
    path = Path(target).expanduser().resolve()
    try:
        report = collection.build([path], embedder(), progress)
        index = collection.load(embedder())
    except CollectionError:
        if not collection.exists:
            raise  # nothing to index there: said as it is
        collection.remove()
        report = collection.build([path], embedder(), progress)
        index = collection.load(embedder())
    return Documents(target, index, _common_root([path]), report)


def _is_name(target: str) -> bool:
    try:
        Collection.named(target)
    except ConfigError:
        return False
    return True


def skipped_notice(skipped: list[tuple[str, str]]) -> str:
    """The one wording for files an index left out, with the first reasons."""
    shown = "; ".join(why for _, why in skipped[:3])
    more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
    return f"{len(skipped)} file(s) not indexed: {shown}{more}"


def _common_root(paths: Sequence[Path]) -> Path | None:
    folders = [p if p.is_dir() else p.parent for p in paths]
    if not folders:
        return None
    root = folders[0]
    while not all(f.is_relative_to(root) for f in folders):
        root = root.parent
    return root


def docs_tool(find: Callable[[str], Sequence[Any]], root: Any = None) -> ToolFunction:
    """``search_docs``: the chat's documents as a tool (``/docs`` chooses them)."""

    def run(arguments: dict[str, Any]) -> str:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolError("give a query: what to look for in the documents")
        hits = find(query)
        if not hits:
            return "nothing found"
        return "\n\n".join(
            f"{label(n, hit, root)}\n{hit.chunk.text.strip()}" for n, hit in enumerate(hits, 1)
        )

    schema = {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "what to look for"}},
        "required": ["query"],
        "additionalProperties": False,
    }
    return ToolFunction(
        Tool("search_docs", "Search the user's documents for passages about a query.", schema),
        run,
    )
