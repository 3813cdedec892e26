"""Incremental detokenisation: ids in, printable text out, nothing lost.

Decoding one token at a time breaks two things: a multi-byte character split
over tokens shows up as U+FFFD, and tokenizers that mark spaces on the next
token (SentencePiece) drop the space when a token is decoded alone. So we decode
a short window that ends at the new token and emit only what that window adds
over its own prefix, and wait while the text ends in an incomplete character.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Decode = Callable[[Sequence[int]], str]


class IncrementalDetokenizer:
    def __init__(self, decode: Decode):
        self._decode = decode
        self._ids: list[int] = []
        self._prefix_start = 0  # the window begins here: context for spacing
        self._read_start = 0  # text of ids before this has been emitted

    def push(self, token_id: int) -> str:
        """Add one token; return the new text it completes (maybe empty)."""
        self._ids.append(token_id)
        prefix = self._decode(self._ids[self._prefix_start : self._read_start])
        window = self._decode(self._ids[self._prefix_start :])
        if len(window) <= len(prefix) or window.endswith("\ufffd"):
            return ""  # an incomplete character: wait for the next token
        self._prefix_start, self._read_start = self._read_start, len(self._ids)
        return window[len(prefix) :]

    def flush(self) -> str:
        """The reply ended: return whatever is still held, even if incomplete."""
        prefix = self._decode(self._ids[self._prefix_start : self._read_start])
        window = self._decode(self._ids[self._prefix_start :])
        self._prefix_start = self._read_start = len(self._ids)
        return window[len(prefix) :]
