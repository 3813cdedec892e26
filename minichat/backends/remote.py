"""``OpenAIBackend``: a model behind any OpenAI-compatible server.

``--model openai:MODEL@http://host:port/v1`` streams from vLLM, Ollama,
llama.cpp's server, TGI or ``minichat serve``; the key comes from
``OPENAI_API_KEY``. Token counts are exact where the server offers vLLM's
``/tokenize`` endpoint (``minichat serve`` and vLLM do) and estimated from the
text length elsewhere. A refused connection, a timeout or an error status is a
``GenerationError`` with the server's own message; the conversation is kept.

The server is not trusted: every request has connect and read timeouts, every
answer a size limit (a JSON body, one stream line, one reply's stream), a stream
that sends only empty events for ``STALL`` seconds is given up, compressed bodies
(a decompression bomb) and redirects (which could carry the key elsewhere) are
refused, and whatever arrives in a shape the API does not have (not JSON, not
UTF-8, a string where an object belongs, a count out of range) is one
``GenerationError`` or ``ModelLoadError`` line that names the server and quotes
what it sent, made printable.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from time import monotonic
from typing import Any, ClassVar

import httpx

from minichat.backend import ChatBackend, FinishReason, Message, Outcome, ToolCall, Tools
from minichat.budget import ensure_fits
from minichat.config import GenerationConfig
from minichat.errors import GenerationError, MinichatError, ModelLoadError, ModelNotFoundError
from minichat.untrusted import one_line

DEFAULT_CONTEXT = 8192  # when the server does not say
CHARS_PER_TOKEN = 4  # the estimate for servers without /tokenize
TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=5.0)
STALL = 120.0  # seconds a stream may send only keep-alives and empty events
MIB = 1024 * 1024
MAX_BODY = 8 * MIB  # a JSON answer: a model list, a token count, an error
MAX_LINE = 1 * MIB  # one line of a stream
MAX_STREAM = 64 * MIB  # one reply's whole stream
MAX_CALLS = 128  # tool calls in one reply
MAX_CONTEXT = 2**31  # tokens; any real model's context is below this
MAX_COUNT = 2**31  # a token count a server reports, beyond which it is not believed
MAX_NAMES = 10  # models named when the one asked for is not there
SHOWN = 80  # characters of what the server sent, quoted in a message
FINISH: dict[str | None, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
}


def parse_spec(spec: str) -> tuple[str, str]:
    """``MODEL@URL`` -> (model, base URL ending in /v1)."""
    model, at, url = spec.rpartition("@")
    if not at or not model or not url.startswith(("http://", "https://")):
        raise ModelNotFoundError(
            f"openai:{spec}: write openai:MODEL@http://host:port/v1, "
            "e.g. openai:llama3@http://localhost:11434/v1"
        )
    return model, url.rstrip("/")


def quoted(value: Any) -> str:
    """What a server sent, as a short printable line for a message."""
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return one_line(text, SHOWN)


def count(value: Any) -> int | None:
    """A token count as the server gave it, or None where it cannot be one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


class OpenAIBackend(ChatBackend):
    name: ClassVar[str] = "openai"

    def __init__(self, model: str, base_url: str, api_key: str | None = None):
        self.model = model
        self.model_id = f"openai:{model}@{base_url}"
        self.base_url = base_url
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # a compressed body could inflate a thousandfold past every size limit, so ask
        # for none; a redirect is not followed (httpx's default, said here on purpose)
        headers["Accept-Encoding"] = "identity"
        self.http = httpx.Client(timeout=TIMEOUT, headers=headers, follow_redirects=False)
        try:
            self.context_length = self._context_length(self._model_card())
        except BaseException:
            self.http.close()
            raise
        self.exact_counts = True  # until the server shows it has no /tokenize

    def _model_card(self) -> dict[str, Any]:
        data = self._json("GET", f"{self.base_url}/models", ModelLoadError)
        cards = data.get("data") if isinstance(data, dict) else None
        if not isinstance(cards, list):
            raise ModelLoadError(
                f"{self.base_url}/models is not an OpenAI model list ({quoted(data)}); "
                "is the URL the server's /v1?"
            )
        for card in cards:
            if isinstance(card, dict) and card.get("id") == self.model:
                return card
        names = [quoted(c.get("id")) for c in cards if isinstance(c, dict)]
        shown = ", ".join(names[:MAX_NAMES]) or "none"
        if len(names) > MAX_NAMES:
            shown += f" and {len(names) - MAX_NAMES} more"
        raise ModelNotFoundError(f"{self.base_url} has no model {self.model!r} (it has: {shown})")

    def _context_length(self, card: dict[str, Any]) -> int:
        value = card.get("context_length") or card.get("max_model_len") or DEFAULT_CONTEXT
        if isinstance(value, str) and value.isdecimal() and len(value) <= 12:
            value = int(value)  # some servers quote it; a longer string is no context
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_CONTEXT:
            return value
        raise ModelLoadError(
            f"{self.base_url} says {self.model} has a context of {quoted(value)} tokens; "
            f"a server should say a whole number from 1 to {MAX_CONTEXT}"
        )

    def count_tokens(self, messages: Sequence[Message]) -> int:
        if self.exact_counts:
            root = self.base_url.removesuffix("/v1")
            body = {
                "model": self.model,
                "messages": [m.to_dict() for m in messages],
                "add_generation_prompt": True,
            }
            try:
                answer = self._json("POST", f"{root}/tokenize", GenerationError, body)
            except GenerationError:
                answer = None
            exact = count(answer.get("count")) if isinstance(answer, dict) else None
            if exact is not None:
                return exact
            self.exact_counts = False
        return sum(4 + len(m.prompt_text) // CHARS_PER_TOKEN for m in messages) + 4

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        return (yield from self._stream(messages, config, cancel, None))

    def generate_with_tools(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event,
        tools: Tools,
    ) -> Generator[str, None, Outcome]:
        """The server gets the tools as OpenAI's API has them and says which it calls."""
        return (yield from self._stream(messages, config, cancel, tools))

    def _stream(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event,
        tools: Tools | None,
    ) -> Generator[str, None, Outcome]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": config.temperature,
            "top_p": config.top_p,
            "max_tokens": config.max_new_tokens,
            "top_k": config.top_k,
            "repetition_penalty": config.repetition_penalty,
            **({"stop": list(config.stop)} if config.stop else {}),
            **({"seed": config.seed} if config.seed is not None else {}),
        }
        if tools is not None:
            body["tools"] = [tool.to_dict() for tool in tools.tools]
            named = tools.choice not in ("auto", "required", "none")
            body["tool_choice"] = (
                {"type": "function", "function": {"name": tools.choice}} if named else tools.choice
            )
        prompt_tokens = self.count_tokens(messages)
        ensure_fits(prompt_tokens, config.max_new_tokens, self.context_length)
        reply = Reply(self.base_url)
        try:
            with self._open(
                "POST", f"{self.base_url}/chat/completions", GenerationError, body
            ) as r:
                if r.status_code != 200:
                    raise GenerationError(self._error_text(r, read(r, GenerationError)))
                for chunk in reply.chunks(r):
                    if cancel.is_set():
                        reply.reason = "cancelled"
                        break
                    yield from reply.take(chunk)
                yield from reply.end(r.headers.get("content-type"))
        except httpx.HTTPError as error:
            raise GenerationError(
                f"lost the connection to {self.base_url} ({type(error).__name__}: {error}); "
                "the conversation is kept"
            ) from None
        # a call the server sends when none was offered (tool_choice "none": the last
        # round) is not the chat's to run, or it would run with no reply to read it
        may_call = tools is not None and tools.choice != "none"
        return reply.outcome(prompt_tokens, may_call)

    @contextmanager
    def _open(
        self, method: str, url: str, kind: type[MinichatError], body: Any = None
    ) -> Iterator[httpx.Response]:
        """A response whose body is still to be read, refused if compressed or redirected."""
        with self.http.stream(method, url, json=body) as response:
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise kind(
                    f"{url} sent a {quoted(encoding)}-compressed body though asked for none; "
                    "minichat reads only uncompressed answers"
                )
            if response.is_redirect:
                where = quoted(response.headers.get("location", ""))
                raise kind(
                    f"{url} redirects to {where}; use that address in openai:MODEL@URL "
                    "(minichat does not follow redirects, which could take the key elsewhere)"
                )
            yield response

    def _json(self, method: str, url: str, kind: type[MinichatError], body: Any = None) -> Any:
        try:
            with self._open(method, url, kind, body) as response:
                data = read(response, kind)
        except httpx.HTTPError as error:
            raise kind(
                f"cannot reach {self.base_url} ({type(error).__name__}: {error}); "
                "is the server running?"
            ) from None
        if response.status_code != 200:
            raise kind(self._error_text(response, data))
        try:
            return json.loads(data)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser
            raise kind(
                f"{url} answered with {quoted(data.decode('utf-8', 'replace'))}, which is "
                "not JSON; is the URL the server's /v1?"
            ) from None

    def _error_text(self, response: httpx.Response, data: bytes) -> str:
        try:
            payload = json.loads(data)
            message = error_message(payload["error"]) if isinstance(payload, dict) else None
        except (ValueError, KeyError, RecursionError):
            message = None
        if message is None:
            message = data.decode("utf-8", "replace")
        status = response.status_code
        said = f": {one_line(message.strip(), 200)}" if message.strip() else ""
        if not said:
            said = f" {response.reason_phrase or httpx.codes.get_reason_phrase(status)}"
            said += " with no message"
        later = "; wait a moment and try again" if status in (429, 503) else ""
        return f"{self.base_url} answered {status}{said}{later}"

    def close(self) -> None:
        self.http.close()


def read(response: httpx.Response, kind: type[MinichatError]) -> bytes:
    """The whole body of ``response``, at most ``MAX_BODY`` bytes of it."""
    data = bytearray()
    for piece in response.iter_raw():
        data += piece
        if len(data) > MAX_BODY:
            raise kind(
                f"{response.request.url} sent more than {MAX_BODY / MIB:g} MiB; "
                "is it an OpenAI-compatible server?"
            )
    return bytes(data)


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


def load_openai(spec: str, api_key: str | None = None) -> OpenAIBackend:
    model, url = parse_spec(spec)
    return OpenAIBackend(model, url, api_key or os.environ.get("OPENAI_API_KEY"))
