"""Read a file as plain text, remembering where every line came from.

A search hit is only useful if it can be cited, so a ``Document`` keeps, for each
line of its text, the line (or PDF page) of the file it was read from: HTML is
reduced to its visible text and PDF to the text of its pages, yet a passage still
points back to ``page.html:40-52`` or ``report.pdf p.3``. Files a user cannot index
(binary, corrupt, encrypted, scanned) raise ``DocumentError`` with one line that
says what to do; an empty file is a document with no text.

Input may be hostile, so reading is bounded: only regular files are read (a device
such as ``/dev/zero`` would be read until memory runs out, a FIFO would wait forever
for a writer), at most ``LIMITS[kind]`` bytes of each (a longer file is refused, never
cut short silently), a PDF of at most ``PDF_PAGES`` pages and as much text as a text
file. A folder walk skips symbolic links, files and folders alike, and names them: a
link can lead out of the folder given (to a key, say) or back into it (a loop), and a
file found by the walk is opened without following one, so a file swapped for a link
after the walk is refused too. A link named on the command line is the user's choice
and is followed. File names in messages are escaped (``untrusted``): a name may hold
escape sequences or bytes that are not UTF-8.
"""

from __future__ import annotations

import codecs
import errno
import io
import logging
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from minichat.errors import DocumentError
from minichat.retrieval.chunks import Unit
from minichat.safety.files import NotRegularFile, read_regular
from minichat.safety.files import kind_of as file_kind
from minichat.safety.untrusted import one_line

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
MiB = 1 << 20
# the most read of one file, by kind; a longer file is refused. Text is a few MB: a long
# book is about 1 MB and embeds in minutes, and text without a space to cut at costs the
# chunker about 350 MB of memory a MB. HTML carries markup around its text, a PDF fonts
# and images around its own.
LIMITS = {kind: 4 * MiB for kind in ("markdown", "rst", "text", "code")}
LIMITS |= {"html": 8 * MiB, "pdf": 64 * MiB}
PDF_PAGES = 5000  # a PDF's extracted text is held to LIMITS["text"] characters as well
_LONE_SURROGATES = re.compile("[\ud800-\udfff]")  # no UTF-8 for them: not to be stored


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
        head = read_regular(path, 8192, follow_links=False)[:8192]  # never a FIFO or device
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except (OSError, UnicodeDecodeError):
        return False
    return b"\x00" not in head


def shown(path: Path | str) -> str:
    """A path as a message shows it: escapes, and names that are not UTF-8, made visible."""
    return one_line(str(path), limit=4096)


@dataclass
class Found:
    """What a list of paths holds: the files to read and the ones a walk left out."""

    files: list[Path] = field(default_factory=list)  # absolute, each once
    named: set[Path] = field(default_factory=set)  # given by the user: links are followed
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def find_files(paths: Sequence[Path]) -> list[Path]:
    """The files to read (see ``gather``)."""
    return gather(paths).files


def gather(paths: Sequence[Path]) -> Found:
    """The files to read, absolute: folders walked (sorted, hidden and tool folders, links
    and special files left out), files named explicitly kept whatever their suffix; each
    file once. A path named that is missing, unreadable or not a file or folder is refused."""
    found = Found()
    files: dict[Path, None] = {}
    for given in paths:
        path = Path(os.path.abspath(given))
        try:
            mode = path.stat().st_mode  # a link named is followed: the user chose it
        except FileNotFoundError:
            raise DocumentError(f"{shown(given)} does not exist; check the path") from None
        except OSError as error:
            raise DocumentError(f"cannot read {shown(given)}: {_reason(error)}") from None
        if stat.S_ISDIR(mode):
            files.update(dict.fromkeys(_walk(path, found.skipped)))
        elif stat.S_ISREG(mode):
            files[path] = None
            found.named.add(path)
        else:
            raise DocumentError(_not_regular(given, mode))
    found.files = list(files)
    return found


def _not_regular(path: Path | str, mode: int) -> str:
    """``x is a device, not a regular file; ...``: a device, FIFO or socket refused."""
    what = file_kind(mode)
    kind = "" if what == "not a regular file" else f"{what}, "
    return f"{shown(path)} is {kind}not a regular file; give files or folders of documents"


_LINK = "is a symbolic link, not followed in a folder; name its target to index it"


def _reason(error: OSError) -> str:
    """Why reading failed, and what to do about it."""
    reason = (error.strerror or str(error)).lower()
    return f"{reason}; check its permissions" if error.errno == errno.EACCES else reason


def _walk(folder: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """The documents under ``folder``, sorted; links, special files and folders that cannot
    be read are added to ``skipped`` (where their names could be documents)."""

    def unreadable(error: OSError) -> None:
        skipped.append(
            (str(error.filename), f"cannot read {shown(error.filename)}: {_reason(error)}")
        )

    files = []
    for root, folders, names in os.walk(folder, onerror=unreadable):  # links not entered
        kept = []
        for name in folders:
            if name.startswith(".") or name in SKIPPED_FOLDERS:
                continue
            if os.path.islink(os.path.join(root, name)):
                skipped.append((os.path.join(root, name), f"{shown(Path(root, name))} {_LINK}"))
            else:
                kept.append(name)
        folders[:] = kept
        for name in names:
            path = Path(root, name)
            if name.startswith(".") or (path.suffix and path.suffix.lower() not in SUFFIXES):
                continue
            try:
                mode = path.lstat().st_mode
            except OSError as error:
                skipped.append((str(path), f"cannot read {shown(path)}: {_reason(error)}"))
                continue
            if stat.S_ISLNK(mode):
                skipped.append((str(path), f"{shown(path)} {_LINK}"))
            elif not stat.S_ISREG(mode):
                skipped.append((str(path), _not_regular(path, mode)))
            elif is_supported(path):
                files.append(path)
    return sorted(files)


def read_bytes(path: Path, kind: str | None = None, *, follow_links: bool = True) -> bytes:
    """The bytes of a regular file, at most ``LIMITS`` of its kind; ``DocumentError`` for
    anything else, in one line. ``follow_links`` off: a link is refused."""
    kind = kind or kind_of(path)
    limit = LIMITS[kind]
    try:
        data = read_regular(path, limit, follow_links=follow_links)
    except FileNotFoundError:
        raise DocumentError(f"{shown(path)} does not exist; check the path") from None
    except (NotRegularFile, OSError) as error:
        if not follow_links and (os.path.islink(path) or error.errno == errno.ELOOP):
            raise DocumentError(f"{shown(path)} {_LINK}") from None
        if isinstance(error, NotRegularFile):
            try:
                mode = os.stat(path).st_mode
            except OSError:
                mode = 0  # gone meanwhile: "not a regular file" says enough
            raise DocumentError(_not_regular(path, mode)) from None
        raise DocumentError(f"cannot read {shown(path)}: {_reason(error)}") from None
    if len(data) > limit:
        raise DocumentError(
            f"{shown(path)} is over {_size(limit)}; minichat reads at most {_size(limit)} of "
            f"a {kind} file: split it into smaller files"
        )
    return data


def _size(limit: int) -> str:
    return f"{limit // MiB} MB" if limit >= MiB else f"{limit} bytes"


def read_document(path: Path, *, follow_links: bool = True) -> Document:
    """Read one file as text, by its suffix (see ``KINDS``)."""
    path = Path(os.path.abspath(path))
    return parse_document(path, read_bytes(path, kind_of(path), follow_links=follow_links))


def parse_document(path: Path, data: bytes) -> Document:
    """A file's bytes, read already (``read_bytes``), as text by the file's suffix."""
    kind = kind_of(path)
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
            f"{shown(path)} is not a text file (binary); give text, Markdown, reStructuredText, "
            "HTML, source code or PDF files"
        )
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DocumentError(
                f"{shown(path)} is not a text file (not UTF-8); convert it first, "
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
            f"reading {shown(path)} needs pypdf, which is not installed; "
            "pip install 'minichat[docs]'"
        ) from None
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise FileNotDecryptedError("a password is needed")
        pages = _pdf_pages(path, reader)
    except DocumentError:
        raise
    except (DependencyError, FileNotDecryptedError):  # AES needs the cryptography package
        raise DocumentError(
            f"{shown(path)} is an encrypted PDF; save an unlocked copy (qpdf --decrypt) "
            "and index that"
        ) from None
    except Exception as error:  # pypdf raises many kinds of error on a damaged file
        reason = one_line((str(error).strip().splitlines() or [type(error).__name__])[0])
        raise DocumentError(
            f"cannot read {shown(path)} as a PDF: {reason}; is it damaged?"
        ) from None
    lines: list[str] = []
    origins: list[int] = []
    for number, page in enumerate(pages, 1):
        page = _LONE_SURROGATES.sub("\ufffd", page)  # from a broken font's character map
        page_lines = [line.rstrip() for line in page.replace("\r\n", "\n").split("\n")]
        if any(page_lines):
            lines += [*([""] if lines else []), *page_lines]
            origins += [*([origins[-1]] if origins else []), *[number] * len(page_lines)]
    if not lines:
        raise DocumentError(
            f"{shown(path)} has no text to extract (scanned pages?); run OCR on it first, "
            "e.g. ocrmypdf, and index the result"
        )
    return Document(path, "pdf", "\n".join(lines), tuple(origins), "pages")


def _pdf_pages(path: Path, reader: Any) -> list[str]:
    """The text of each page, refused past ``PDF_PAGES`` pages or ``LIMITS["text"]``
    characters in all (a small file can unpack to much more)."""
    count = len(reader.pages)
    if count > PDF_PAGES:
        raise DocumentError(
            f"{shown(path)} has {count} pages; minichat reads at most {PDF_PAGES}: split it, "
            "e.g. qpdf --split-pages"
        )
    pages, total, limit = [], 0, LIMITS["text"]
    for page in reader.pages:
        pages.append(page.extract_text() or "")
        total += len(pages[-1])
        if total > limit:
            raise DocumentError(
                f"{shown(path)} has over {limit} characters of text; minichat reads at most "
                f"{limit} from a PDF: split it, e.g. qpdf --split-pages"
            )
    return pages
