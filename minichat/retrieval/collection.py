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

What is on disk is the user's documents in another form, so it is the user's alone:
folders 0700, files 0600. It is also read back as untrusted: the manifest is checked
for the shape written, every generation file against the checksum the manifest
records (a damaged keyword vocabulary would otherwise give wrong results quietly),
and any damage is one line that says how to rebuild. A build, an add and a removal
each hold the collection's lock (a file beside its folder, so a removal does not
remove it) from reading the manifest to writing it; a failed first build leaves
nothing behind.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from minichat.errors import CollectionError, ConfigError, DocumentError
from minichat.retrieval.chunking import CHUNKER_VERSION, split
from minichat.retrieval.chunks import Chunk
from minichat.retrieval.embedder import Embedder
from minichat.retrieval.extract import gather, kind_of, parse_document, read_bytes
from minichat.retrieval.search import (
    KEYWORDS_VERSION,
    Index,
    keyword_index,
    load_keywords,
    save_keywords,
)
from minichat.retrieval.stored import (
    FORMAT,
    GENERATION_LIMIT,
    MANIFEST_LIMIT,
    MiB,
    read_vectors,
    sha256,
    sync,
    valid_manifest,
    write_private,
)
from minichat.safety.files import NotRegularFile, read_regular, write_atomically
from minichat.safety.untrusted import one_line
from minichat.settings.paths import cache_dir, data_dir, private_folder

OFF = "off"  # what turns documents off in the chat; never a collection's name
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
Progress = Callable[[int, int], object]  # (chunks embedded, chunks to embed)


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


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
        key = hashlib.sha256(os.fsencode(where)).hexdigest()[:16]  # a name may not be UTF-8
        return cls(cache_dir() / "docs" / key, where)

    @staticmethod
    def names() -> list[str]:
        """The collections a user can pick, by name."""
        return [c.name for c in Collection.all()]

    @staticmethod
    def all() -> list[Collection]:
        """Every folder that holds a collection, damaged ones included (``summary`` and
        ``manifest`` say what is wrong with each)."""
        root = collections_dir()
        try:
            names = sorted(os.listdir(root))
        except FileNotFoundError:
            return []
        except OSError as error:
            raise CollectionError(
                f"cannot read the collections in {one_line(str(root))}: {_reason(error)}; "
                "check its permissions"
            ) from None
        found = []
        for name in filter(NAME.fullmatch, names):
            collection = Collection(root / name, name)
            try:
                if not stat.S_ISDIR(os.lstat(collection.folder).st_mode):
                    continue  # a file, or a link to somewhere else
            except FileNotFoundError:
                continue  # removed meanwhile
            except OSError:
                pass  # cannot be looked at: its summary says why
            if collection.exists:
                found.append(collection)
        return found

    @property
    def exists(self) -> bool:
        """Whether a manifest is there; one that cannot be looked at might be, and reading
        it says why it cannot be read."""
        try:
            os.stat(self.folder / "manifest.json", follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError:
            return True
        return True

    @property
    def lock_file(self) -> Path:
        """Beside the folder, not in it: a removal must not remove the lock it holds."""
        return self.folder.parent / f".{self.folder.name}.lock"

    @property
    def is_named(self) -> bool:
        """Made by ``docs add``, rather than the cache of a path used directly."""
        return self.folder.parent == collections_dir()

    def rebuild_hint(self) -> str:
        if self.is_named:
            return f"minichat docs update {self.name} --rebuild"
        return f"rm -r {one_line(str(self.folder))}  (it is rebuilt on next use)"

    def _damaged(self, error: BaseException, *, rebuild: bool) -> CollectionError:
        """Damage, in one line: a generation is rebuilt from the manifest's paths; a
        manifest that cannot be read names none, so the collection is made again."""
        reason = one_line(str(error) or type(error).__name__, limit=300)
        if self.is_named and rebuild:
            what = f"rebuild it with `{self.rebuild_hint()}`"
        elif self.is_named:
            what = f"remove it with `minichat docs rm {self.name}` and add it again"
        else:
            what = (
                f"remove it with `rm -r {one_line(str(self.folder))}` (it is rebuilt on next use)"
            )
        return CollectionError(f"the collection {self.name!r} is damaged ({reason}); {what}")

    # --- reading -------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        path = self.folder / "manifest.json"
        try:
            data = read_regular(path, MANIFEST_LIMIT, follow_links=False)
            if len(data) > MANIFEST_LIMIT:
                raise ValueError(f"a manifest of over {MANIFEST_LIMIT // MiB} MB")
            return valid_manifest(json.loads(data.decode("utf-8")))
        except (FileNotFoundError, NotADirectoryError):
            raise CollectionError(
                f"no collection named {self.name!r}; `minichat docs ls` lists them, "
                f"`minichat docs add {self.name} PATH...` makes it"
            ) from None
        except (NotRegularFile, ValueError, RecursionError) as error:
            raise self._damaged(error, rebuild=False) from None
        except OSError as error:
            raise self._unreadable(error) from None

    def _unreadable(self, error: OSError) -> CollectionError:
        return CollectionError(
            f"cannot read the collection {self.name!r}: {_reason(error)}; check the "
            f"permissions of {one_line(str(self.folder))}"
        )

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
            keywords = self._read_keywords(manifest)
        return Index(chunks, vectors, embedder, keywords)

    def _generation(self, manifest: dict[str, Any]) -> Path:
        return self.folder / str(manifest["generation"])

    def _read_file(self, manifest: dict[str, Any], name: str) -> bytes:
        """A generation file, checked against the checksum the manifest records."""
        try:
            data = read_regular(
                self._generation(manifest) / name, GENERATION_LIMIT, follow_links=False
            )
        except FileNotFoundError:
            raise ValueError(f"{name} is missing") from None
        except NotRegularFile:
            raise ValueError(f"{name} is not a regular file") from None
        expected = manifest.get("checksums", {}).get(name)
        if len(data) > GENERATION_LIMIT or (expected is not None and sha256(data) != expected):
            raise ValueError(f"{name} is not what was written")
        return data

    def _read_generation(self, manifest: dict[str, Any]) -> tuple[list[Chunk], Any]:
        import numpy as np

        expected = sum(f["chunks"] for f in manifest["files"].values())
        try:
            text = self._read_file(manifest, "chunks.jsonl").decode("utf-8")
            # by "\n" alone: splitlines would also cut at a U+2028 inside a passage
            chunks = [Chunk.from_dict(json.loads(line)) for line in text.split("\n") if line]
            if len(chunks) != expected:
                raise ValueError(f"{len(chunks)} chunks where the manifest counts {expected}")
            vectors = read_vectors(self._read_file(manifest, "vectors.npy"), expected)
        except OSError as error:
            if error.errno == errno.EACCES:
                raise self._unreadable(error) from None
            raise self._damaged(error, rebuild=True) from None
        except (ValueError, TypeError, KeyError, EOFError, RecursionError) as error:
            raise self._damaged(error, rebuild=True) from None
        return chunks, vectors.astype(np.float32, copy=False)

    def _read_keywords(self, manifest: dict[str, Any]) -> Any | None:
        """The saved BM25 index, every file checked; None where there is none."""
        folder = self._generation(manifest) / "keywords"
        if "checksums" not in manifest:  # built before checksums: read it as it is
            return load_keywords(folder)
        names = {n for n in manifest["checksums"] if n.startswith("keywords/")}
        if not names:
            return None  # no passage has a word to index: the search is dense only
        try:
            there = {f"keywords/{n}" for n in os.listdir(folder)}
            if there != names:
                raise ValueError(f"keywords/ holds {len(there)} files where it had {len(names)}")
            for name in sorted(names):
                self._read_file(manifest, name)
            keywords = load_keywords(folder)
            if keywords is None:
                raise ValueError("the keyword index does not load")
        except OSError as error:
            if error.errno == errno.EACCES:
                raise self._unreadable(error) from None
            raise self._damaged(error, rebuild=True) from None
        except ValueError as error:
            raise self._damaged(error, rebuild=True) from None
        return keywords

    # --- building ------------------------------------------------------------------------
    def build(
        self,
        paths: Sequence[Path] | None,
        embedder: Embedder,
        progress: Progress | None = None,
        *,
        rebuild: bool = False,
        add: bool = False,
    ) -> Report:
        """Index ``paths`` (None: the paths it was built from; ``add``: those and
        ``paths``), re-embedding only files whose content changed (every file with
        ``rebuild``). One build at a time: a second waits for the first, then sees what
        it wrote."""
        if paths is None:
            self.manifest()  # an update of a collection that is not there says so
        with self._locked(exclusive=True):
            return self._build(paths, embedder, progress, rebuild, add)

    def _build(
        self,
        paths: Sequence[Path] | None,
        embedder: Embedder,
        progress: Progress | None,
        rebuild: bool,
        add: bool,
    ) -> Report:
        import numpy as np

        # read under the lock: a build that read it before could lose another's paths
        old: dict[str, Any] = self.manifest() if self.exists or paths is None else {}
        known: list[str] = old.get("paths", [])
        given = [str(Path(p).expanduser().resolve()) for p in paths or []]
        roots = list(dict.fromkeys([*known, *given] if add else given or known))
        # a path it was built from that is gone now is a folder whose files were all deleted
        found = gather([Path(r) for r in roots if r not in known or not _gone(r)])
        if old and not rebuild:
            self.check_built_by(old, embedder)
        kept = self._by_file(old) if old and not rebuild else {}
        report = Report(skipped=list(found.skipped))
        entries: dict[str, dict[str, Any]] = {}
        fresh: dict[str, list[Chunk]] = {}
        for file in found.files:
            path = str(file)
            try:
                # read once: the text chunked is the text hashed, even as the file changes
                data = read_bytes(file, kind_of(file), follow_links=file in found.named)
                digest = sha256(data)
                if path in kept and old["files"][path]["sha256"] == digest:
                    entries[path] = old["files"][path]
                    continue
                pieces = split(
                    parse_document(file, data), embedder.count_tokens, embedder.max_tokens
                )
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
                f"no text found to index in {one_line(', '.join(roots)) or 'no paths'}"
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
        """A build or removal holds the collection alone; loads share it, so no build
        sweeps away the generation a load is reading (advisory; where there is no fcntl,
        none)."""
        try:
            import fcntl
        except ImportError:  # Windows
            yield
            return
        private_folder(self.folder.parent)
        try:
            flags = (os.O_RDWR if exclusive else os.O_RDONLY) | os.O_CREAT
            handle = os.open(self.lock_file, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as error:
            raise self._unreadable(error) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(handle)  # closing lets the lock go

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
        try:
            private_folder(self.folder)
            folder.mkdir(mode=0o700)
            folder.chmod(0o700)  # whatever the umask left
            # JSON's ASCII escapes carry a file name that is not UTF-8 (lone surrogates)
            lines = "".join(json.dumps(c.to_dict()) + "\n" for c in chunks)
            files = {"chunks.jsonl": lines.encode("utf-8")}
            buffer = io.BytesIO()
            np.save(buffer, vectors, allow_pickle=False)
            files["vectors.npy"] = buffer.getvalue()
            for name, data in files.items():
                write_private(folder / name, data)
            keywords = keyword_index(chunks)
            if keywords is not None:
                save_keywords(keywords, private_folder(folder / "keywords"))
                for path in sorted((folder / "keywords").iterdir()):
                    path.chmod(0o600)  # written by bm25s with the umask's mode
                    files[f"keywords/{path.name}"] = path.read_bytes()
            sync(folder)  # on disk before the manifest names it
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
                "checksums": {name: sha256(data) for name, data in files.items()},
                "sizes": {name: len(data) for name, data in files.items()},
            }
            write_atomically(
                self.folder / "manifest.json", json.dumps(manifest, indent=1), private=True
            )
        except BaseException:
            # a first build that failed leaves nothing; a later one, the collection it had
            shutil.rmtree(folder if old else self.folder, ignore_errors=True)
            raise
        self._sweep(keep=generation)

    def _sweep(self, keep: str) -> None:
        """Remove generations the manifest no longer names (and any a crash left)."""
        for child in self.folder.iterdir():
            if child.is_dir() and child.name.startswith("g-") and child.name != keep:
                shutil.rmtree(child, ignore_errors=True)

    def remove(self) -> None:
        """Remove the collection, waiting for a build in progress (which it would
        otherwise leave half written, or see write it back)."""
        if not self.exists:
            self.manifest()  # says there is no such collection, leaving no lock file behind
        with self._locked(exclusive=True):
            if not self.exists:
                self.manifest()  # says there is no such collection
            try:
                shutil.rmtree(self.folder)
            except OSError as error:
                raise CollectionError(
                    f"cannot remove the collection {self.name!r}: {_reason(error)}; check the "
                    f"permissions of {one_line(str(self.folder))}"
                ) from None

    def summary(self) -> dict[str, Any]:
        """What ``docs ls`` shows. The generation's files are checked by size alone (a
        load reads and checks every byte), so a listing stays cheap."""
        manifest = self.manifest()
        files = manifest["files"]
        for name, size in manifest.get("sizes", {}).items():
            path = self._generation(manifest) / name
            try:
                found = os.lstat(path)
            except FileNotFoundError:
                raise self._damaged(ValueError(f"{name} is missing"), rebuild=True) from None
            except OSError as error:
                raise self._unreadable(error) from None
            if not stat.S_ISREG(found.st_mode) or found.st_size != size:
                raise self._damaged(ValueError(f"{name} is not what was written"), rebuild=True)
        return {
            "name": self.name,
            "files": len(files),
            "chunks": sum(f["chunks"] for f in files.values()),
            "paths": manifest["paths"],
            "updated": manifest.get("updated", ""),
            "embedder": manifest.get("embedder", ""),
        }


def _gone(path: str) -> bool:
    """Whether ``path`` is no longer there (one that cannot be looked at may be)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False
