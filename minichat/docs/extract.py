"""Read a file as plain text, remembering where every line came from.

A search hit is only useful if it can be cited, so a ``Document`` keeps, for each
line of its text, the line (or PDF page) of the file it was read from: HTML is
reduced to its visible text and PDF to the text of its pages, yet a passage still
points back to ``page.html:40-52`` or ``report.pdf p.3``. Files a user cannot index
(binary, corrupt, encrypted, scanned) raise ``DocumentError`` with one line that
says what to do; an empty file is a document with no text.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from minichat.docs.chunks import Unit
from minichat.errors import DocumentError

_SUFFIXES_OF = {
    "markdown": ".md .markdown .mdx",
    "rst": ".rst",
    "text": ".txt .text",
    "html": ".html .htm .xhtml",
    "pdf": ".pdf",
    "code": ".py .pyi .js .mjs .cjs .ts .tsx .jsx .vue .svelte .go .rs .java .kt .kts .scala "
    ".swift .c .h .cc .cpp .cxx .hh .hpp .cs .m .rb .php .pl .lua .r .jl .dart .zig .nim .ex "
    ".exs .hs .ml .clj .sh .bash .zsh .fish .ps1 .sql .css .scss .less .toml .yaml .yml .json "
    ".ini .cfg",
}
KINDS = {suffix: kind for kind, names in _SUFFIXES_OF.items() for suffix in names.split()}
SUFFIXES = frozenset(KINDS)
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", "venv", "site-packages"})


@dataclass(frozen=True)
class Document:
    """A file's text, and where in the file each of its lines came from."""

    path: Path  # the file, absolute
    kind: str  # "markdown", "rst", "text", "html", "code" or "pdf"
    text: str  # lines joined by "\n": the file's own text, or what was extracted from it
    origins: tuple[int, ...]  # for each line of text, its line (or page) in the file, 1-based
    unit: Unit = "lines"  # what origins count
    headings: tuple[tuple[int, int], ...] = ()  # (line of text, level 1-6) where text hides them


def kind_of(path: Path) -> str:
    """The kind a file is read as; an unknown suffix is read as plain text."""
    return KINDS.get(path.suffix.lower(), "text")


def is_supported(path: Path) -> bool:
    """Whether a folder walk picks this file: a known suffix, or none and text inside."""
    if path.suffix:
        return path.suffix.lower() in SUFFIXES
    try:
        with path.open("rb") as file:
            head = file.read(8192)
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except (OSError, UnicodeDecodeError):
        return False
    return b"\x00" not in head


def find_files(paths: Sequence[Path]) -> list[Path]:
    """The files to read, absolute: folders walked (sorted, hidden and tool folders skipped),
    files named explicitly kept whatever their suffix; each file once."""
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(os.path.abspath(given))
        if not path.exists():
            raise DocumentError(f"{given} does not exist; check the path")
        if path.is_dir():
            found.update(dict.fromkeys(_walk(path)))
        else:
            found[path] = None
    return list(found)


def _walk(folder: Path) -> list[Path]:
    files = []
    for root, folders, names in os.walk(folder):
        folders[:] = [f for f in folders if not f.startswith(".") and f not in SKIPPED_FOLDERS]
        files += [Path(root, n) for n in names if not n.startswith(".")]
    return sorted(f for f in files if f.is_file() and is_supported(f))


def read_document(path: Path) -> Document:
    """Read one file as text, by its suffix (see ``KINDS``)."""
    path = Path(os.path.abspath(path))
    kind = kind_of(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"{path} does not exist; check the path") from None
    except OSError as error:
        raise DocumentError(
            f"cannot read {path}: {error.strerror}; check its permissions"
        ) from None
    unit: Unit = "pages" if kind == "pdf" else "lines"
    if not data:
        return Document(path, kind, "", (1,), unit)
    if kind == "pdf":
        return _read_pdf(path, data)
    text = _decode(path, data)
    if kind == "html":
        return _read_html(path, text)
    return Document(path, kind, text, tuple(range(1, text.count("\n") + 2)))


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 (or UTF-16 with its byte-order mark) text with "\n" line ends."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    elif b"\x00" in data:
        raise DocumentError(
            f"{path} is not a text file (binary); give text, Markdown, reStructuredText, "
            "HTML, source code or PDF files"
        )
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DocumentError(
                f"{path} is not a text file (not UTF-8); convert it first, "
                "e.g. iconv -f LATIN1 -t UTF-8"
            ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


_SKIPPED_TAGS = frozenset(
    {"head", "title", "script", "style", "nav", "noscript", "template", "svg"}
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCK_TAGS = (
    "address article aside blockquote br dd details div dl dt figcaption figure footer form "
    "header hr li main ol p pre section summary table td th tr ul"
)
_BLOCKS = frozenset(_BLOCK_TAGS.split())


class _HtmlText(HTMLParser):
    """Visible text, one output line per source line; blocks and headings set apart."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.origins: list[int] = [1]
        self.headings: list[tuple[int, int]] = []
        self._skipping: list[str] = []  # the skipped elements open around the parser
        self._heading: tuple[int, int, list[str]] | None = None  # level, line, its words
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":  # an unclosed <head> ends here
            self._skipping.clear()
        if tag in _SKIPPED_TAGS:
            self._skipping.append(tag)
        elif self._skipping:
            return
        elif tag in _HEADINGS:
            self._heading = (_HEADINGS[tag], self.getpos()[0], [])
        elif tag in _BLOCKS:
            self._pre += 1 if tag == "pre" else 0
            self._break(blank=tag != "br")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag != "br":  # <br/> is <br>, a line break; its end would make it a paragraph's
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._skipping:
            while self._skipping.pop() != tag:
                pass
        elif self._skipping:
            return
        elif tag in _HEADINGS and self._heading is not None:
            level, line, words = self._heading
            self._heading = None
            self._break(blank=True)
            self._add(" ".join(" ".join(words).split()), line)
            self.headings.append((len(self.lines) - 1, level))
            self._break(blank=True)
        elif tag in _BLOCKS:
            self._pre -= 1 if tag == "pre" and self._pre else 0
            self._break(blank=True)

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._heading is not None:
            self._heading[2].append(data)
            return
        line = self.getpos()[0]
        for offset, piece in enumerate(data.replace("\r\n", "\n").split("\n")):
            if offset:
                self._break(blank=False)
            self._add(piece if self._pre else re.sub(r"\s+", " ", piece), line + offset)

    def _add(self, text: str, line: int) -> None:
        if not self.lines[-1].strip():  # a line starts at its first visible character
            text = text if self._pre else text.lstrip()
            if not text.strip():
                return
            self.lines[-1], self.origins[-1] = "", line
        self.lines[-1] += text

    def _break(self, blank: bool) -> None:
        """End the current line; with ``blank``, leave one empty line (a paragraph break)."""
        self.lines[-1] = self.lines[-1].rstrip()
        if self.lines[-1]:
            self._new_line()
        if blank and len(self.lines) > 1 and self.lines[-2]:
            self._new_line()

    def _new_line(self) -> None:
        self.lines.append("")
        self.origins.append(self.origins[-1])


def _read_html(path: Path, text: str) -> Document:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    lines, origins = parser.lines, parser.origins
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop(), origins.pop()
    return Document(path, "html", "\n".join(lines), tuple(origins), headings=tuple(parser.headings))


def _read_pdf(path: Path, data: bytes) -> Document:
    try:
        logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings are not ours to print
        from pypdf import PasswordType, PdfReader
        from pypdf.errors import DependencyError, FileNotDecryptedError
    except ImportError:
        raise DocumentError(
            f"reading {path} needs pypdf, which is not installed; pip install 'minichat[docs]'"
        ) from None
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise FileNotDecryptedError("a password is needed")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (DependencyError, FileNotDecryptedError):  # AES needs the cryptography package
        raise DocumentError(
            f"{path} is an encrypted PDF; save an unlocked copy (qpdf --decrypt) and index that"
        ) from None
    except Exception as error:  # pypdf raises many kinds of error on a damaged file
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DocumentError(f"cannot read {path} as a PDF: {reason}; is it damaged?") from None
    lines: list[str] = []
    origins: list[int] = []
    for number, page in enumerate(pages, 1):
        page_lines = [line.rstrip() for line in page.replace("\r\n", "\n").split("\n")]
        if any(page_lines):
            lines += [*([""] if lines else []), *page_lines]
            origins += [*([origins[-1]] if origins else []), *[number] * len(page_lines)]
    if not lines:
        raise DocumentError(
            f"{path} has no text to extract (scanned pages?); run OCR on it first, "
            "e.g. ocrmypdf, and index the result"
        )
    return Document(path, "pdf", "\n".join(lines), tuple(origins), "pages")
