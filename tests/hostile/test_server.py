"""`minichat serve` against hostile requests, over a real socket: bodies too big to hold,
JSON that cannot be decoded or nests too deep, text no tokenizer can encode, schemas
that cannot become a grammar, tool calls cut short, and a fuzzer. Every refusal is a
4xx in OpenAI's error shape; nothing a client sends may give a 500."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Generator, Iterator, Sequence
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minichat import ChatBackend, GenerationConfig, Message, Outcome, load_backend
from minichat.tools.spec import ToolCall, Tools
from tests.test_server import serving
from tests.test_tools_calls import Caller

MESSAGES = [{"role": "user", "content": "hi"}]
CHAT = {"model": "echo", "messages": MESSAGES}
CALCULATOR = {
    "type": "function",
    "function": {
        "name": "calculator",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
    },
}


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with serving(load_backend("echo")) as url:
        yield url


def openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error of ``response``, checked to have OpenAI's shape and ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert "\n" not in error["message"]  # one line, as every minichat error
    if status < 500:
        assert error["type"] == "invalid_request_error"
    return error  # type: ignore[no-any-return]


def post(url: str, path: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    headers = {"content-type": "application/json", **headers}
    return httpx.post(f"{url}{path}", content=content, headers=headers, timeout=30)


# 1. size: refused before it is read, and never held


def test_a_body_over_the_limit_is_refused_by_its_length_before_it_is_sent() -> None:
    """Only the headers go: a server that waited for the body would never answer."""
    with serving(load_backend("echo"), max_request_bytes=1000) as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
            )
            answer = b""
            while chunk := sock.recv(65536):  # to the end: the server closes the connection
                answer += chunk
        head, _, body = answer.decode().partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 413 ")
        error = json.loads(body)["error"]
        assert error["code"] == "request_too_large" and "1000 bytes" in error["message"]


def test_a_chunked_body_is_cut_off_at_the_limit_not_read_to_its_end() -> None:
    sent = 0

    def endless() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"model": "echo", "messages": [{"role": "user", "content": "'
        for _ in range(1024):  # 64 MiB in all, were it all read
            sent += 65536
            yield b"a" * 65536

    with serving(load_backend("echo"), max_request_bytes=65536) as url:
        response = httpx.post(
            f"{url}/chat/completions",
            content=endless(),
            headers={"content-type": "application/json"},
            timeout=30,
        )
        assert openai_error(response, 413)["code"] == "request_too_large"
        # the server stopped reading: what the client sent is what the sockets buffer
        assert sent < 16 * 2**20
        again = httpx.post(f"{url}/chat/completions", json=CHAT, timeout=30)
        assert again.status_code == 200  # and the server serves the next one


def test_the_default_limit_refuses_a_body_of_many_megabytes(echo_url: str) -> None:
    big = {**CHAT, "messages": [{"role": "user", "content": "a" * (5 * 2**20)}]}
    error = openai_error(post(echo_url, "/chat/completions", big), 413)
    assert "--max-request-bytes" in error["message"]


class Counting(ChatBackend):
    """The echo backend's replies; counts what it was asked to tokenize."""

    name: ClassVar[str] = "counting"

    def __init__(self) -> None:
        self.model_id, self.context_length = "echo", 4096
        self.counted = 0
        self.echo = load_backend("echo")

    def count_tokens(self, messages: Sequence[Message]) -> int:
        self.counted += sum(len(m.content) for m in messages)
        return self.echo.count_tokens(messages)

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome | None]:
        return (yield from self.echo.generate(messages, config, cancel))


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/tokenize"])
def test_text_too_long_for_the_context_is_refused_before_it_is_tokenized(path: str) -> None:
    backend = Counting()
    with serving(backend) as url:
        root = url.removesuffix("/v1")
        # 4096 tokens could not hold 2 MB of text however a tokenizer cut it
        long = {**CHAT, "messages": [{"role": "user", "content": "tea " * 500_000}]}
        error = openai_error(post(root, path, long), 400)
        assert error["code"] == "context_length_exceeded" and error["param"] == "messages"
        many = {**CHAT, "messages": MESSAGES * 2049}
        assert openai_error(post(root, path, many), 400)["param"] == "messages"
        assert backend.counted == 0


def test_embeddings_inputs_are_checked_before_they_are_embedded(echo_url: str) -> None:
    model = "all-MiniLM-L6-v2"
    long = openai_error(post(echo_url, "/embeddings", {"model": model, "input": "a " * 40000}), 400)
    assert long["param"] == "input" and "80000 characters" in long["message"]
    many = {"model": model, "input": ["a"] * 2049}
    assert openai_error(post(echo_url, "/embeddings", many), 400)["param"] == "input"


# 2. text no tokenizer can encode


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (
            "/v1/chat/completions",
            '{"model": "echo", "messages": [{"role": "user", "content": "a\\ud800"}]}',
            "messages.0.content",
        ),
        (
            "/tokenize",
            '{"model": "echo", "messages": [{"role": "user", "content": "\\udfff"}]}',
            "messages.0.content",
        ),
        ("/v1/embeddings", '{"model": "all-MiniLM-L6-v2", "input": ["ok", "\\ud800"]}', "input.1"),
        (
            "/v1/chat/completions",
            '{"model": "echo", "messages": [{"role": "user", "content": "hi"}], "stop": "\\ud800"}',
            "stop",
        ),
    ],
)
def test_a_lone_surrogate_is_a_400_naming_the_field(
    echo_url: str, path: str, body: str, param: str
) -> None:
    error = openai_error(post(echo_url.removesuffix("/v1"), path, body), 400)
    assert error["param"] == param and "surrogate" in error["message"]


# 3. client errors that were 500s or FastAPI's {"detail"}


def deep(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def with_parameters(parameters: Any) -> dict[str, Any]:
    function = {"name": "f", "parameters": parameters}
    return {**CHAT, "model": "caller", "tools": [{"type": "function", "function": function}]}


def string(**limits: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"a": {"type": "string", **limits}}}


@pytest.fixture(scope="module")
def caller_url() -> Iterator[str]:
    with serving(Caller(after="words")) as url:  # plain words for every request
        yield url


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        (with_parameters({"$schema": 5}), "tools.0.function.parameters", "$schema"),
        (with_parameters({"$schema": ["x"]}), "tools.0.function.parameters", "$schema"),
        (
            with_parameters({"$schema": "http://example.com/mine"}),
            "tools.0.function.parameters",
            "$schema",
        ),
        (with_parameters({"type": 5}), "tools.0.function.parameters", "JSON Schema"),
        (with_parameters({"$ref": "#/$defs/nowhere"}), "tools.0.function.parameters", "grammar"),
        (
            with_parameters({"$ref": "https://example.com/s.json"}),
            "tools.0.function.parameters",
            "grammar",
        ),
        (with_parameters(string(pattern="(?=a)b")), "tools.0.function.parameters", "grammar"),
        (with_parameters(string(format="nonsense")), "tools.0.function.parameters", "grammar"),
        (
            with_parameters(string(minLength=5, maxLength=2)),
            "tools.0.function.parameters",
            "minLength",
        ),
        (
            with_parameters({"type": "integer", "minimum": 5, "exclusiveMaximum": 5}),
            "tools.0.function.parameters",
            "minimum",
        ),
        (
            with_parameters({"type": "object", "properties": {"a": {"enum": []}}}),
            "tools.0.function.parameters",
            "enum",
        ),
        (with_parameters(string(maxLength=10**30)), "tools.0.function.parameters", "grammar"),
        (with_parameters(deep(40)), None, "nest"),
        (with_parameters(deep(400)), None, "nest"),
        (
            {**with_parameters({"type": "object"}), "tool_choice": {"function": "f"}},
            "tool_choice.function",
            "",
        ),
        (
            {**with_parameters({"type": "object"}), "tool_choice": {"type": "function"}},
            "tool_choice.function",
            "",
        ),
    ],
)
def test_tools_that_cannot_be_followed_are_a_400(
    caller_url: str, body: dict[str, Any], param: str | None, words: str
) -> None:
    error = openai_error(post(caller_url, "/chat/completions", body), 400)
    assert error["param"] == param and words in error["message"]


NESTED = '{"model": "echo", "messages": ' + "[" * 100_000 + "]" * 100_000 + "}"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b"\xff\xfe{}", "application/json", 400, "UTF-8"),
        (b'{"model": "echo", ', "application/json", 400, "not valid JSON"),
        (b"", "application/json", 400, "JSON"),
        (NESTED.encode(), "application/json", 400, "nest"),
        (b'{"model": "echo", "messages": [], "temperature": NaN}', "application/json", 400, "NaN"),
        (b'{"model": "echo", "temperature": 1e400}', "application/json", 400, "finite"),
        (b'{"model": "echo", "seed": ' + b"9" * 5000 + b"}", "application/json", 400, "digits"),
        (b"[1, 2]", "application/json", 400, "object"),
        (b'"hello"', "application/json", 400, "object"),
        (b"null", "application/json", 400, "object"),
        (json.dumps(CHAT).encode(), "text/plain", 415, "application/json"),
        (b"model=echo", "application/x-www-form-urlencoded", 415, "application/json"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_a_4xx(
    echo_url: str, body: bytes, content_type: str, status: int, words: str
) -> None:
    for path in ("/chat/completions", "/embeddings"):
        response = post(echo_url, path, body, **{"content-type": content_type})
        assert words in openai_error(response, status)["message"]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": -1}, "n"),
        ({"n": 10**12}, "n"),
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_tokens": 10**40}, "max_tokens"),
        ({"max_tokens": "lots"}, "max_tokens"),
        ({"temperature": [1]}, "temperature"),
        ({"temperature": {"a": 1}}, "temperature"),
        ({"stop": ["x"] * 17}, "stop"),
        ({"stop": "x" * 1000}, "stop"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
        ({"messages": [{"content": "hi"}]}, "messages.0.role"),
        ({"messages": ["hi"]}, "messages.0"),
        ({"messages": {"role": "user"}}, "messages"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        ({"model": None}, "model"),
        ({"tools": "calculator"}, "tools"),
    ],
)
def test_parameters_of_the_wrong_type_or_range_are_a_400_naming_them(
    echo_url: str, extra: dict[str, Any], param: str
) -> None:
    error = openai_error(post(echo_url, "/chat/completions", {**CHAT, **extra}), 400)
    assert error["param"] == param


def test_unknown_paths_and_methods_answer_in_openais_shape(echo_url: str) -> None:
    openai_error(httpx.post(f"{echo_url}/nowhere", json={}, timeout=30), 404)
    openai_error(httpx.get(f"{echo_url}/chat/completions", timeout=30), 405)


class Failing(Caller):
    """A bug in counting: an internal error, never the client's."""

    def count_tokens(self, messages: Sequence[Message]) -> int:
        raise RuntimeError("a bug in counting")


def test_a_bug_outside_a_reply_is_a_500_in_openais_shape_too() -> None:
    with serving(Failing()) as url:
        root = url.removesuffix("/v1")
        response = post(root, "/tokenize", {**CHAT, "model": "caller"})
        assert openai_error(response, 500)["type"] == "server_error"


# 4. a tool call cut short


class Cutter(Caller):
    """A backend that streams a call as text (a remote one whose server writes Hermes
    markup): the words before it, then the call's markup so far, ended by the limit."""

    def generate_with_tools(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event,
        tools: Tools,
    ) -> Generator[str, None, Outcome]:
        yield "Let me work it out."
        yield '<tool_call>\n{"name": "calculator", "arguments": {"expression": "6*'
        return Outcome("length", 5, 20)


class LocalCutter(Caller):
    """What a local backend gives when the reply limit cuts a call (``backends.local``):
    the words before it, and the call as far as it got under the finish "length"."""

    def generate_with_tools(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event,
        tools: Tools,
    ) -> Generator[str, None, Outcome]:
        yield "Let me work it out."
        cut = ToolCall("call_cut", "calculator", '{"expression": "6*')
        return Outcome("length", 5, 20, tool_calls=(cut,))


class CutInName(Caller):
    def generate_with_tools(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event,
        tools: Tools,
    ) -> Generator[str, None, Outcome]:
        yield '<tool_call>\n{"name": "calcu'
        return Outcome("length", 5, 6)


@pytest.mark.parametrize("backend", [Cutter, LocalCutter])
def test_a_call_cut_by_the_reply_limit_comes_back_as_a_truncated_call(backend: type) -> None:
    body = {**CHAT, "model": "caller", "tools": [CALCULATOR], "tool_choice": "required"}
    with serving(backend()) as url:
        reply = post(url, "/chat/completions", body)
        assert "<tool_call>" not in reply.text
        [choice] = reply.json()["choices"]
        assert choice["finish_reason"] == "length"
        assert choice["message"]["content"] == "Let me work it out."
        [call] = choice["message"]["tool_calls"]
        assert call["function"] == {"name": "calculator", "arguments": '{"expression": "6*'}
        assert call["id"].startswith("call_") and call["type"] == "function"

        with httpx.stream(
            "POST", f"{url}/chat/completions", json={**body, "stream": True}, timeout=30
        ) as response:
            events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]" and not any("<tool_call>" in e for e in events)
        chunks = [json.loads(e)["choices"] for e in events[:-1]]
        deltas = [c[0]["delta"] for c in chunks if c]
        text = "".join(d.get("content") or "" for d in deltas)
        assert text == "Let me work it out."
        [streamed] = [call for d in deltas for call in d.get("tool_calls", [])]
        assert streamed["function"]["arguments"] == '{"expression": "6*'
        assert [c[0]["finish_reason"] for c in chunks if c][-1] == "length"


def test_a_call_cut_in_its_name_leaves_no_markup_and_no_call() -> None:
    body = {**CHAT, "model": "caller", "tools": [CALCULATOR], "tool_choice": "required"}
    with serving(CutInName()) as url:
        reply = post(url, "/chat/completions", body)
        assert "<tool_call>" not in reply.text and "calcu" not in reply.text
        [choice] = reply.json()["choices"]
        assert choice["finish_reason"] == "length"
        assert choice["message"] == {"role": "assistant", "content": ""}


# 5. embeddings


def test_embeddings_refuse_dimensions_they_cannot_give(echo_url: str) -> None:
    body = {"model": "all-MiniLM-L6-v2", "input": "hello", "dimensions": 3}
    error = openai_error(post(echo_url, "/embeddings", body), 400)
    assert error["param"] == "dimensions" and "384" in error["message"]


def test_whitespace_only_input_is_refused_as_empty_input_is(echo_url: str) -> None:
    model = "all-MiniLM-L6-v2"
    empty = openai_error(post(echo_url, "/embeddings", {"model": model, "input": [""]}), 400)
    blank = openai_error(post(echo_url, "/embeddings", {"model": model, "input": [" \n\t"]}), 400)
    assert blank == empty and blank["param"] == "input"


# 6. a fuzzer: never a 500, and every 4xx in OpenAI's shape

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
VALID: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {
        **CHAT,
        "temperature": 0.5,
        "max_tokens": 5,
        "stop": ["x"],
        "stream": False,
    },
    "/tokenize": CHAT,
    "/v1/embeddings": {"model": "all-MiniLM-L6-v2", "input": ["a"], "encoding_format": "float"},
}
KEYS = sorted({key for body in VALID.values() for key in body} | {"n", "tools", "tool_choice"})


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, Any]:
    """An endpoint and a body: any JSON value, or one of its valid bodies with a few
    values swapped for any JSON, or keys taken out."""
    path = draw(st.sampled_from(sorted(VALID)))
    if draw(st.booleans()):
        return path, draw(JSON)
    body = dict(VALID[path])
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=3)):
        if draw(st.booleans()):
            body[key] = draw(JSON)
        else:
            body.pop(key, None)
    return path, body


@pytest.fixture(scope="module")
def fuzz_url() -> Iterator[str]:
    """The echo server, with a stand-in for the embedder's model (the parser is under test,
    and the model takes seconds to load and a tenth of a second a request)."""
    import numpy

    def embed(texts: list[str]) -> tuple[Any, int]:
        return numpy.zeros((len(texts), 384), dtype=numpy.float32), len(texts)

    with pytest.MonkeyPatch.context() as patch, serving(load_backend("echo")) as url:
        patch.setattr("minichat.server.app.embed", embed)
        yield url


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=bodies())
def test_fuzzed_bodies_never_get_a_500(fuzz_url: str, case: tuple[str, Any]) -> None:
    path, body = case
    response = post(fuzz_url.removesuffix("/v1"), path, body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        openai_error(response, response.status_code)


def test_the_serve_command_takes_its_body_limit_from_a_flag() -> None:
    from tests.test_remote import serve_command

    with serve_command("--max-request-bytes", "2048") as (url, _):
        small = {**CHAT, "messages": [{"role": "user", "content": "x" * 1000}]}
        assert post(url, "/v1/chat/completions", small).status_code == 200
        big = {**CHAT, "messages": [{"role": "user", "content": "x" * 3000}]}
        assert openai_error(post(url, "/v1/chat/completions", big), 413)["code"] == (
            "request_too_large"
        )


def test_only_loopback_hosts_count_as_private() -> None:
    from minichat.cli.app import is_loopback

    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "example.com", "my-laptop"):
        assert not is_loopback(host), host


class Parallel(Caller):
    """A reply with two calls at once, as the grammar now allows under required."""

    def generate_with_tools(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event,
        tools: Tools,
    ) -> Generator[str, None, Outcome]:
        calls = (
            ToolCall("call_a", "calculator", '{"expression": "2+2"}'),
            ToolCall("call_b", "calculator", '{"expression": "3*3"}'),
        )
        return Outcome("tool_calls", 5, 30, tool_calls=calls)
        yield ""  # a generator


def test_several_calls_in_one_reply_come_back_as_several_tool_calls() -> None:
    body = {**CHAT, "model": "caller", "tools": [CALCULATOR], "tool_choice": "required"}
    with serving(Parallel()) as url:
        [choice] = post(url, "/chat/completions", body).json()["choices"]
        assert choice["finish_reason"] == "tool_calls"
        arguments = [c["function"]["arguments"] for c in choice["message"]["tool_calls"]]
        assert arguments == ['{"expression": "2+2"}', '{"expression": "3*3"}']
        with httpx.stream(
            "POST", f"{url}/chat/completions", json={**body, "stream": True}, timeout=30
        ) as response:
            events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
        chunks = [json.loads(e)["choices"] for e in events[:-1]]
        deltas = [c[0]["delta"] for c in chunks if c]
        streamed = [call for delta in deltas for call in delta.get("tool_calls", [])]
        assert [call["index"] for call in streamed] == [0, 1]


def test_a_request_that_offers_tools_gets_the_tool_model_and_no_other_does() -> None:
    """``serve`` without a flag: the model with its tool-use adapter answers requests
    that offer tools (loaded once, on the first), the plain model every other."""
    plain, with_adapter = Caller(after="plain"), Caller(after="adapted")
    with_adapter.model_id = plain.model_id = "caller"
    loads: list[int] = []

    def load() -> ChatBackend:
        loads.append(1)
        return with_adapter

    body = {**CHAT, "model": "caller"}
    with serving(plain, tool_model=load) as url:
        words = post(url, "/chat/completions", body).json()["choices"][0]["message"]
        assert words["content"] == "unused" and loads == []  # Caller's reply without tools
        for _ in range(2):
            offered = post(url, "/chat/completions", {**body, "tools": [CALCULATOR]}).json()
            assert offered["choices"][0]["message"]["content"] == "adapted"
        refused = {**body, "tools": [CALCULATOR], "tool_choice": "none"}
        assert post(url, "/chat/completions", refused).json()["choices"][0]["message"]["content"]
    assert loads == [1]
    assert plain.offered == ["none"] and with_adapter.offered == ["auto", "auto"]
