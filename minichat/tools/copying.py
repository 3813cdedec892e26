"""Copying what was given: a word of the question, once begun in a call's argument,
and a number or a quotation of a tool's result, once begun in the answer, are
finished as given.

A small model starts the right word and ends it wrong: ``todo`` then ``files`` for
todo.md, ``du`` then ``mplings`` for "duck confit" in a call's arguments; "approximately
23" then ``.125`` for a result of 231.25, "374 + 67 = 4" then ``3`` for 441, "Call
plumber" for a file's "Call the plumber" in an answer. So, while

- a string in a call's arguments is written and its last words begin words of the
  user's message,
- or, in the words of a reply, a number begins a number of the tools' results this
  turn, or a quotation begins a run of their words,

the tokens that go on as the message or the result has it get ``COPY_BONUS`` added to
their logits, and from the second character on any other letter, digit or space
there is ruled out. Where the given word (for a quotation, its line) ends, nothing
is favoured: the model alone decides whether to go on; a value that is no copy (a
date written out, a name translated) matches nothing and is never touched. A number
the user wrote is the model's to repeat, and so is any start of one ("23 times 10 is
230" restates 23 though the result starts with it).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from minichat.tools.hermes import CLOSE, OPEN

if TYPE_CHECKING:
    import torch

# e^4: a continuation the model rates at a fiftieth of its first choice is taken about
# as often as that choice. Set by that reasoning, not tuned on the held-out questions
# (on the development set, bench/tool_calls.py --cases, off and on scored the same)
COPY_BONUS = 4.0
LONGEST = 24  # characters of a token the vocabulary's index keeps (SmolLM2's run to 16)
TRAILING = ".,;:!?)]}\"'"  # a sentence's marks after a word are not the word's
WORD_START = re.compile(r"(?<!\w)\w")
NUMBER_END = re.compile(r"(?<![\w.,])\d[\d.]*$")  # the number a reply is writing
MARKERS = 2 * max(len(OPEN), len(CLOSE))
QUOTED = 400  # characters of a quotation followed; a longer one is the model's alone
MATCHES = 64  # places in the given text a piece is looked for
WINDOW = 4 * LONGEST  # characters read after each


class Vocabulary:
    """A tokenizer's tokens as text (llguidance's view of it; built once per model):
    ``texts`` maps what can go on a copy in a JSON string or a quotation (no quote,
    backslash or line break) to its ids; ``onward`` marks the tokens that start with a
    letter, a digit or white space: the ones that would go on with a word, or start
    another, where the given word has not ended."""

    def __init__(self, tokenizer: Any):
        import torch

        self.tokenizer = tokenizer
        self.texts: dict[str, list[int]] = {}
        self.onward = torch.zeros(tokenizer.vocab_size, dtype=torch.bool)
        for token in range(tokenizer.vocab_size):
            try:
                text = tokenizer.decode_bytes([token]).decode("utf-8")
            except UnicodeDecodeError:
                continue
            if text[:1].isalnum() or text[:1].isspace():
                self.onward[token] = True
            if text and len(text) <= LONGEST and not re.search(r'["\\\n\r]', text):
                self.texts.setdefault(text, []).append(token)


class Copier:
    """One reply's copying: ``consume`` each token taken, ``mask`` the logits before the
    next (the engine's ``Constraint`` protocol, alone or inside the tools' grammar).
    ``asked``: the user's message, for calls; ``results``: the tools' results this
    turn, for the answer's numbers and quotations."""

    calling = False  # alone it is no grammar: a call's repetition rules are the grammar's

    def __init__(self, vocabulary: Vocabulary, asked: str, results: str = ""):
        self.vocabulary = vocabulary
        self.asked = Given(asked)
        self.results = Given(results)
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.tail = ""  # the end of the text, to see a call open and close
        self.call: _Strings | None = None  # the JSON of the call being written
        self.prose = ""  # the end of the reply's words outside calls
        self.quote: str | None = None  # the words since a quotation mark opened in them

    def consume(self, token: int) -> None:
        self.push(self.utf8.decode(self.vocabulary.tokenizer.decode_bytes([token])))

    def push(self, text: str) -> None:
        self.tail = (self.tail + text)[-MARKERS:]
        if self.call is None and OPEN in self.tail:  # a call opens: its JSON follows
            self.call, self.quote = _Strings(), None
            text = self.tail[self.tail.rindex(OPEN) + len(OPEN) :]
            self.tail = text
        if self.call is not None:
            if CLOSE in self.tail:
                self.call, self.tail, self.prose = None, "", ""
            else:
                self.call.push(text)
        else:
            self.prose = (self.prose + text)[-64:]
            for char in text:
                if self.quote is None:
                    self.quote = "" if char in '"“' else None
                elif char in '"”' or len(self.quote) >= QUOTED:
                    self.quote = None
                else:
                    self.quote += char

    def mask(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits`` with the copy's next tokens favoured and, from a word's second
        character, any other letter, digit or space there ruled out (the word may
        still end, or a mark come: a stem, "Brazil" of "Brazilian", is the model's)."""
        favoured, sure = self.favoured()
        if not favoured:
            return logits
        logits = logits.clone()  # the model's own may be a buffer it keeps
        width = min(logits.shape[-1], self.vocabulary.onward.shape[0])
        ids = [t for t in favoured if t < width]
        if sure:
            other = self.vocabulary.onward[:width].clone()
            other[ids] = False
            ruled = logits[:width].masked_fill(other.to(logits.device), float("-inf"))
            if bool(ruled.isfinite().any()):  # a grammar (an enum) may allow no copy here
                logits[:width] = ruled
        logits[ids] += COPY_BONUS  # a token the grammar forbade stays at -inf
        return logits

    def favoured(self) -> tuple[list[int], bool]:
        """The tokens that go on copying, and whether the copy is long enough to be sure."""
        if self.call is not None:
            value = self.call.argument
            if not value or value[-1].isspace():  # a word ended: the next is the model's
                return [], False
            pieces = [value[m.start() :] for m in WORD_START.finditer(value)]
            given, whole = self.asked, False
        elif self.quote:  # a quotation goes on as the result has it, spaces and all
            pieces, given, whole = [self.quote], self.results, True
        else:
            number = NUMBER_END.search(self.prose)
            if number is None or self.asked.begins(number.group()):
                return [], False
            pieces, given, whole = [number.group()], self.results, False
        for piece in pieces:  # the longest first
            found = list(given.rests(piece, whole))
            if found:
                ids = {t for rest, _ in found for t in self._tokens(rest)}
                # sure only of a copy in the given case that cannot end here: "AM" may be
                # AMZN though the user wrote Amazon, a "20" in the results may end at 20,
                # and "12." may end a sentence
                sure = len(piece) >= 2 and not piece.endswith(".")
                sure = sure and all(rest and exact for rest, exact in found)
                return sorted(ids), sure
        return [], False

    def _tokens(self, rest: str) -> Iterator[int]:
        for size in range(1, min(len(rest), LONGEST) + 1):
            yield from self.vocabulary.texts.get(rest[:size], ())


class Given:
    """Text the reply may copy from: where a piece begins one of its words, what is left."""

    def __init__(self, text: str):
        self.text = text
        self.folded = _fold(text)

    def rests(self, piece: str, line: bool = False) -> Iterator[tuple[str, bool]]:
        """Wherever ``piece`` starts at a word of the text: what is left of the word
        (``line``: of the line; "" where it ends there), and whether the piece is there
        in the same case. The first ``MATCHES`` places only, each read no further than
        a window, so a long result costs no more than a short one."""
        folded = _fold(piece)
        at = self.folded.find(folded)
        for _ in range(MATCHES):
            if at < 0:
                break
            end = at + len(piece)
            if at == 0 or not self.text[at - 1].isalnum():
                window = self.text[end : end + WINDOW]
                if line:
                    rest = window.split("\n", 1)[0]
                elif not window or window[0].isspace():
                    rest = ""
                else:
                    rest = window.split(maxsplit=1)[0].rstrip(TRAILING)
                if "\\" not in rest and '"' not in rest:
                    yield rest, self.text[at:end] == piece
            at = self.folded.find(folded, at + 1)

    def begins(self, piece: str) -> bool:
        """Whether ``piece`` is a word of the text or begins one (a number the user
        wrote, which the reply may be restating)."""
        return re.search(rf"(?<![\w.]){re.escape(_fold(piece))}", self.folded) is not None


def _fold(text: str) -> str:
    """Lower case where that keeps every character in place (it almost always does)."""
    folded = text.casefold()
    return folded if len(folded) == len(text) else text


class _Strings:
    """Where a call's JSON is: the string in its arguments being written, if any."""

    def __init__(self) -> None:
        self.stack: list[str] = []  # the open objects and arrays
        self.in_string = False
        self.escaped = False
        self.key = False  # the string being written is an object's key
        self.expect_key = False
        self.text: list[str] = []

    @property
    def argument(self) -> str | None:
        """The text so far of a string value inside the arguments (not the name, no key)."""
        if self.in_string and not self.key and len(self.stack) >= 2:
            return "".join(self.text)
        return None

    def push(self, text: str) -> None:
        for char in text:
            if self.in_string:
                if self.escaped:  # \n, \t, \u...: a break between words, as copies go
                    self.escaped = False
                    self.text.append(char if char in '"\\/' else " ")
                elif char == "\\":
                    self.escaped = True
                elif char == '"':
                    self.in_string = False
                else:
                    self.text.append(char)
            elif char == '"':
                self.in_string, self.key, self.text = True, self.expect_key, []
            elif char in "{[":
                self.stack.append(char)
                self.expect_key = char == "{"
            elif char in "}]":
                if self.stack:
                    self.stack.pop()
                self.expect_key = False
            elif char == ",":
                self.expect_key = bool(self.stack) and self.stack[-1] == "{"
            elif char == ":":
                self.expect_key = False
