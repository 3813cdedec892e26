"""Document collections with the real embedder: retrieval quality on a generated corpus,
updates that re-embed only what changed, writes that survive an interruption, and one
clear line for each kind of bad input."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from minichat.errors import CollectionError, InputError
from minichat.retrieval.collection import Collection
from minichat.retrieval.embedder import Embedder
from minichat.retrieval.embedder import shared as embedder
from minichat.retrieval.search import Hit, Index
from tests.docs_corpus import Question, make_corpus


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def answers(hit: Hit, question: Question) -> bool:
    """The passage that holds the question's fact (a needle across a chunk boundary
    counts where the chunk holds its beginning)."""
    return hit.chunk.path.endswith(question.file) and squash(question.needle)[:40] in squash(
        hit.chunk.text
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Index, list[Question]]:
    root = tmp_path_factory.mktemp("corpus")
    questions = make_corpus(root, filler=100)  # ~450 passages: distractors to rank past
    collection = Collection(tmp_path_factory.mktemp("index") / "corpus", "corpus")
    collection.build([root], embedder())
    return collection.load(embedder()), questions


def rank_of_answer(index: Index, question: Question, mode: str) -> int | None:
    hits = index.search(question.text, 10, mode)  # type: ignore[arg-type]
    return next((n for n, hit in enumerate(hits, 1) if answers(hit, question)), None)


def test_fused_retrieval_finds_the_answers(corpus: tuple[Index, list[Question]]) -> None:
    index, questions = corpus
    recall, mrr = {}, {}
    for mode in ("bm25", "dense", "fused"):
        ranks = [rank_of_answer(index, q, mode) for q in questions]
        recall[mode] = sum(r is not None and r <= 4 for r in ranks) / len(questions)
        mrr[mode] = sum(1 / r for r in ranks if r is not None) / len(questions)
    print("recall@4", recall, "MRR@10", mrr)  # shown with -s; bench/retrieval.py tabulates
    assert recall["fused"] >= 0.9
    assert recall["fused"] >= max(recall["bm25"], recall["dense"])
    assert mrr["fused"] >= 0.75


def test_every_chunk_fits_what_the_embedder_reads(corpus: tuple[Index, list[Question]]) -> None:
    index, _ = corpus
    model = embedder()
    assert all(model.count_tokens(c.embed_text) <= model.max_tokens for c in index.chunks)
    assert {Path(c.path).suffix for c in index.chunks} >= {".md", ".py", ".html", ".pdf", ".rst"}


def test_the_embedder_refuses_what_it_would_cut_and_embeds_long_queries_whole() -> None:
    model = embedder()
    long = "lighthouse " * 400
    with pytest.raises(InputError, match="reads at most 256"):
        model.embed([long])
    vector = model.embed_query(long)
    assert vector.shape == (1, 384)
    assert abs(float(np.linalg.norm(vector)) - 1) < 1e-5


def folder_of_notes(root: Path) -> Path:
    (root / "deep").mkdir(parents=True)
    (root / "a.md").write_text("# Alpha\n\nThe alpha code is 111.\n\nMore about alpha.\n")
    (root / "b.txt").write_text("Beta notes: the beta code is 222.\n")
    (root / "deep" / "c.py").write_text('def gamma():\n    """The gamma code is 333."""\n')
    return root


def embedded(collection: Collection, paths: list[Path] | None = None, **options: bool):  # type: ignore[no-untyped-def]
    """Build, counting the texts that went through the model."""
    model = embedder()
    seen: list[str] = []
    original = model.embed

    def counting(texts, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.extend(texts)
        return original(texts, *args, **kwargs)

    model.embed = counting  # type: ignore[method-assign]
    try:
        report = collection.build(paths, model, **options)
    finally:
        del model.embed
    return report, seen


def test_update_embeds_only_what_changed(tmp_path: Path) -> None:
    notes = folder_of_notes(tmp_path / "notes")
    collection = Collection.named("notes")
    report, seen = embedded(collection, [notes])
    assert (report.files, report.embedded_files) == (3, 3) and len(seen) == report.chunks

    report, seen = embedded(collection)  # an unchanged folder: nothing is embedded
    assert (report.embedded_files, report.removed_files, seen) == (0, 0, [])
    generation = collection.manifest()["generation"]

    (notes / "b.txt").write_text("Beta notes: the beta code is now 999.\n")
    report, seen = embedded(collection)
    assert report.embedded_files == 1 and seen == ["Beta notes: the beta code is now 999."]
    assert collection.manifest()["generation"] != generation
    hits = collection.load(embedder()).search("what is the beta code", 1)
    assert "999" in hits[0].chunk.text

    (notes / "deep" / "c.py").unlink()
    report, seen = embedded(collection)
    assert (report.removed_files, seen, report.files) == (1, [], 2)
    index = collection.load(embedder())
    assert all(not c.path.endswith("c.py") for c in index.chunks)
    assert len(list(collection.folder.glob("g-*"))) == 1  # old generations are swept


def test_an_interrupted_build_leaves_the_collection_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = folder_of_notes(tmp_path / "notes")
    collection = Collection.named("notes")
    collection.build([notes], embedder())
    before = collection.manifest()
    (notes / "a.md").write_text("# Alpha\n\nThe alpha code changed to 444.\n")

    def interrupt(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        collection.build(None, embedder(), interrupt)
    assert collection.manifest() == before

    def crash(*args: object, **kwargs: object) -> None:  # after the new files, before the manifest
        raise OSError("disk full")

    monkeypatch.setattr("minichat.retrieval.collection.write_atomically", crash)
    with pytest.raises(OSError):
        collection.build(None, embedder())
    monkeypatch.undo()
    assert collection.manifest() == before
    assert [p.name for p in collection.folder.glob("g-*")] == [before["generation"]]
    assert "111" in collection.load(embedder()).search("alpha code", 1)[0].chunk.text


def test_a_collection_built_another_way_is_refused_with_the_rebuild_command(
    tmp_path: Path,
) -> None:
    collection = Collection.named("notes")
    collection.build([folder_of_notes(tmp_path / "notes")], embedder())
    manifest = json.loads((collection.folder / "manifest.json").read_text())
    manifest["chunker"] = 0
    (collection.folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CollectionError, match="minichat docs update notes --rebuild"):
        collection.load(embedder())
    report = collection.build(None, embedder(), rebuild=True)
    assert report.embedded_files == 3
    collection.load(embedder())


BAD: dict[str, Callable[[Path], str]] = {}


def bad(words: str) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    def register(make: Callable[[Path], None]) -> Callable[[Path], None]:
        BAD[make.__name__] = lambda root: (make(root), words)[1]
        return make

    return register


@bad("no text found to index")
def empty_folder(root: Path) -> None:
    (root / "docs").mkdir()


@bad("is not a text file")
def binary_file(root: Path) -> None:
    (root / "docs").mkdir()
    (root / "docs" / "blob.txt").write_bytes(b"\x00\x01\x02\xff" * 100)


@bad("PDF")
def unreadable_pdf(root: Path) -> None:
    (root / "docs").mkdir()
    (root / "docs" / "report.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_folders_get_one_clear_line(tmp_path: Path, case: str) -> None:
    words = BAD[case](tmp_path)
    with pytest.raises(CollectionError) as caught:
        Collection.named("x").build([tmp_path / "docs"], embedder())
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert not Collection.named("x").exists


def test_bad_files_beside_good_ones_are_skipped_and_named(tmp_path: Path) -> None:
    notes = folder_of_notes(tmp_path / "notes")
    (notes / "blob.txt").write_bytes(b"\x00\xff" * 50)
    (notes / "broken.pdf").write_bytes(b"%PDF-1.4 nope")
    report = Collection.named("notes").build([notes], embedder())
    assert report.files == 3
    assert sorted(Path(p).name for p, _ in report.skipped) == ["blob.txt", "broken.pdf"]


def test_damaged_collections_say_how_to_recover(tmp_path: Path) -> None:
    collection = Collection.named("notes")
    collection.build([folder_of_notes(tmp_path / "notes")], embedder())
    generation = collection.folder / collection.manifest()["generation"]
    (generation / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(CollectionError, match="damaged.*docs update notes --rebuild"):
        collection.load(embedder())
    collection.build(None, embedder(), rebuild=True)  # the rebuild it names works
    collection.load(embedder())

    (collection.folder / "manifest.json").write_text("{not json")
    with pytest.raises(CollectionError, match="damaged.*docs rm notes"):
        collection.load(embedder())
    collection.remove()
    assert not collection.folder.exists()
    with pytest.raises(CollectionError, match="no collection named 'gone'"):
        Collection.named("gone").load(embedder())


def test_a_missing_embedder_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from minichat.errors import ModelNotFoundError

    monkeypatch.setattr("minichat.retrieval.embedder.package_file", lambda *a: None)
    with pytest.raises(ModelNotFoundError, match="pip install"):
        Embedder()


def test_a_deleted_folder_empties_on_update(tmp_path: Path) -> None:
    notes = folder_of_notes(tmp_path / "notes")
    collection = Collection.named("notes")
    collection.build([notes, tmp_path / "notes" / "a.md"], embedder())
    shutil.rmtree(notes / "deep")
    report = collection.build(None, embedder())
    assert report.removed_files == 1 and report.files == 2


def test_text_without_keywords_is_searched_by_meaning_alone(tmp_path: Path) -> None:
    (tmp_path / "hamlet.txt").write_text("To be, or not to be.\n")
    collection = Collection.named("quotes")
    collection.build([tmp_path], embedder())
    index = collection.load(embedder())
    assert index.keywords is None
    hits = index.search("to be or not", 10)  # stopwords only, and k above the chunk count
    assert [h.chunk.text for h in hits] == ["To be, or not to be."]
    assert hits[0].keyword_rank is None and hits[0].dense_rank == 1


def test_an_update_of_a_collection_that_is_not_there_says_so() -> None:
    with pytest.raises(CollectionError, match="no collection named 'typo'"):
        Collection.named("typo").build(None, embedder())
    from minichat.errors import ConfigError

    with pytest.raises(ConfigError, match="/docs off turns documents off"):
        Collection.named("off")


def test_a_file_unreadable_on_update_keeps_its_passages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = folder_of_notes(tmp_path / "notes")
    collection = Collection.named("notes")
    collection.build([notes], embedder())
    from minichat.safety.files import read_regular

    def unreadable(path: Path, *args: Any, **kwargs: Any) -> bytes:
        if Path(path).name == "b.txt":
            raise PermissionError(13, "Permission denied")
        return read_regular(path, *args, **kwargs)

    monkeypatch.setattr("minichat.retrieval.extract.read_regular", unreadable)
    report = collection.build(None, embedder())
    assert report.removed_files == 0 and report.files == 3
    [(path, why)] = report.skipped
    assert path.endswith("b.txt") and "cannot read" in why and "earlier passages are kept" in why
    monkeypatch.undo()
    assert "222" in collection.load(embedder()).search("beta code", 1)[0].chunk.text


def test_two_builds_at_once_take_turns(tmp_path: Path) -> None:
    import threading

    notes = folder_of_notes(tmp_path / "notes")
    collection = Collection.named("notes")
    started, release = threading.Event(), threading.Event()

    def hold(done: int, total: int) -> None:
        started.set()
        release.wait(30)

    first = threading.Thread(target=collection.build, args=([notes], embedder(), hold))
    first.start()
    assert started.wait(30)
    second_done = threading.Event()

    def second() -> None:
        Collection.named("notes").build([notes], embedder())
        second_done.set()

    threading.Thread(target=second).start()
    assert not second_done.wait(1)  # waits for the first build's lock
    release.set()
    first.join(30)
    assert second_done.wait(30)
    assert len(collection.load(embedder())) == 3
    assert len(list(collection.folder.glob("g-*"))) == 1


def test_the_progress_bar_shows_on_a_terminal() -> None:
    import io

    from rich.console import Console

    from minichat.repl.render import embedding_progress

    out = io.StringIO()
    with embedding_progress("notes", Console(file=out, force_terminal=True)) as progress:
        progress(0, 10)
        progress(5, 10)
    assert "embedding notes" in out.getvalue() and "5/10" in out.getvalue()
    quiet = io.StringIO()
    with embedding_progress("notes", Console(file=quiet)) as progress:  # not a terminal
        progress(5, 10)
    assert quiet.getvalue() == ""
