"""Text minichat did not write, made safe to show on a terminal.

A reply, a file's contents, a tool's arguments or result, a document's passage, an
MCP server's or HTTP client's words: any of it may carry escape sequences that
recolour, hide, move the cursor or rewrite the title of the user's terminal, a
carriage return that overwrites what came before on the line, or bidirectional
controls that show text in another order than it is read. ``printable`` turns every
such character into a visible escape (``\\x1b``, ``\\r``, ``\\u202e``) and keeps
newlines and tabs; the caller still prints the result as plain text, never as
Rich markup (``markup=False`` or a ``rich.text.Text``), so ``[black on black]``
stays what it is: words in brackets.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 controls but tab and newline, DEL, C1 controls; the bidirectional marks,
# embeddings, overrides and isolates; the line and paragraph separators some terminals
# obey; lone surrogates (a file name that is not UTF-8), which no terminal can be sent
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ud800-\udfff]"
)


# what json.dumps leaves raw that a terminal would act on (it escapes C0 controls itself)
_UNSAFE_IN_JSON = re.compile(
    "[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ud800-\udfff]"
)


def _visible(match: re.Match[str]) -> str:
    character = match.group()
    if character == "\r":
        return "\\r"
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every character that could act on a terminal shown as an escape."""
    return _UNSAFE.sub(_visible, text)


def one_line(text: str, limit: int | None = 200) -> str:
    """``text`` as one printable line of at most ``limit`` characters (None: all of it;
    newlines shown as ``\\n``): for a tool's arguments and result in a prompt or a log."""
    shown = printable(text).replace("\n", "\\n")
    return shown if limit is None or len(shown) <= limit else shown[:limit] + "…"


def safe_json(data: Any, indent: int | None = None) -> str:
    """``data`` as JSON that reads back the same and prints safely: characters a terminal
    would act on, and lone surrogates, written as ``\\uXXXX`` escapes."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _UNSAFE_IN_JSON.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
