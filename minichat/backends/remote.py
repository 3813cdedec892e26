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
from typing import Any, ClassVar

import httpx

from minichat.backend import ChatBackend, Message, Outcome
from minichat.backends.openai_wire import MIB, Reply, count, error_message, quoted
from minichat.config import GenerationConfig
from minichat.errors import GenerationError, MinichatError, ModelLoadError, ModelNotFoundError
from minichat.prompt.budget import ensure_fits
from minichat.safety.untrusted import one_line
from minichat.tools.spec import Tools

DEFAULT_CONTEXT = 8192  # when the server does not say
CHARS_PER_TOKEN = 4  # the estimate for servers without /tokenize
TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=5.0)
MAX_BODY = 8 * MIB  # a JSON answer: a model list, a token count, an error
MAX_CONTEXT = 2**31  # tokens; any real model's context is below this
MAX_NAMES = 10  # models named when the one asked for is not there


def parse_spec(spec: str) -> tuple[str, str]:
    """``MODEL@URL`` -> (model, base URL ending in /v1)."""
    model, at, url = spec.rpartition("@")
    if not at or not model or not url.startswith(("http://", "https://")):
        raise ModelNotFoundError(
            f"openai:{spec}: write openai:MODEL@http://host:port/v1, "
            "e.g. openai:llama3@http://localhost:11434/v1"
        )
    return model, url.rstrip("/")


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
        if tools is not None and tools.schema is not None:
            shape = {"name": "answer", "schema": tools.schema, "strict": True}
            body["response_format"] = {"type": "json_schema", "json_schema": shape}
        if tools is not None and tools.tools:
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
        # JSON with every non-ASCII character escaped: text that is not UTF-8 (half a
        # surrogate pair) still makes a request, which the server may refuse in words
        content = None if body is None else json.dumps(body).encode("ascii")
        headers = None if body is None else {"content-type": "application/json"}
        with self.http.stream(method, url, content=content, headers=headers) as response:
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


def load_openai(spec: str, api_key: str | None = None) -> OpenAIBackend:
    model, url = parse_spec(spec)
    return OpenAIBackend(model, url, api_key or os.environ.get("OPENAI_API_KEY"))
