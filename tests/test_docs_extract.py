"""Reading files as documents: kinds, folder walks, HTML and PDF text with their origins,
and one clear error for each file that cannot be indexed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from minichat.errors import DocumentError, MinichatError
from minichat.retrieval.extract import (
    SUFFIXES,
    find_files,
    is_supported,
    kind_of,
    read_document,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_pdf(path: Path, pages: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 10, text)
    pdf.output(str(path))
    return path


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("notes.md", "markdown"),
        ("NOTES.MARKDOWN", "markdown"),
        ("page.mdx", "markdown"),
        ("index.rst", "rst"),
        ("a.txt", "text"),
        ("README", "text"),
        ("server.log", "text"),
        ("page.html", "html"),
        ("page.htm", "html"),
        ("main.py", "code"),
        ("lib.rs", "code"),
        ("app.tsx", "code"),
        ("config.yaml", "code"),
        ("report.pdf", "pdf"),
    ],
)
def test_a_file_is_read_by_its_suffix(name: str, kind: str) -> None:
    assert kind_of(Path(name)) == kind


def test_a_text_file_keeps_its_lines(tmp_path: Path) -> None:
    document = read_document(write(tmp_path / "a.md", "# Title\r\n\r\nbody\r\n"))
    assert document.kind == "markdown"
    assert document.path == tmp_path / "a.md" and document.path.is_absolute()
    assert document.text == "# Title\n\nbody\n"
    assert document.origins == (1, 2, 3, 4)
    assert document.unit == "lines"


def test_a_relative_path_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "a.txt", "hello")
    monkeypatch.chdir(tmp_path)
    assert read_document(Path("a.txt")).path == tmp_path / "a.txt"


def test_an_empty_file_is_an_empty_document(tmp_path: Path) -> None:
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "empty.pdf").write_bytes(b"")
    assert read_document(tmp_path / "empty.md").text == ""
    assert read_document(tmp_path / "empty.pdf").unit == "pages"


def test_a_file_with_an_unknown_suffix_is_read_as_text(tmp_path: Path) -> None:
    document = read_document(write(tmp_path / "server.log", "started\nstopped\n"))
    assert (document.kind, document.text) == ("text", "started\nstopped\n")


def test_a_binary_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DocumentError, match=r"image\.txt is not a text file \(binary\)") as caught:
        read_document(tmp_path / "image.txt")
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, MinichatError)


def test_a_file_not_in_utf8_says_to_convert_it(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("café crème".encode("latin-1"))
    with pytest.raises(DocumentError, match=r"latin\.txt is not a text file \(not UTF-8\); conv"):
        read_document(tmp_path / "latin.txt")


def test_utf16_with_a_byte_order_mark_is_text(tmp_path: Path) -> None:
    (tmp_path / "wide.txt").write_bytes("hello\nworld".encode("utf-16"))
    assert read_document(tmp_path / "wide.txt").text == "hello\nworld"


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="gone.md does not exist"):
        read_document(tmp_path / "gone.md")


HTML = """<!DOCTYPE html>
<html>
<head><title>Page title</title>
<style>body { color: red }</style>
</head>
<body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<h1>Guide &amp; more</h1>
<p>First paragraph
spans two lines with <b>bold</b> text.</p>
<h2>Install
  it</h2>
<p>Run pip.</p>
<script>var hidden = "script text";</script>
<ul><li>one</li><li>two</li></ul>
</body>
</html>
"""


def test_html_is_its_visible_text_with_headings_and_source_lines(tmp_path: Path) -> None:
    document = read_document(write(tmp_path / "page.html", HTML))
    lines = document.text.split("\n")
    for hidden in ("Page title", "color", "Home", "About", "script text"):
        assert hidden not in document.text
    assert "<" not in document.text
    headings = {lines[i]: level for i, level in document.headings}
    assert headings == {"Guide & more": 1, "Install it": 2}
    source = HTML.split("\n")
    for i, (line, origin) in enumerate(zip(lines, document.origins, strict=True)):
        # each visible word is on the source line the text says it came from (or, for a
        # heading written over two lines, the next)
        near = " ".join(source[origin - 1 : origin + (i in dict(document.headings))])
        assert all(word in near for word in line.split() if word != "&")
    assert lines[document.origins.index(10)] == "spans two lines with bold text."
    assert "one" in lines and "two" in lines  # list items stay apart


def test_html_without_a_closing_head_still_has_a_body(tmp_path: Path) -> None:
    document = read_document(write(tmp_path / "a.htm", "<head><title>T</title><body><p>Hi"))
    assert document.text == "Hi"


def test_a_pdf_is_read_page_by_page(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "two.pdf", ["Alpha on the first page.", "", "Gamma on page three."])
    document = read_document(path)
    assert (document.kind, document.unit) == ("pdf", "pages")
    by_page: dict[int, str] = {}
    for line, page in zip(document.text.split("\n"), document.origins, strict=True):
        by_page[page] = by_page.get(page, "") + line
    assert "Alpha" in by_page[1] and "Gamma" in by_page[3]
    assert 2 not in document.origins  # the blank page has no text


def test_a_damaged_pdf_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\nthis is not really a PDF")
    with pytest.raises(DocumentError, match=r"cannot read .*bad\.pdf as a PDF: ") as caught:
        read_document(tmp_path / "bad.pdf")
    assert "\n" not in str(caught.value)


def test_an_encrypted_pdf_is_an_error(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.cell(text="secret")
    pdf.set_encryption(owner_password="owner", user_password="user")
    pdf.output(str(tmp_path / "locked.pdf"))
    with pytest.raises(DocumentError, match=r"locked\.pdf is an encrypted PDF; save an unlocked"):
        read_document(tmp_path / "locked.pdf")


def test_a_scanned_pdf_without_text_says_so(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 50, 50)  # a picture, no text
    pdf.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(DocumentError, match=r"scan\.pdf has no text to extract.*OCR"):
        read_document(tmp_path / "scan.pdf")


def test_reading_a_pdf_without_pypdf_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_pdf(tmp_path / "a.pdf", ["text"])
    monkeypatch.setitem(sys.modules, "pypdf", None)  # import pypdf now raises ImportError
    with pytest.raises(DocumentError, match=r"pip install 'minichat\[docs\]'"):
        read_document(path)


def test_a_folder_walk_picks_documents_in_order(tmp_path: Path) -> None:
    for name in [
        "b.md",
        "a/z.py",
        "a/b.txt",
        "README",
        "photo.jpg",
        ".hidden.md",
        ".git/config.md",
        "node_modules/x/readme.md",
        "a/__pycache__/m.md",
        ".venv/lib/site.py",
    ]:
        write(tmp_path / name, "text")
    (tmp_path / "program").write_bytes(b"\x7fELF\x00\x00")
    found = find_files([tmp_path])
    assert found == [
        tmp_path / "README",
        tmp_path / "a/b.txt",
        tmp_path / "a/z.py",
        tmp_path / "b.md",
    ]


def test_files_named_explicitly_are_kept_once(tmp_path: Path) -> None:
    log = write(tmp_path / "x/run.log", "text")
    hidden = write(tmp_path / "x/.notes.md", "text")
    note = write(tmp_path / "x/a.md", "text")
    assert not is_supported(log)
    assert find_files([log, hidden, tmp_path / "x", note]) == [log, hidden, note]


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="nowhere does not exist; check the path"):
        find_files([tmp_path, tmp_path / "nowhere"])


def test_every_supported_suffix_has_a_kind() -> None:
    assert {".md", ".rst", ".txt", ".html", ".py", ".pdf"} <= SUFFIXES
    assert all(suffix.startswith(".") and suffix == suffix.lower() for suffix in SUFFIXES)


def test_a_self_closing_br_is_a_line_break_as_br_is(tmp_path: Path) -> None:
    one = read_document(write(tmp_path / "a.html", "<p>one<br>two</p>"))
    other = read_document(write(tmp_path / "b.html", "<p>one<br/>two</p>"))
    assert one.text == other.text and "one\ntwo" in one.text
