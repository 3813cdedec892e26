"""Hostile input to document collections: special files, links, names that are not UTF-8,
text that would act on a terminal, collections damaged on disk, builds and removals at
once, and collection names that try to leave their folder.

Most tests use a bag-of-words embedder (no model to load); the few that need another
process (a read that would hang or exhaust memory, another user) run ``python -m
minichat`` with a time and memory limit, so a regression fails instead of hanging.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from minichat.errors import CollectionError, DocumentError, InputError
from minichat.retrieval import extract
from minichat.retrieval.collection import Collection, collections_dir
from minichat.retrieval.embedder import Embedder


class BagOfWords(Embedder):
    """An embedder without a model: each word adds to one of 384 dimensions."""

    name = "bag-of-words"

    def __init__(self) -> None:  # no tokenizer to load
        self.hold: tuple[threading.Event, threading.Event] | None = None  # (started, release)

    @property
    def version(self) -> str:
        return "bag-of-words@test/256"

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        on_batch: Callable[[int], object] | None = None,
    ) -> Any:
        if self.hold is not None:
            started, release = self.hold
            self.hold = None  # only the first build waits
            started.set()
            assert release.wait(60)
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, zlib.crc32(word.encode("utf-8", "replace")) % self.dimensions] += 1
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        if on_batch is not None:
            on_batch(len(texts))
        return vectors

    def embed_query(self, text: str) -> Any:
        return self.embed([text])


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BagOfWords]:
    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "400")  # tables show whole paths
    embedder = BagOfWords()
    monkeypatch.setattr("minichat.retrieval.embedder._shared", embedder)
    yield embedder


def notes(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.md").write_text("# Alpha\n\nThe alpha code is 111.\n")
    (root / "b.txt").write_text("Beta notes: the beta code is 222.\n")
    return root


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """``minichat ARGS`` in this process, as ``main`` runs it (errors as one line)."""
    from minichat.cli.app import main

    capsys.readouterr()
    saved = sys.argv
    sys.argv = ["minichat", *args]
    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else int(done.code is not None)
    finally:
        sys.argv = saved
    out, err = capsys.readouterr()
    return Result(code, out, err)


def one_line_error(result: Result, *words: str) -> None:
    assert result.code == 1, (result.out, result.err)
    assert result.err.startswith("minichat: error: ") and result.err.count("\n") == 1, result.err
    assert all(word in result.err for word in words), result.err


def minichat_process(*args: str, env: dict[str, str], timeout: float = 60) -> Result:
    """``python -m minichat ARGS`` with at most 4 GiB of memory: a read without a limit
    fails here rather than taking the machine's memory."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    try:
        done = subprocess.run(
            [sys.executable, "-m", "minichat", *args],
            capture_output=True,
            text=True,
            errors="backslashreplace",
            timeout=timeout,
            env={**os.environ, **env},
            cwd=Path(__file__).parents[2],
            preexec_fn=limit,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"minichat {' '.join(args)} still ran after {timeout} s (a read that hangs?)")
    return Result(done.returncode, done.stdout, done.stderr)


# --- 1. special files ---------------------------------------------------------------------


def test_a_device_given_as_a_document_is_refused_in_one_line(tmp_path: Path) -> None:
    env = {"MINICHAT_DATA_DIR": str(tmp_path / "data"), "MINICHAT_CACHE_DIR": str(tmp_path)}
    result = minichat_process("docs", "add", "zero", "/dev/zero", env=env)
    one_line_error(result, "/dev/zero is a device")
    assert not (tmp_path / "data" / "docs" / "zero").exists()


def test_a_fifo_given_as_a_document_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    env = {"MINICHAT_DATA_DIR": str(tmp_path / "data"), "MINICHAT_CACHE_DIR": str(tmp_path)}
    result = minichat_process("docs", "add", "pipe", str(tmp_path / "pipe.txt"), env=env)
    one_line_error(result, "pipe.txt is a pipe (FIFO)")


def test_special_files_in_a_folder_are_skipped_and_named(
    tmp_path: Path, fake: BagOfWords, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = notes(tmp_path / "notes")
    os.mkfifo(folder / "pipe.txt")
    os.mkfifo(folder / "README")  # no suffix: its first bytes would be read to judge it
    result = cli(capsys, "docs", "add", "notes", str(folder))
    assert result.code == 0, result.err
    assert "2 files" in result.out
    assert "2 file(s) not indexed" in result.err and "pipe (FIFO)" in result.err


def test_every_reader_caps_what_it_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "big.md").write_text("word " * 100)
    monkeypatch.setitem(extract.LIMITS, "markdown", 100)
    with pytest.raises(DocumentError, match=r"big\.md is over 100 bytes.*split it") as caught:
        extract.read_document(tmp_path / "big.md")
    assert "\n" not in str(caught.value)
    (tmp_path / "small.md").write_text("word " * 20)
    assert extract.read_document(tmp_path / "small.md").text.startswith("word")
    assert extract.LIMITS["pdf"] >= 10 << 20 and extract.LIMITS["text"] <= 16 << 20


def make_pdf(path: Path, pages: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    pdf.output(str(path))
    return path


def test_a_pdf_with_too_many_pages_or_too_much_text_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_pdf(tmp_path / "long.pdf", [f"page {n} words" for n in range(5)])
    monkeypatch.setattr(extract, "PDF_PAGES", 3)
    with pytest.raises(DocumentError, match=r"long\.pdf has 5 pages; minichat reads at most 3"):
        extract.read_document(path)
    monkeypatch.setattr(extract, "PDF_PAGES", 100)
    monkeypatch.setitem(extract.LIMITS, "text", 20)
    with pytest.raises(DocumentError, match=r"long\.pdf has over 20 characters of text"):
        extract.read_document(path)


def test_links_in_a_folder_walk_are_skipped_and_named(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the private key")
    folder = notes(tmp_path / "notes")
    (folder / "key.txt").symlink_to(secret)  # out of the folder given
    (folder / "loop").symlink_to(folder)  # a folder walked through a link would loop
    (folder / "dangling.md").symlink_to(tmp_path / "gone.md")
    found = extract.gather([folder])
    assert found.files == [folder / "a.md", folder / "b.txt"]
    assert sorted(Path(p).name for p, _ in found.skipped) == ["dangling.md", "key.txt", "loop"]
    assert all("a symbolic link" in why for _, why in found.skipped)
    # a link named on the command line is the user's choice: it is followed
    assert extract.gather([folder / "key.txt"]).files == [folder / "key.txt"]


def test_a_file_swapped_for_a_link_after_the_walk_is_not_followed(tmp_path: Path) -> None:
    folder = notes(tmp_path / "notes")
    found = extract.gather([folder])
    (tmp_path / "secret.txt").write_text("the private key")
    (folder / "b.txt").unlink()
    (folder / "b.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(DocumentError, match=r"b\.txt is a symbolic link"):
        extract.read_bytes(folder / "b.txt", "text", follow_links=folder / "b.txt" in found.named)


# --- 2. private files ---------------------------------------------------------------------


def modes(folder: Path) -> dict[str, int]:
    found = {folder.name: stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_collections_are_readable_by_their_owner_alone(
    tmp_path: Path, fake: BagOfWords, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = notes(tmp_path / "notes")
    mask = os.umask(0o002)  # a permissive umask, as many systems have
    try:
        assert cli(capsys, "docs", "add", "notes", str(folder)).code == 0
        assert cli(capsys, "docs", "search", str(folder), "alpha").code == 0  # a cached one
    finally:
        os.umask(mask)
    for root in (collections_dir(), tmp_path / "cache" / "docs"):
        found = modes(root)
        assert any(name.endswith("vocab.index.json") for name in found)
        assert any(name.endswith("chunks.jsonl") for name in found)
        wrong = {
            name: oct(mode)
            for name, mode in found.items()
            if mode != (0o700 if (root / name).is_dir() or name == root.name else 0o600)
        }
        assert wrong == {}, root


# --- 3. names that are not UTF-8, text that would act on a terminal -----------------------


def test_file_names_that_are_not_utf8_are_indexed_and_shown_escaped(
    tmp_path: Path, fake: BagOfWords, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = notes(tmp_path / "notes")
    with open(os.path.join(os.fsencode(folder), b"bad\xff.txt"), "wb") as file:
        file.write(b"The gamma code is 333.\n")
    named = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"dir\xfe"))
    notes(Path(named))
    assert cli(capsys, "docs", "add", "notes", str(folder), named).code == 0
    found = cli(capsys, "docs", "search", "notes", "gamma code")
    assert found.code == 0 and "bad\\udcff.txt" in found.out
    as_json = cli(capsys, "docs", "search", "notes", "gamma code", "--json")
    assert json.loads(as_json.out)[0]["path"] == str(folder / os.fsdecode(b"bad\xff.txt"))
    listed = cli(capsys, "docs", "ls")
    assert listed.code == 0 and "dir\\udcfe" in listed.out
    assert cli(capsys, "docs", "ls", "--json").code == 0
    direct = cli(capsys, "docs", "search", named, "alpha")  # a cached collection of its own
    assert direct.code == 0 and "111" in direct.out
    lone = cli(capsys, "docs", "search", "notes", "gamma \udcff code")
    assert lone.code == 0 and "333" in lone.out


def test_text_and_names_from_files_cannot_act_on_the_terminal(
    tmp_path: Path, fake: BagOfWords, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = notes(tmp_path / "notes[/]")  # Rich markup would fail on "[/]"
    (folder / "c.md").write_text("The delta code is 444 \x1b[2J\x1b]0;owned\x07.\n")
    (folder / "evil\x1b[31m.txt").write_bytes(b"\x00\x01binary")
    added = cli(capsys, "docs", "add", "notes", str(folder))
    assert added.code == 0 and "\x1b" not in added.err and "evil\\x1b[31m.txt" in added.err
    found = cli(capsys, "docs", "search", "notes", "delta code")
    assert found.code == 0 and "444" in found.out and "\x1b" not in found.out
    listed = cli(capsys, "docs", "ls")
    assert listed.code == 0 and "notes[/]" in listed.out


# --- 4. builds and removals at once ---------------------------------------------------------


def spy_on_locks(monkeypatch: pytest.MonkeyPatch, waiting: threading.Event) -> None:
    """``waiting`` is set when a second caller asks for a collection's lock."""
    original = Collection._locked
    calls: list[bool] = []

    def locked(self: Collection, *, exclusive: bool) -> Any:
        calls.append(exclusive)
        if len(calls) == 2:
            waiting.set()
        return original(self, exclusive=exclusive)

    monkeypatch.setattr(Collection, "_locked", locked)


def hold_first_build(fake: BagOfWords) -> tuple[threading.Event, threading.Event]:
    started, release = threading.Event(), threading.Event()
    fake.hold = (started, release)
    return started, release


def test_two_adds_to_one_collection_at_once_keep_both_paths(
    tmp_path: Path, fake: BagOfWords, monkeypatch: pytest.MonkeyPatch
) -> None:
    from minichat.cli import docs

    first, second = notes(tmp_path / "first"), notes(tmp_path / "second")
    started, release = hold_first_build(fake)
    waiting = threading.Event()
    spy_on_locks(monkeypatch, waiting)
    one = threading.Thread(target=docs.add, args=("notes", [first]))
    one.start()
    assert started.wait(60)
    two = threading.Thread(target=docs.add, args=("notes", [second]))
    two.start()
    assert waiting.wait(60)
    release.set()
    one.join(60)
    two.join(60)
    assert Collection.named("notes").manifest()["paths"] == [str(first), str(second)]


def test_a_collection_removed_during_an_add_stays_removed(
    tmp_path: Path, fake: BagOfWords, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection = built(tmp_path, fake)
    started, release = hold_first_build(fake)
    waiting = threading.Event()
    spy_on_locks(monkeypatch, waiting)
    more = notes(tmp_path / "more")
    add = threading.Thread(target=collection.build, args=([tmp_path / "notes", more], fake))
    add.start()
    assert started.wait(60)
    rm = threading.Thread(target=Collection.named("notes").remove)
    rm.start()
    assert waiting.wait(60)
    release.set()
    add.join(60)
    rm.join(60)
    assert not collection.folder.exists()  # the removal came last


def test_removing_a_collection_that_is_not_there_is_an_error(
    tmp_path: Path, fake: BagOfWords, capsys: pytest.CaptureFixture[str]
) -> None:
    one_line_error(cli(capsys, "docs", "rm", "ghost"), "no collection named 'ghost'")
    (tmp_path / "empty").mkdir()
    one_line_error(cli(capsys, "docs", "add", "ghost", str(tmp_path / "empty")), "no text found")
    assert not (collections_dir() / "ghost").exists()  # a failed add leaves nothing
    one_line_error(cli(capsys, "docs", "rm", "ghost"), "no collection named 'ghost'")


def test_a_failed_add_leaves_the_collection_as_it_was(
    tmp_path: Path, fake: BagOfWords, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "docs", "add", "notes", str(notes(tmp_path / "notes"))).code == 0
    before = Collection.named("notes").manifest()
    one_line_error(cli(capsys, "docs", "add", "notes", "/dev/null"), "/dev/null is a device")
    assert Collection.named("notes").manifest() == before
    assert "111" in cli(capsys, "docs", "search", "notes", "alpha code").out


# --- 5. collections damaged on disk ---------------------------------------------------------


def built(tmp_path: Path, fake: BagOfWords, name: str = "notes") -> Collection:
    collection = Collection.named(name)
    collection.build([notes(tmp_path / name)], fake)
    return collection


def generation(collection: Collection) -> Path:
    return collection.folder / str(collection.manifest()["generation"])


def rewrite_manifest(change: Callable[[dict[str, Any]], Any]) -> Callable[[Collection], None]:
    def damage(collection: Collection) -> None:
        path = collection.folder / "manifest.json"
        manifest = json.loads(path.read_text())
        path.write_text(json.dumps(change(manifest)))

    return damage


def swap_vocabulary(collection: Collection) -> None:
    path = generation(collection) / "keywords" / "vocab.index.json"
    vocab = json.loads(path.read_text())
    ids = list(vocab.values())
    path.write_text(json.dumps(dict(zip(vocab, ids[1:] + ids[:1], strict=True))))


def emptied(name: str) -> Callable[[Collection], object]:
    return lambda collection: (generation(collection) / name).write_bytes(b"")


def replaced_by_fifo(collection: Collection) -> None:
    path = generation(collection) / "chunks.jsonl"
    path.unlink()
    os.mkfifo(path)


REMOVE_AND_ADD = "docs rm notes"
REBUILD = "docs update notes --rebuild"
DAMAGE: dict[str, tuple[Callable[[Collection], object], str]] = {
    "a list": (rewrite_manifest(lambda m: []), REMOVE_AND_ADD),
    "null": (rewrite_manifest(lambda m: None), REMOVE_AND_ADD),
    "no files": (rewrite_manifest(lambda m: {**m, "files": None}), REMOVE_AND_ADD),
    "a count that is text": (
        rewrite_manifest(
            lambda m: {**m, "files": {p: {**e, "chunks": "x"} for p, e in m["files"].items()}}
        ),
        REMOVE_AND_ADD,
    ),
    "no hash": (
        rewrite_manifest(lambda m: {**m, "files": {p: {"chunks": 1} for p in m["files"]}}),
        REMOVE_AND_ADD,
    ),
    "paths that are not a list": (rewrite_manifest(lambda m: {**m, "paths": 3}), REMOVE_AND_ADD),
    "a generation outside": (
        rewrite_manifest(lambda m: {**m, "generation": "../../.."}),
        REMOVE_AND_ADD,
    ),
    "nested too deep": (
        lambda c: (c.folder / "manifest.json").write_text("[" * 100_000 + "]" * 100_000),
        REMOVE_AND_ADD,
    ),
    "empty vectors": (emptied("vectors.npy"), REBUILD),
    "empty chunks": (emptied("chunks.jsonl"), REBUILD),
    "a chunk of the wrong shape": (
        lambda c: (generation(c) / "chunks.jsonl").write_text('{"path": 1}\n[]\n'),
        REBUILD,
    ),
    "chunks replaced by a FIFO": (replaced_by_fifo, REBUILD),
    "an empty keyword file": (emptied("keywords/params.index.json"), REBUILD),
    "a damaged vocabulary": (swap_vocabulary, REBUILD),
    "a keyword file gone": (
        lambda c: (generation(c) / "keywords" / "data.csc.index.npy").unlink(),
        REBUILD,
    ),
}


SAME_SIZE = {"a damaged vocabulary"}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_collection_says_how_to_recover(
    tmp_path: Path, fake: BagOfWords, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    damage, hint = DAMAGE[case]
    built(tmp_path, fake, "other")
    collection = built(tmp_path, fake)
    damage(collection)
    with pytest.raises(CollectionError, match=f"damaged.*{hint}"):
        collection.load(fake)
    one_line_error(cli(capsys, "docs", "search", "notes", "alpha"), "damaged", hint)
    listed = cli(capsys, "docs", "ls", "--json")
    assert listed.code == 0
    rows = {row["name"]: row for row in json.loads(listed.out)}
    assert rows["other"]["files"] == 2
    if case not in SAME_SIZE:  # ls checks each file's size; a load checks every byte
        assert "damaged" in rows["notes"]["error"] and "damaged" in cli(capsys, "docs", "ls").out
    if hint == REBUILD:
        assert cli(capsys, "docs", "update", "notes", "--rebuild").code == 0
    else:
        assert cli(capsys, "docs", "rm", "notes").code == 0
        assert cli(capsys, "docs", "add", "notes", str(tmp_path / "notes")).code == 0
    assert "111" in cli(capsys, "docs", "search", "notes", "alpha code").out


def test_a_damaged_collection_is_not_added_to_or_updated(
    tmp_path: Path, fake: BagOfWords, capsys: pytest.CaptureFixture[str]
) -> None:
    collection = built(tmp_path, fake)
    (collection.folder / "manifest.json").write_text("[]")
    one_line_error(cli(capsys, "docs", "update", "notes"), "damaged", REMOVE_AND_ADD)
    one_line_error(cli(capsys, "docs", "add", "notes", str(tmp_path)), "damaged", REMOVE_AND_ADD)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder another user can pass through (pytest's own are private)."""
    folder = Path(tempfile.mkdtemp(prefix="minichat-hostile-"))
    folder.chmod(0o711)
    yield folder
    for path in [folder, *folder.rglob("*")]:  # a test may have locked some away
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o700)
    shutil.rmtree(folder)


def as_nobody(run: Callable[[], Result]) -> Result:
    """``run()`` as the user nobody where the tests run as root (root reads everything),
    in a forked child; else here, as the user the tests run as."""
    if os.geteuid() != 0:
        return run()
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        try:
            os.setgid(65534)
            os.setuid(65534)
            result = run()
            os.write(writing, json.dumps([result.code, result.out, result.err]).encode())
        except BaseException:
            import traceback

            os.write(writing, json.dumps([-1, "", traceback.format_exc()]).encode())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        data = pipe.read()
    os.waitpid(child, 0)
    return Result(*json.loads(data))


def test_an_unreadable_collection_says_so_and_the_others_still_list(
    shared_tmp: Path,
    fake: BagOfWords,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"MINICHAT_{name}_DIR", str(shared_tmp / name.lower()))
    readable, locked = built(shared_tmp, fake, "readable"), built(shared_tmp, fake, "locked")
    if os.geteuid() == 0:  # nobody owns the data, but for the locked collection
        for path in [shared_tmp, *shared_tmp.rglob("*")]:
            os.chown(path, 65534, 65534, follow_symlinks=False)
        for path in [locked.folder, *locked.folder.rglob("*")]:
            os.chown(path, 0, 0, follow_symlinks=False)
    # what the commands import is imported here first: the child cannot read root's files
    assert cli(capsys, "docs", "ls").code == 0
    assert cli(capsys, "docs", "search", "readable", "alpha").code == 0
    locked.folder.chmod(0)

    listed = as_nobody(lambda: cli(capsys, "docs", "ls", "--json"))
    assert listed.code == 0, listed.err
    rows = {row["name"]: row for row in json.loads(listed.out)}
    assert rows["readable"]["files"] == 2 and readable.exists
    assert "permission denied" in rows["locked"]["error"]
    one_line_error(
        as_nobody(lambda: cli(capsys, "docs", "search", "locked", "alpha")), "permission denied"
    )
    (shared_tmp / "data" / "docs").chmod(0)
    one_line_error(as_nobody(lambda: cli(capsys, "docs", "ls")), "permission denied", "docs")


# --- 6. names, paths and queries -------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../x", "a/b", "/tmp/x", "x" * 65, "a\x1bb", "a\nb", "-x", "off"]
)
def test_a_collection_name_cannot_leave_its_folder_or_the_line(
    tmp_path: Path, fake: BagOfWords, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    folder = notes(tmp_path / "notes")
    for command in (["add", "--", name, str(folder)], ["rm", "--", name], ["update", "--", name]):
        result = cli(capsys, "docs", *command)
        assert result.code != 0 and "\x1b" not in result.err and result.err.count("\n") <= 1
    assert not collections_dir().exists() or list(collections_dir().iterdir()) == []


def test_a_path_given_twice_is_indexed_once(
    tmp_path: Path, fake: BagOfWords, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = notes(tmp_path / "notes")
    (tmp_path / "alias").symlink_to(folder)
    args = [str(folder), str(folder / "a.md"), str(tmp_path / "alias"), str(folder) + "/"]
    result = cli(capsys, "docs", "add", "notes", *args)
    assert result.code == 0 and "2 files" in result.out
    assert Collection.named("notes").manifest()["paths"] == [str(folder), str(folder / "a.md")]


def test_empty_and_huge_queries(
    tmp_path: Path, fake: BagOfWords, capsys: pytest.CaptureFixture[str]
) -> None:
    built(tmp_path, fake)
    for query in ("", "   ", "\n"):
        assert cli(capsys, "docs", "search", "notes", query).out == "nothing found\n"
    index = Collection.named("notes").load(fake)
    with pytest.raises(InputError, match="at most 20000 characters"):
        index.search("word " * 100_000)


def test_a_file_that_changes_while_read_is_indexed_as_its_hash_says(
    tmp_path: Path, fake: BagOfWords, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hash recorded is that of the very bytes chunked: the file is read once. Here
    every open of b.txt finds it changed."""
    import hashlib
    import io

    folder = notes(tmp_path / "notes")
    opened: list[str] = []
    real_io_open, real_os_open = io.open, os.open

    def change(path: Any) -> None:
        if str(path).endswith("b.txt") and opened[-1:] != ["writing"]:
            opened.append("writing")
            with real_io_open(path, "w") as file:
                file.write(f"Beta notes: the beta code is {len(opened)}00.\n")
            opened.append(str(path))

    def io_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        change(path)
        return real_io_open(path, *args, **kwargs)

    def os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        change(path)
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr(os, "open", os_open)
    collection = Collection.named("notes")
    collection.build([folder], fake)
    monkeypatch.undo()
    text = next(c.text for c in collection.load(fake).chunks if c.path.endswith("b.txt"))
    digest = collection.manifest()["files"][str(folder / "b.txt")]["sha256"]
    assert hashlib.sha256(f"{text}\n".encode()).hexdigest() == digest
