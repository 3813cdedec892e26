"""Cut a document into passages the embedder reads whole, along the document's own structure.

The embedder reads a fixed number of tokens (256 for all-MiniLM-L6-v2) and silently drops
the rest, so a longer passage would be indexed by its beginning alone. ``split`` never
returns one: every chunk's ``embed_text`` is counted with the embedder's own tokenizer.
Within that limit, chunks follow what the author drew: sections under headings (their path
becomes the chunk's ``heading``), top-level definitions in code, pages in a PDF; whole
paragraphs are grouped up to ``target_tokens``, and only a paragraph too long on its own
is cut, at sentences or lines, then words. Text without words (a reST label, a rule, a
closing tag or brace) is never a chunk of its own: it goes with the paragraph after it, or
is left out at the end of a section. Each paragraph is counted once and each chunk once
more to check it, so a large file costs about two passes of the tokenizer.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from minichat.retrieval.chunks import Chunk
from minichat.retrieval.extract import Document

CHUNKER_VERSION = 2  # collections record it: bump it whenever chunk boundaries change
# a passage of about this many embedder tokens: long enough to hold a fact with its
# setting, short enough that four of them do not bury it for a small model (README)
TARGET_TOKENS = 150

Span = tuple[int, int]  # [start, end) in the document's text
Outline = list[tuple[int, int, int, str]]  # headings: (line, lines taken, level, title)


def split(
    document: Document,
    count_tokens: Callable[[str], int],
    max_tokens: int = 256,
    target_tokens: int = TARGET_TOKENS,
) -> list[Chunk]:
    """The document's chunks, in order. ``count_tokens`` counts a string's tokens with the
    embedder's special tokens included; every chunk's ``embed_text`` counts ``max_tokens``
    or fewer, and chunks aim at ``target_tokens``."""
    text, origins = document.text, document.origins
    lines = text.split("\n")
    starts = list(accumulate((len(line) + 1 for line in lines[:-1]), initial=0))
    code = document.kind == "code"
    cutter = _Cutter(text, count_tokens, max_tokens, min(target_tokens, max_tokens), code)
    markup = _MARKUP.get(document.kind, _ANY_KIND)
    path, chunks = str(document.path), []
    for heading, first, stop in _sections(document, lines):
        heading = _shorten(heading, count_tokens, max_tokens // 2)  # leave room for text
        paragraphs = _worded(text, _paragraphs(lines, starts, first, stop, code), markup)
        for a, b in cutter.cut(paragraphs, heading):
            if not _has_words(text[a:b], markup):
                continue  # a piece cut from a long block: a table's rule, a closing brace
            start, end = (origins[bisect_right(starts, at) - 1] for at in (a, b - 1))
            chunks.append(Chunk(path, start, end, heading, text[a:b], document.unit))
    return chunks


# Markup a reader of the rendered document never sees as text, by kind: tags, comments and
# character references anywhere (raw HTML in Markdown, JSX, text kept in an HTML <pre>);
# reST targets (``.. _name:`` labels a title, ``.. _name: URL`` a link) and the heads of
# code blocks (``.. code-block:: bash``, a paragraph apart from the code it introduces);
# Markdown link definitions and fence lines. However many letters it has, a chunk of it
# alone would answer no question and only take a place among the passages retrieved.
_TAGS = (
    r"<!--(?s:.*?)-->|</?[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?>"
    r"|&(?:#\d+|#x[\da-fA-F]+|[A-Za-z]\w+);"
)
_ANY_KIND = re.compile(_TAGS)
_MARKUP = {
    "rst": re.compile(
        rf"{_TAGS}|^[ \t]*\.\. _[^\n]*:(?:[ \t]+\S+)?[ \t]*$"
        r"|^[ \t]*\.\. (?:code-block|code|sourcecode|highlight)::[^\n]*$",
        re.MULTILINE,
    ),
    "markdown": re.compile(
        rf"{_TAGS}|^ {{0,3}}(?:`{{3,}}|~{{3,}})[^\n]*$"
        r"|^ {0,3}\[(?!\^)[^\]\n]+\]:[ \t]*(?:<[^>\n]*>|\S+)"
        r"""(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*$""",
        re.MULTILINE,
    ),
}
_WORD = re.compile(r"[^\W_]")  # a letter or a digit, of any script: ``x = 1`` has words


def _has_words(text: str, markup: re.Pattern[str]) -> bool:
    """Whether the text says anything: a letter or digit outside markup. Punctuation alone
    (``]]]``, ``::``, ``----``, ``});``) does not."""
    return _WORD.search(markup.sub(" ", text)) is not None


def _worded(text: str, paragraphs: list[Span], markup: re.Pattern[str]) -> list[Span]:
    """The paragraphs with words. One without joins the next, which it most often introduces
    (a label its target, ``.. code-block::`` its code, ``<!-- added: v2 -->`` its text); at
    the end of a section it is left out: a reST label there names the next section's title,
    a ``</div>`` or ``}`` there closes what the section said."""
    out: list[Span] = []
    start: int | None = None  # where the paragraphs without words waiting for one with words begin
    for a, b in paragraphs:
        if _has_words(text[a:b], markup):
            out.append((a if start is None else start, b))
            start = None
        elif start is None:
            start = a
    return out


def _sections(document: Document, lines: list[str]) -> list[tuple[str, int, int]]:
    """(heading path, first line, end line) of each section; heading lines are left out."""
    sections: list[tuple[str, int, int]] = []
    stack: list[tuple[int, str]] = []  # the open headings: (level, title)
    first = 0
    for line, taken, level, title in _outline(document, lines):
        sections.append((_path(stack), first, line))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        first = line + taken
    sections.append((_path(stack), first, len(lines)))
    return sections


def _path(stack: list[tuple[int, str]]) -> str:
    return " > ".join(title for _, title in stack if title)


def _outline(document: Document, lines: list[str]) -> Outline:
    suffix = document.path.suffix.lower()
    if document.kind == "markdown":
        return _markdown_outline(lines)
    if document.kind == "rst":
        return _rst_outline(lines)
    if document.kind == "html":
        return [(line, 1, level, lines[line].strip()) for line, level in document.headings]
    if document.kind == "code" and suffix not in _DATA_SUFFIXES:
        return _code_outline(lines, python=suffix in (".py", ".pyi"))
    if document.kind == "pdf":  # each page is a section of its own
        pages = document.origins
        return [(i, 0, 1, "") for i in range(1, len(lines)) if pages[i] != pages[i - 1]]
    return []


_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def _markdown_outline(lines: list[str]) -> Outline:
    """ATX (``## Title``) and setext (``Title`` over ``===``) headings outside code fences."""
    outline: Outline = []
    fence = ""
    i = _front_matter_end(lines)
    while i < len(lines):
        line, fenced = lines[i], _FENCE.match(lines[i])
        if fence:
            if fenced and fenced[1][0] == fence[0] and len(fenced[1]) >= len(fence):
                fence = "" if line.strip() == fenced[1] else fence
        elif fenced:
            fence = fenced[1]
        elif atx := _ATX.match(line):
            outline.append((i, 1, len(atx[1]), (atx[2] or "").strip()))
        elif (
            i + 1 < len(lines)
            and line.strip()
            and not line.startswith("    ")
            and not _SETEXT.match(line)
            and _SETEXT.match(lines[i + 1])
            and (i == 0 or not lines[i - 1].strip())
        ):
            outline.append((i, 2, 1 if lines[i + 1].strip()[0] == "=" else 2, line.strip()))
            i += 1
        i += 1
    return outline


def _front_matter_end(lines: list[str]) -> int:
    """The first line after YAML front matter, whose closing ``---`` is no setext heading."""
    if lines[0].strip() != "---":
        return 0
    ends = (i for i, line in enumerate(lines[1:], 1) if line.strip() in ("---", "..."))
    return next(ends, -1) + 1


_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1{2,}[ \t]*$")  # one punctuation mark, 3+ times


def _rst_outline(lines: list[str]) -> Outline:
    """Section titles: underlined, or over- and underlined; levels in order of first use."""
    outline: Outline = []
    styles: list[tuple[str, bool]] = []
    i = 0
    while i + 1 < len(lines):
        line, after_blank = lines[i], i == 0 or not lines[i - 1].strip()
        over, under = _ADORNMENT.match(line), _ADORNMENT.match(lines[i + 1])
        title, taken, style = "", 0, ("", False)
        if over and after_blank and i + 2 < len(lines) and lines[i + 1].strip():
            closing = _ADORNMENT.match(lines[i + 2])
            if closing and closing[1] == over[1]:
                title, taken, style = lines[i + 1].strip(), 3, (over[1], True)
        elif under and after_blank and line.strip() and not line[0].isspace():
            title, taken, style = line.strip(), 2, (under[1], False)
        if taken:
            styles += [] if style in styles else [style]
            outline.append((i, taken, styles.index(style) + 1, title))
        i += max(taken, 1)
    return outline


_DATA_SUFFIXES = frozenset(
    [".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".css", ".scss", ".less", ".sql"]
)
_PY_DEF = re.compile(r"(?:async[ \t]+def|def|class)[ \t]")
_DEF = re.compile(
    r"(?:(?:export|default|pub(?:\([\w:]+\))?|public|private|protected|internal|static|abstract"
    r"|final|async|unsafe|extern|inline|virtual|open|sealed|data|suspend|local)[ \t]+)*"
    r"(?:function|class|interface|struct|enum|trait|impl|fn|func|fun|def|module|object|type"
    r"|union|namespace|record|macro_rules!)(?=[ \t<(*])"
)
_C_FUNCTION = re.compile(r"[A-Za-z_][\w \t*&:<>,]*[ \t*&][A-Za-z_~][\w:~]*[ \t]*\([^;]*$")
_PREFACE = ("#", "//", "/*", "*", "@", "--", ";")  # comments, decorators, attributes


def _code_outline(lines: list[str], python: bool) -> Outline:
    """Top-level definitions, each with the comments and decorators just above it."""
    outline: Outline = []
    in_definition = False
    for i, line in enumerate(lines):
        if not line or line[0].isspace():
            continue
        if _PY_DEF.match(line) if python else _DEF.match(line) or _C_FUNCTION.match(line):
            first = i
            while first > 0 and _is_preface(lines[first - 1]):
                first -= 1
            outline.append((first, 0, 1, line.strip().rstrip("{:").rstrip()))
            in_definition = True
        elif python and in_definition and line[0] not in "#@)]}'\"":
            outline.append((i, 0, 1, ""))  # top-level code after a definition is not part of it
            in_definition = False
    return outline


def _is_preface(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith(_PREFACE) and (line[:1] == stripped[:1] or stripped[0] == "*")


def _paragraphs(
    lines: list[str], starts: list[int], first: int, stop: int, code: bool
) -> list[Span]:
    """Runs of non-blank lines; code keeps the first line's indentation."""
    spans, begin = [], None
    for i in range(first, stop + 1):
        blank = i == stop or not lines[i].strip()
        if begin is None and not blank:
            begin = i
        elif begin is not None and blank:
            indent = 0 if code else len(lines[begin]) - len(lines[begin].lstrip())
            spans.append((starts[begin] + indent, starts[i - 1] + len(lines[i - 1].rstrip())))
            begin = None
    return spans


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"')\]])\s+")
_LINE_END = re.compile(r"\n")
_SPACE = re.compile(r"\s+")
_CHARACTER = re.compile(r"(?=.)", re.DOTALL)  # the last resort: a "word" longer than a chunk


@dataclass
class _Cutter:
    """Cuts a document section by section: ``cut`` groups whole paragraphs, ``_divide``
    cuts one too long alone."""

    text: str
    count: Callable[[str], int]
    max_tokens: int
    target_tokens: int
    code: bool

    def __post_init__(self) -> None:
        self.empty = self.count("")  # the special tokens every count includes
        self.heading, self.base = "", self.empty
        prose = (_SENTENCE_END, _LINE_END)  # a sentence can run over lines: sentences first
        self.splitters = (*((_LINE_END,) if self.code else prose), _SPACE, _CHARACTER)
        self.chars_per_token = 4.0  # learnt as spans are counted, to guess where the next ends

    def cut(self, paragraphs: list[Span], heading: str) -> list[Span]:
        """Consecutive paragraphs grouped up to the target, each paragraph counted once."""
        self.heading, self.base = heading, self.count(heading) if heading else self.empty
        out: list[Span] = []
        group: list[Span] = []
        size = self.base
        for paragraph in paragraphs:
            cost = self._cost(paragraph)
            if group and (size + cost > self.target_tokens or self.base + cost > self.max_tokens):
                out += self._settle(group, size)
                group, size = [], self.base
            group.append(paragraph)
            size += cost
        return out + self._settle(group, size)

    def _cost(self, paragraph: Span) -> int:
        """Its tokens, special ones aside. One of over 64 characters a token is divided
        uncounted: dividing is always safe, and tokenizers slow down on huge strings."""
        if paragraph[1] - paragraph[0] > 64 * self.max_tokens:
            return self.max_tokens + 1
        return self.count(self.text[paragraph[0] : paragraph[1]]) - self.empty

    def _settle(self, group: list[Span], size: int | None = None) -> list[Span]:
        """The group as one chunk once counted short enough (a sum can differ from the count
        of the whole), else its halves; a paragraph too long alone is divided."""
        if not group:
            return []
        span = (group[0][0], group[-1][1])
        if len(group) == 1 and size is not None and (size > self.max_tokens or not self.heading):
            # counted already, heading aside: no need to count it again
            return [span] if size <= self.max_tokens else self._divide(span, 0)
        if self._tokens(span) <= self.max_tokens:
            return [span]
        if len(group) == 1:
            return self._divide(span, 0)
        half = len(group) // 2
        return self._settle(group[:half]) + self._settle(group[half:])

    def _divide(self, span: Span, depth: int) -> list[Span]:
        """A span too long for one chunk, cut at the next kind of boundary that it has: for
        prose sentences, lines, spaces, then characters; for code lines first."""
        for level in range(depth, len(self.splitters)):
            pieces = _pieces(self.text, span, self.splitters[level])
            if len(pieces) > 1:
                return self._runs(pieces, level + 1)
        raise ValueError(f"max_tokens={self.max_tokens} leaves no room for any text")

    def _runs(self, pieces: list[Span], depth: int) -> list[Span]:
        """Runs of consecutive pieces, each as long as fits; a piece too long alone, divided."""
        out: list[Span] = []
        i = 0
        while i < len(pieces):
            # a piece is about a token or more, so a run never needs more than max_tokens
            ends = [end for _, end in pieces[i : i + self.max_tokens]]
            taken = self._longest(pieces[i][0], ends)
            out += [(pieces[i][0], ends[taken - 1])] if taken else self._divide(pieces[i], depth)
            i += max(taken, 1)
        return out

    def _longest(self, start: int, ends: Sequence[int]) -> int:
        """How many of ``ends`` (ascending) may close a span from ``start``: near the most that
        stay within the target, else one if that fits the maximum, else none. Each guess is
        read from the characters per token seen so far: a count or two per chunk."""
        room = self.target_tokens - self.base
        low, high, tries = 0, len(ends), 0
        while low < high:
            guess = bisect_right(ends, start + int(self.chars_per_token * room * 0.9))
            middle = min(max(guess, low + 1), high) if tries < 4 else (low + high + 1) // 2
            tokens = self._tokens((start, ends[middle - 1]))
            if tokens <= self.target_tokens:
                low = middle
                if tokens - self.base >= 0.8 * room:
                    break  # close enough: searching on would cost more counts than it gains
            else:
                high = middle - 1
            self.chars_per_token = (ends[middle - 1] - start) / max(tokens - self.base, 1)
            tries += 1
        return low or int(bool(ends) and self._tokens((start, ends[0])) <= self.max_tokens)

    def _tokens(self, span: Span) -> int:
        text = self.text[span[0] : span[1]]
        return self.count(f"{self.heading}\n{text}" if self.heading else text)


def _pieces(text: str, span: Span, boundary: re.Pattern[str]) -> list[Span]:
    """The span cut at each boundary, trailing blanks trimmed, blank pieces dropped."""
    pieces, start = [], span[0]
    for match in boundary.finditer(text, *span):
        pieces.append((start, match.start()))
        start = match.end()
    pieces.append((start, span[1]))
    trimmed = [(a, a + len(text[a:b].rstrip())) for a, b in pieces]
    return [(a, b) for a, b in trimmed if text[a:b].strip()]


def _shorten(heading: str, count_tokens: Callable[[str], int], limit: int) -> str:
    """The heading, or as many of its first words as count ``limit`` or fewer."""
    words = heading.split()
    while words and count_tokens(heading) > limit:
        words = words[: len(words) * 3 // 4]  # a few counts, however long the heading
        heading = " ".join(words)
    return heading
