"""The OpenAI chat-completions wire, read defensively: one streamed reply.

``Reply`` reads a server's server-sent events within bounds (``MAX_LINE`` a line,
``MAX_STREAM`` a reply, ``STALL`` seconds of nothing but keep-alives), checks each
chunk against the shape OpenAI's API gives it, and joins the text and the tool
calls. Whatever arrives in another shape is one ``GenerationError`` line that names
the server and quotes what it sent, made printable (``quoted``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from time import monotonic
from typing import Any

import httpx

from minichat.backend import FinishReason, Outcome
from minichat.errors import GenerationError
from minichat.safety.untrusted import one_line
from minichat.tools.spec import ToolCall

MIB = 1024 * 1024
STALL = 600.0  # seconds a stream may send only keep-alives and empty events (a slow
# server working through a long prompt may send them for minutes; an endless one, never more)
MAX_LINE = 1 * MIB  # one line of a stream
MAX_STREAM = 64 * MIB  # one reply's whole stream
MAX_CALLS = 128  # tool calls in one reply
MAX_COUNT = 2**31  # a token count a server reports, beyond which it is not believed
SHOWN = 80  # characters of what the server sent, quoted in a message
FINISH: dict[str | None, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
}


def quoted(value: Any) -> str:
    """What a server sent, as a short printable line for a message."""
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return one_line(text, SHOWN)


def count(value: Any) -> int | None:
    """A token count as the server gave it, or None where it cannot be one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


def error_message(error: Any) -> str:
    """What an error says, whether an object with a message, a string or anything else."""
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return error if isinstance(error, str) else json.dumps(error, default=repr)


class Reply:
    """One reply as a server streams it: its lines read within bounds, each chunk
    checked against the shape OpenAI's API gives it, the text and calls joined."""

    def __init__(self, url: str):
        self.url = url
        self.reason: FinishReason = "end_turn"
        self.finished = False  # a finish_reason or [DONE] came
        self.events = 0
        self.first = ""  # the first line, to quote when it was no event stream at all
        self.pieces = 0
        self.usage: dict[str, Any] = {}
        self.calls: dict[int, dict[str, str]] = {}  # streamed call fragments, by index
        self.half = ""  # a high surrogate waiting for its low half in the next piece
        self.progress = monotonic()

    def broken(self, what: str, sent: Any) -> GenerationError:
        return GenerationError(
            f"{self.url} sent {what}: {quoted(sent)}; the conversation is kept "
            "(is it an OpenAI-compatible server?)"
        )

    def lines(self, response: httpx.Response) -> Iterator[str]:
        """The stream's lines, decoded; bounded in length, in total and in idle time."""
        pending, total = bytearray(), 0
        for piece in response.iter_raw():
            total += len(piece)
            if total > MAX_STREAM:
                raise GenerationError(
                    f"{self.url} sent more than {MAX_STREAM / MIB:g} MiB for one reply; "
                    "the conversation is kept"
                )
            if monotonic() - self.progress > STALL:
                raise GenerationError(
                    f"{self.url} sent nothing but empty events for {STALL:g} s; "
                    "the conversation is kept, try again"
                )
            *complete, rest = piece.split(b"\n")
            if complete:
                complete[0], pending = bytes(pending) + complete[0], bytearray()
            pending += rest
            for line in [*complete, pending]:
                if len(line) > MAX_LINE:
                    raise self.broken(f"a line longer than {MAX_LINE / MIB:g} MiB", line[:SHOWN])
            for line in complete:
                yield self.decoded(line)
        if pending:
            yield self.decoded(pending)

    def decoded(self, line: bytes | bytearray) -> str:
        """A line as text; one that is not UTF-8 is refused, not guessed at."""
        try:
            return bytes(line).rstrip(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            raise self.broken("a line that is not UTF-8", repr(bytes(line))[2:-1]) from None

    def chunks(self, response: httpx.Response) -> Iterator[dict[str, Any]]:
        """The stream's JSON chunks, until ``[DONE]``."""
        for line in self.lines(response):
            self.first = self.first or line
            if not line.startswith("data:"):
                continue  # an SSE comment (keep-alive), event name, id or blank line
            data = line.removeprefix("data:").removeprefix(" ")
            if data == "[DONE]":
                self.finished = True
                return
            self.events += 1
            try:
                chunk = json.loads(data)
            except (ValueError, RecursionError):
                raise self.broken("a stream line that is not JSON", data) from None
            if not isinstance(chunk, dict):
                raise self.broken("a stream chunk that is not a JSON object", data)
            yield chunk

    def take(self, chunk: dict[str, Any]) -> Iterator[str]:
        """The text in one chunk; its calls, finish and usage kept."""
        if chunk.get("error") is not None:
            raise GenerationError(
                f"{self.url} sent an error: {quoted(error_message(chunk['error']))}; "
                "the conversation is kept"
            )
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise self.broken("choices that are not a list", choices)
        for choice in choices:
            yield from self.choice(choice)

    def choice(self, choice: Any) -> Iterator[str]:
        if not isinstance(choice, dict):
            raise self.broken("a choice that is not an object", choice)
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise self.broken("a delta that is not an object", delta)
        if any(value for key, value in delta.items() if key != "role"):
            self.progress = monotonic()  # text, calls, or reasoning a client does not show
        text = delta.get("content")
        if text is not None and not isinstance(text, str):
            raise self.broken("content that is not text", text)
        if text:
            text = self.whole(text)
            self.pieces += 1
            if text:
                yield text
        fragments = delta.get("tool_calls") or []
        if not isinstance(fragments, list):
            raise self.broken("tool calls that are not a list", fragments)
        for fragment in fragments:
            self.join(fragment)
        finish = choice.get("finish_reason")
        if finish is not None:
            if not isinstance(finish, str):
                raise self.broken("a finish_reason that is not text", finish)
            self.reason, self.finished = FINISH.get(finish, "end_turn"), True

    def whole(self, text: str) -> str:
        """``text`` with each character whole: a surrogate pair split between two
        pieces (as JSON's \\ud83d, \\ude00 may come) joined, a lone half replaced."""
        text, self.half = self.half + text, ""
        if "\ud800" <= text[-1] <= "\udbff":
            text, self.half = text[:-1], text[-1]
        return valid(text)

    def join(self, fragment: Any) -> None:
        """Add one streamed ``delta.tool_calls`` fragment to the call it belongs to."""
        if not isinstance(fragment, dict):
            raise self.broken("a tool call that is not an object", fragment)
        index = fragment.get("index", len(self.calls))
        if not isinstance(index, int) or isinstance(index, bool):
            raise self.broken("a tool-call index that is not a whole number", repr(index))
        if index not in self.calls and len(self.calls) >= MAX_CALLS:
            raise GenerationError(
                f"{self.url} asked for more than {MAX_CALLS} tool calls in one reply; "
                "the conversation is kept"
            )
        function = fragment.get("function") or {}
        if not isinstance(function, dict):
            raise self.broken("a tool call function that is not an object", function)
        call_id, name, arguments = (
            fragment.get("id"),
            function.get("name"),
            function.get("arguments"),
        )
        if isinstance(arguments, dict):  # some servers send the object itself
            arguments = json.dumps(arguments)
        for what, value in (("id", call_id), ("function name", name), ("arguments", arguments)):
            if value is not None and not isinstance(value, str):
                raise self.broken(f"a tool call {what} that is not text", value)
        call = self.calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        call["id"] = call_id or call["id"]
        call["name"] += name or ""
        call["arguments"] += arguments or ""
        self.progress = monotonic()

    def end(self, content_type: str | None) -> Iterator[str]:
        """The stream's body has ended: the held half of a character, or why it is broken."""
        if self.half:
            yield valid(self.half)
            self.half = ""
        if self.finished or self.reason == "cancelled":
            return
        if not self.events:
            raise self.broken(
                f"answered with {quoted(content_type or 'no content type')}, not an event stream",
                self.first,
            )
        raise GenerationError(
            f"{self.url} ended the stream before the reply was done (no finish_reason, "
            "no [DONE]); the conversation is kept, try again"
        )

    def outcome(self, prompt_tokens: int, may_call: bool) -> Outcome:
        calls: tuple[ToolCall, ...] = ()
        if may_call and self.reason != "cancelled":
            calls = tuple(
                ToolCall(c["id"] or f"call_{index}", valid(c["name"]), valid(c["arguments"]))
                for index, c in sorted(self.calls.items())
            )
        reason = self.reason
        if calls:
            reason = "tool_calls"
        elif reason == "tool_calls":  # calls it was not offered, or sent none after all
            reason = "end_turn"
        prompt, new = (
            count(self.usage.get("prompt_tokens")),
            count(self.usage.get("completion_tokens")),
        )
        return Outcome(
            reason,
            prompt_tokens if prompt is None else prompt,
            self.pieces if new is None else new,
            tool_calls=calls,
        )


def valid(text: str) -> str:
    """``text`` with surrogate pairs joined into their characters and lone halves (which
    no terminal or file can take) replaced by U+FFFD."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
