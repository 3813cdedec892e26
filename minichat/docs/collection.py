"""Collections: named document indexes on disk, updated file by file.

A collection lives in a folder: ``manifest.json`` names the paths it was given,
the embedder and chunker that built it, each file's content hash and chunk
count, and the generation folder holding the chunks (``chunks.jsonl``), their
vectors (``vectors.npy``) and the keyword index (``keywords/``). An update
re-reads the paths: a file whose hash is unchanged keeps its chunks and vectors,
a changed or new one is re-chunked and re-embedded, a deleted one leaves. The new
state is written to a fresh generation folder and only then does the manifest
(written atomically) point at it, so an interrupted build leaves the collection
as it was. Named collections sit in the data dir's ``docs/``; a path used
directly (``--docs PATH``) gets a cached collection of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from minichat.docs.chunking import CHUNKER_VERSION, split
from minichat.docs.chunks import Chunk
from minichat.docs.embedder import DIMENSIONS, Embedder
from minichat.docs.extract import find_files, read_document
from minichat.docs.search import (
    KEYWORDS_VERSION,
    Index,
    keyword_index,
    load_keywords,
    save_keywords,
)
from minichat.errors import CollectionError, ConfigError, DocumentError
from minichat.files import write_atomically
from minichat.paths import cache_dir, data_dir

FORMAT = 1
OFF = "off"  # what turns documents off in the chat; never a collection's name
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
Progress = Callable[[int, int], object]  # (chunks embedded, chunks to embed)


def _digest(file: Path) -> str:
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError as error:
        raise DocumentError(f"cannot read {file}: {error.strerror or error}") from None


def _sync(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb+") as handle:
                os.fsync(handle.fileno())


def collections_dir() -> Path:
    return data_dir() / "docs"


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not a collection name: use letters, digits, '.', '_' or '-'"
        )
    if name == OFF:
        raise ConfigError(f"{OFF!r} is not a collection name: /docs {OFF} turns documents off")
    return name


@dataclass
class Report:
    """What a build did, for the user."""

    files: int = 0  # files in the collection now
    chunks: int = 0
    embedded_files: int = 0  # new or changed files read and embedded
    embedded_chunks: int = 0
    removed_files: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)

    @property
    def changed(self) -> bool:
        return bool(self.embedded_files or self.removed_files)


class Collection:
    def __init__(self, folder: Path, name: str):
        self.folder = folder
        self.name = name

    @classmethod
    def named(cls, name: str) -> Collection:
        return cls(collections_dir() / check_name(name), name)

    @classmethod
    def for_path(cls, path: Path) -> Collection:
        """The cached collection of a file or folder used directly."""
        where = str(path.expanduser().resolve())
        key = hashlib.sha256(where.encode()).hexdigest()[:16]
        return cls(cache_dir() / "docs" / key, where)

    @staticmethod
    def names() -> list[str]:
        """The collections a user can pick, by name."""
        return [c.name for c in Collection.all()]

    @staticmethod
    def all() -> list[Collection]:
        root = collections_dir()
        folders = sorted(root.iterdir()) if root.is_dir() else []
        return [Collection(f, f.name) for f in folders if (f / "manifest.json").is_file()]

    @property
    def exists(self) -> bool:
        return (self.folder / "manifest.json").is_file()

    @property
    def is_named(self) -> bool:
        """Made by ``docs add``, rather than the cache of a path used directly."""
        return self.folder.parent == collections_dir()

    def rebuild_hint(self) -> str:
        if self.is_named:
            return f"minichat docs update {self.name} --rebuild"
        return f"rm -r {self.folder}  (it is rebuilt on next use)"

    # --- reading -------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        if not self.exists:
            raise CollectionError(
                f"no collection named {self.name!r}; `minichat docs ls` lists them, "
                f"`minichat docs add {self.name} PATH...` makes it"
            )
        try:
            manifest = json.loads((self.folder / "manifest.json").read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
                raise ValueError("unknown format")
        except (OSError, ValueError) as error:
            raise CollectionError(
                f"the collection {self.name!r} is damaged ({error}); remove it with "
                f"`minichat docs rm {self.name}` and add it again"
            ) from error
        return manifest  # type: ignore[no-any-return]

    def check_built_by(self, manifest: dict[str, Any], embedder: Embedder) -> None:
        built = tuple(manifest.get(key) for key in ("embedder", "chunker", "keywords"))
        if built != (embedder.version, CHUNKER_VERSION, KEYWORDS_VERSION):
            raise CollectionError(
                f"the collection {self.name!r} was built with {built[0]}, chunker {built[1]} "
                f"and keywords {built[2]}; this minichat uses {embedder.version}, chunker "
                f"{CHUNKER_VERSION} and keywords {KEYWORDS_VERSION}: rebuild it with "
                f"`{self.rebuild_hint()}`"
            )

    def load(self, embedder: Embedder) -> Index:
        self.manifest()  # says so when there is no such collection
        with self._locked(exclusive=False):
            manifest = self.manifest()
            self.check_built_by(manifest, embedder)
            chunks, vectors = self._read_generation(manifest)
            keywords = load_keywords(self._generation(manifest) / "keywords")
        return Index(chunks, vectors, embedder, keywords)

    def _generation(self, manifest: dict[str, Any]) -> Path:
        return self.folder / str(manifest.get("generation", ""))

    def _read_generation(self, manifest: dict[str, Any]) -> tuple[list[Chunk], Any]:
        import numpy as np

        folder = self._generation(manifest)
        try:
            lines = (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
            chunks = [Chunk.from_dict(json.loads(line)) for line in lines]
            vectors = np.load(folder / "vectors.npy", allow_pickle=False)
            expected = sum(int(f["chunks"]) for f in manifest["files"].values())
            if vectors.ndim != 2 or vectors.shape != (len(chunks), DIMENSIONS):
                raise ValueError("the vectors do not match the chunks")
            if len(chunks) != expected:
                raise ValueError(f"{len(chunks)} chunks where the manifest counts {expected}")
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise CollectionError(
                f"the collection {self.name!r} is damaged ({error}); rebuild it with "
                f"`{self.rebuild_hint()}`"
            ) from error
        return chunks, vectors.astype(np.float32, copy=False)

    # --- building ------------------------------------------------------------------------
    def build(
        self,
        paths: Sequence[Path] | None,
        embedder: Embedder,
        progress: Progress | None = None,
        *,
        rebuild: bool = False,
    ) -> Report:
        """Index ``paths`` (None: the paths it was built from), re-embedding only files
        whose content changed (every file with ``rebuild``). One build at a time: a
        second waits for the first, then sees what it wrote."""
        if paths is None:
            self.manifest()  # an update of a collection that is not there says so
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked(exclusive=True):
            return self._build(paths, embedder, progress, rebuild)

    def _build(
        self,
        paths: Sequence[Path] | None,
        embedder: Embedder,
        progress: Progress | None,
        rebuild: bool,
    ) -> Report:
        import numpy as np

        old: dict[str, Any] = self.manifest() if self.exists else {}
        known = old.get("paths", [])
        roots = list(dict.fromkeys(str(Path(p).expanduser().resolve()) for p in paths or known))
        # a path it was built from that is gone now is a folder whose files were all deleted
        files = find_files([Path(r) for r in roots if r not in known or Path(r).exists()])
        if old and not rebuild:
            self.check_built_by(old, embedder)
        kept = self._by_file(old) if old and not rebuild else {}
        report = Report()
        entries: dict[str, dict[str, Any]] = {}
        fresh: dict[str, list[Chunk]] = {}
        for file in files:
            path = str(file)
            try:
                digest = _digest(file)
                if path in kept and old["files"][path]["sha256"] == digest:
                    entries[path] = old["files"][path]
                    continue
                pieces = split(read_document(file), embedder.count_tokens, embedder.max_tokens)
            except DocumentError as error:
                if path in kept:  # there, but unreadable now: keep what it said before
                    entries[path] = old["files"][path]
                    report.skipped.append((path, f"{error} (its earlier passages are kept)"))
                else:
                    report.skipped.append((path, str(error)))
                continue
            entries[path] = {"sha256": digest, "chunks": len(pieces)}
            fresh[path] = pieces
        if not any(e["chunks"] for e in entries.values()):
            reason = "; ".join(why for _, why in report.skipped[:3])
            raise CollectionError(
                f"no text found to index in {', '.join(roots) or 'no paths'}"
                + (f" ({reason})" if reason else "")
                + "; give files or folders of Markdown, text, reStructuredText, HTML, "
                "source code or PDF"
            )
        report.removed_files = sum(1 for p in old.get("files", {}) if p not in entries)
        report.embedded_files = len(fresh)
        report.embedded_chunks = total = sum(len(c) for c in fresh.values())
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, total)

        if progress is not None:
            progress(0, total)
        new_vectors = embedder.embed(
            [c.embed_text for pieces in fresh.values() for c in pieces], on_batch=advance
        )
        chunks_out: list[Chunk] = []
        vectors_out = []
        offset = 0
        for path in entries:
            if path in fresh:
                n = len(fresh[path])
                chunks_out += fresh[path]
                vectors_out.append(new_vectors[offset : offset + n])
                offset += n
            else:
                chunks_out += kept[path][0]
                vectors_out.append(kept[path][1])
        report.files = len(entries)
        report.chunks = len(chunks_out)
        if old and not report.changed and not rebuild and known == roots:
            return report  # nothing to write
        vectors = np.concatenate(vectors_out).astype(np.float32)
        self._write(roots, entries, chunks_out, vectors, embedder, old)
        return report

    def _by_file(self, manifest: dict[str, Any]) -> dict[str, tuple[list[Chunk], Any]]:
        """Each file's chunks and vectors in the current generation."""
        chunks, vectors = self._read_generation(manifest)
        kept, start = {}, 0
        for path, entry in manifest["files"].items():
            n = int(entry["chunks"])
            kept[path] = (chunks[start : start + n], vectors[start : start + n])
            start += n
        return kept

    @contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        """A build holds the collection alone; loads share it, so no build sweeps away
        the generation a load is reading (advisory; where there is no fcntl, none)."""
        try:
            import fcntl
        except ImportError:  # Windows
            yield
            return
        with open(self.folder / ".lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write(
        self,
        roots: list[str],
        entries: dict[str, dict[str, Any]],
        chunks: list[Chunk],
        vectors: Any,
        embedder: Embedder,
        old: dict[str, Any],
    ) -> None:
        import numpy as np

        generation = f"g-{uuid.uuid4().hex[:12]}"
        folder = self.folder / generation
        folder.mkdir(parents=True)
        try:
            lines = "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in chunks)
            (folder / "chunks.jsonl").write_text(lines, encoding="utf-8")
            np.save(folder / "vectors.npy", vectors, allow_pickle=False)
            save_keywords(keyword_index(chunks), folder / "keywords")
            _sync(folder)  # on disk before the manifest names it
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            manifest = {
                "format": FORMAT,
                "name": self.name,
                "paths": roots,
                "embedder": embedder.version,
                "chunker": CHUNKER_VERSION,
                "keywords": KEYWORDS_VERSION,
                "generation": generation,
                "created": old.get("created", now),
                "updated": now,
                "files": entries,
            }
            write_atomically(self.folder / "manifest.json", json.dumps(manifest, indent=1))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._sweep(keep=generation)

    def _sweep(self, keep: str) -> None:
        """Remove generations the manifest no longer names (and any a crash left)."""
        for child in self.folder.iterdir():
            if child.is_dir() and child.name.startswith("g-") and child.name != keep:
                shutil.rmtree(child, ignore_errors=True)

    def remove(self) -> None:
        if not self.folder.is_dir():
            self.manifest()  # says there is no such collection
        shutil.rmtree(self.folder)

    def summary(self) -> dict[str, Any]:
        manifest = self.manifest()
        files = manifest["files"]
        return {
            "name": self.name,
            "files": len(files),
            "chunks": sum(int(f["chunks"]) for f in files.values()),
            "paths": manifest.get("paths", []),
            "updated": manifest.get("updated", ""),
            "embedder": manifest.get("embedder", ""),
        }
