"""Sanity checks for the generated retrieval corpus (``tests/docs_corpus.py``)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.docs_corpus import Question, filler_path, make_corpus

pytest.importorskip("fpdf")
pypdf = pytest.importorskip("pypdf")

FORMATS = {".md", ".py", ".html", ".pdf", ".rst", ".txt"}
HIDDEN = re.compile(r"<(script|style|nav)\b.*?</\1>", re.DOTALL)


def read(path: Path) -> str:
    """A file's text; for a PDF, the extracted text with whitespace collapsed."""
    if path.suffix == ".pdf":
        pages = pypdf.PdfReader(path).pages
        return " ".join(" ".join(page.extract_text() for page in pages).split())
    return path.read_text(encoding="utf-8")


def files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Question]]:
    root = tmp_path_factory.mktemp("corpus")
    return root, make_corpus(root)


@pytest.fixture(scope="module")
def texts(corpus: tuple[Path, list[Question]]) -> dict[str, str]:
    return {rel: read(path) for rel, path in files(corpus[0]).items()}


def test_forty_or_so_distinct_questions_of_both_kinds(
    corpus: tuple[Path, list[Question]],
) -> None:
    questions = corpus[1]
    assert 35 <= len(questions) <= 45
    for field in ("text", "answer", "needle"):
        assert len({getattr(q, field) for q in questions}) == len(questions), field
    kinds = Counter(q.kind for q in questions)
    assert set(kinds) == {"paraphrase", "keyword"}
    assert abs(kinds["paraphrase"] - kinds["keyword"]) <= 4


def test_every_format_is_present_with_its_share_of_facts(
    corpus: tuple[Path, list[Question]], texts: dict[str, str]
) -> None:
    root, questions = corpus
    assert 10 <= len(texts) <= 14
    assert {Path(rel).suffix for rel in texts} == FORMATS
    assert all("/" in rel for rel in texts)  # every file sits in a nested folder
    facts = Counter(Path(q.file).suffix for q in questions)
    assert set(facts) == FORMATS
    assert all(5 <= n <= 8 for n in facts.values()), facts
    assert all((root / q.file).is_file() for q in questions)


def test_each_needle_occurs_once_in_the_whole_corpus(
    corpus: tuple[Path, list[Question]], texts: dict[str, str]
) -> None:
    for q in corpus[1]:
        where = {rel: text.count(q.needle) for rel, text in texts.items() if q.needle in text}
        assert where == {q.file: 1}, q


def test_each_answer_is_in_its_needle_and_nowhere_else(
    corpus: tuple[Path, list[Question]], texts: dict[str, str]
) -> None:
    for q in corpus[1]:
        assert q.answer in q.needle, q
        where = {
            rel: text.lower().count(q.answer.lower())
            for rel, text in texts.items()
            if q.answer.lower() in text.lower()
        }
        assert where == {q.file: 1}, q


def test_html_facts_are_in_the_visible_text_only(
    corpus: tuple[Path, list[Question]], texts: dict[str, str]
) -> None:
    html = [q for q in corpus[1] if q.file.endswith(".html")]
    assert html
    for q in html:
        text = texts[q.file]
        assert HIDDEN.search(text)  # each page has script, style or nav to ignore
        assert q.needle in HIDDEN.sub("", text)
        assert all(q.answer not in hidden.group(0) for hidden in HIDDEN.finditer(text))


def test_python_compiles_and_all_text_is_ascii(texts: dict[str, str]) -> None:
    for rel, text in texts.items():
        if rel.endswith(".py"):
            compile(text, rel, "exec")
        assert text.isascii(), rel


def test_pdf_has_more_than_one_page(corpus: tuple[Path, list[Question]]) -> None:
    pdfs = [path for path in files(corpus[0]).values() if path.suffix == ".pdf"]
    assert pdfs
    assert all(len(pypdf.PdfReader(path).pages) >= 2 for path in pdfs)


def test_paragraphs_stay_under_a_chunk(texts: dict[str, str]) -> None:
    for rel, text in texts.items():
        if Path(rel).suffix in {".md", ".rst", ".txt"}:
            longest = max(len(block.split()) for block in text.split("\n\n"))
            assert longest < 150, rel


def test_filler_adds_fact_free_files(corpus: tuple[Path, list[Question]], tmp_path: Path) -> None:
    questions = make_corpus(tmp_path, filler=25, seed=3)
    assert questions == corpus[1]
    filler = {rel: path for rel, path in files(tmp_path).items() if rel.startswith("archive/")}
    assert sorted(filler) == sorted(filler_path(i) for i in range(25))
    for rel, path in filler.items():
        text = path.read_text(encoding="utf-8").lower()
        assert 1500 <= len(text) <= 4000, rel
        assert text.startswith("# ")
        assert not any(q.answer.lower() in text for q in questions), rel
    other = tmp_path / "other"
    make_corpus(other, filler=2, seed=4)
    assert (other / filler_path(0)).read_bytes() != (tmp_path / filler_path(0)).read_bytes()


def test_same_arguments_write_the_same_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    make_corpus(first, filler=5, seed=7)
    make_corpus(second, filler=5, seed=7)
    a, b = files(first), files(second)
    assert sorted(a) == sorted(b)
    for rel in a:
        if rel.endswith(".pdf"):
            assert read(a[rel]) == read(b[rel]), rel
        else:
            assert a[rel].read_bytes() == b[rel].read_bytes(), rel
