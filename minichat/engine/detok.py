"""Incremental detokenisation: ids in, printable text out, nothing lost.

Decoding one token at a time breaks two things: a multi-byte character split
over tokens shows up as U+FFFD, and tokenizers that mark spaces on the next
token (SentencePiece) drop the space when a token is decoded alone. So we decode
a short window that ends at the new token and emit only what that window adds
over its own prefix, and wait while the text ends in an incomplete character.
When the reply ends (token limit, end of turn) on such a character, its bytes
will never be completed, so ``flush`` drops it instead of printing it broken.

A decode function only gives text, in which an incomplete character is a trailing
U+FFFD: one for the whole sequence (Python's ``errors="replace"``, the byte-level
decoder) or one per byte (SentencePiece byte fallback), so at most three. A
U+FFFD the model really wrote is kept wherever other text follows it; at the very
end of a reply (alone, or right before an incomplete character) it decodes to the
same text as an incomplete character would, and is dropped with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Decode = Callable[[Sequence[int]], str]

REPLACEMENT = "\ufffd"
# an incomplete UTF-8 character has at most three bytes; lossy decoders write one
# replacement character for it, or one per byte
MAX_INCOMPLETE = 3


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
        if len(window) <= len(prefix) or window.endswith(REPLACEMENT):
            return ""  # an incomplete character: wait for the next token
        self._prefix_start, self._read_start = self._read_start, len(self._ids)
        return window[len(prefix) :]

    def flush(self) -> str:
        """The reply ended: return the text still held, less an incomplete character
        at its end (no later token will complete it)."""
        ids = self._ids[self._prefix_start :]
        read = self._read_start - self._prefix_start
        self._prefix_start = self._read_start = len(self._ids)
        prefix = self._decode(ids[:read])
        window = self._decode(ids)
        if window.startswith(prefix) or not window.endswith(REPLACEMENT):
            return drop_incomplete_tail(window[len(prefix) :])
        # The incomplete end garbled text before it too (byte fallback turns a whole run
        # of byte tokens into U+FFFDs): keep the held tokens that decode cleanly.
        for end in range(len(ids) - 1, read, -1):
            text = self._decode(ids[:end])
            if text.startswith(prefix) and not text.endswith(REPLACEMENT):
                return text[len(prefix) :]
        return ""


def drop_incomplete_tail(text: str) -> str:
    """``text`` without the replacement characters an incomplete last character
    decodes to; replacement characters before other text are kept."""
    end = len(text)
    while end > 0 and len(text) - end < MAX_INCOMPLETE and text[end - 1] == REPLACEMENT:
        end -= 1
    return text[:end]
