"""The ``openai:`` backend against a server that misbehaves on purpose.

A small HTTP server on loopback answers each path with what a broken, hostile or
merely unusual OpenAI-compatible server might send: lines that are not JSON, errors
of the wrong shape, endless lines and streams, compressed bombs, redirects, numbers
out of range. Whatever it sends, the user gets one line naming the server and what
it sent, and the conversation stays as it was.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from minichat import Conversation, GenerationConfig, GenerationError, ModelLoadError
from minichat.backend import Message, Outcome
from minichat.backends import openai_wire
from minichat.backends import remote as remote_module
from minichat.backends.remote import OpenAIBackend
from minichat.errors import ModelNotFoundError
from minichat.tools.builtin import builtin
from minichat.tools.spec import Tools
from minichat.tools.toolbox import Toolbox

Route = Callable[["Handler"], None]
MODELS = json.dumps({"object": "list", "data": [{"id": "m", "context_length": 4096}]})


class Handler(BaseHTTPRequestHandler):
    server: Hostile

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        route = self.server.routes.get(self.path)
        try:
            if route is None:
                self.send_error(404)
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Hostile(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Route]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes = routes
        self.seen: list[tuple[str, str, dict[str, str], Any]] = []


@contextmanager
def hostile(**routes: Route) -> Iterator[Hostile]:
    """A server on loopback: ``/v1/models`` lists model ``m`` unless a route says
    otherwise, ``/tokenize`` is missing (so counts are estimated)."""
    table: dict[str, Route] = {"/v1/models": answer(200, MODELS)}
    table.update({"/" + name.replace("__", "/"): route for name, route in routes.items()})
    server = Hostile(table)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url(server: Hostile) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def answer(
    status: int, body: str | bytes = b"", content_type: str = "application/json", **headers: str
) -> Route:
    data = body.encode() if isinstance(body, str) else body

    def route(handler: Handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(data)

    return route


def sse(*events: Any, done: bool = True) -> Route:
    """An event stream: each event a chunk (dict or list, sent as JSON) or raw text/bytes."""
    lines = []
    for event in events:
        raw = event if isinstance(event, bytes) else str(event).encode()
        if isinstance(event, dict | list):
            raw = json.dumps(event).encode()
        lines.append(raw if raw.startswith((b"data:", b":")) else b"data: " + raw)
    body = b"".join(line + b"\n\n" for line in lines) + (b"data: [DONE]\n\n" if done else b"")
    return answer(200, body, "text/event-stream")


def endless(piece: bytes, times: int, pause: float = 0.0, head: bytes = b"") -> Route:
    """A stream that sends ``piece`` again and again (``times`` at most: the test stays
    bounded even if the client never gives up)."""

    def route(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(head)
        for _ in range(times):
            handler.wfile.write(piece)
            handler.wfile.flush()
            if pause:
                time.sleep(pause)

    return route


def text(content: str, finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]}


def call(**fragment: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"tool_calls": [fragment]}}]}


FINISH_CALLS = {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}


def connect(server: Hostile) -> OpenAIBackend:
    return OpenAIBackend("m", url(server), api_key="secret")


def refused(server: Hostile, says: str, tools: Toolbox | None = None) -> str:
    """The reply fails as one line that names the server and matches ``says``; the
    conversation is as it was before."""
    remote = connect(server)
    conversation = Conversation()
    conversation.messages += [Message("user", "before"), Message("assistant", "kept")]
    before = list(conversation.messages)
    with pytest.raises(GenerationError) as raised:
        conversation.exchange("hi", remote, GenerationConfig(), tools=tools)
    remote.close()
    message = str(raised.value)
    assert conversation.messages == before
    assert "\n" not in message and url(server) in message, message
    assert re.search(says, message), message
    return message


# defect 1: shapes the backend did not expect gave tracebacks


@pytest.mark.parametrize(
    ("events", "says"),
    [
        (["{not json"], r"not JSON: \{not json"),
        (["[" * 100_000], "not JSON"),  # nested past the parser's recursion limit
        ([{"error": "boom"}], "sent an error: boom"),
        ([{"error": {"message": {"deep": 1}}}], 'sent an error: .*"deep": 1'),
        ([call(index="first", function={"name": "calculator"})], "index .*'first'"),
        ([call(index=0, function={"name": 5})], "function name .*5"),
        ([call(index=0, function={"name": "calculator", "arguments": 5})], "arguments .*5"),
        ([call(index=0, function="calculator")], "function .*calculator"),
        ([{"choices": [{"delta": {"tool_calls": ["x"]}}]}], "tool call .*x"),
        ([[1, 2]], r"not a JSON object: \[1, 2\]"),
        ([{"choices": 5}], "choices .*5"),
        ([{"choices": ["hi"]}], "choice .*hi"),
        ([{"choices": [{"delta": "hi"}]}], "delta .*hi"),
        ([{"choices": [{"delta": {"content": 5}}]}], "content .*5"),
        ([{"choices": [{"delta": {}, "finish_reason": ["stop"]}]}], r"finish_reason .*\["),
        ([{"choices": [{"delta": {"tool_calls": {"index": 0}}}]}], "tool calls .*index"),
    ],
)
def test_a_chunk_of_the_wrong_shape_is_one_line(events: list[Any], says: str) -> None:
    with hostile(v1__chat__completions=sse(*events)) as server:
        refused(server, says)


def test_a_model_list_that_is_not_json_or_not_a_list_is_one_line() -> None:
    for body in ("<html>Bad gateway</html>", "[" * 100_000, '{"data": "m"}', "[1]", "\xff"):
        with (
            hostile(v1__models=answer(200, body.encode("latin-1"))) as server,
            pytest.raises(ModelLoadError) as raised,
        ):
            connect(server)
        message = str(raised.value)
        assert "\n" not in message and url(server) in message, message
        assert re.search("which is not JSON|is not an OpenAI model list", message), message


def test_calls_are_not_run_in_the_round_that_offers_none() -> None:
    asks = sse(
        call(
            index=0, id="c", function={"name": "calculator", "arguments": '{"expression": "1+1"}'}
        ),
        FINISH_CALLS,
    )
    with hostile(v1__chat__completions=asks) as server:
        remote = connect(server)
        toolbox = Toolbox({f.name: f for f in builtin(["calculator"])}, max_rounds=2)
        exchange = Conversation().exchange("add", remote, GenerationConfig(), tools=toolbox)
        ran = exchange.tools_ran
        choices = [
            b["tool_choice"] for _, path, _, b in server.seen if path.endswith("/completions")
        ]
        assert choices == ["auto", "auto", "none"]
        assert len(ran) == 2  # the third call came in the "none" round: not run
        assert exchange.finish_reason == "end_turn" and exchange.tool_calls == ()
        # without tools at all, a call the server sends anyway is no call either
        outcome = stream(remote, None)
        assert (outcome.finish_reason, outcome.tool_calls) == ("end_turn", ())


def stream(remote: OpenAIBackend, tools: Tools | None) -> Outcome:
    """The outcome of one reply to "hi", its text left unread."""
    generator = remote._stream(
        [Message("user", "hi")], GenerationConfig(), threading.Event(), tools
    )
    while True:
        try:
            next(generator)
        except StopIteration as stop:
            outcome: Outcome = stop.value
            return outcome


# defect 2: every request bounded


def test_an_endless_line_is_cut_off() -> None:
    with hostile(v1__chat__completions=endless(b"x" * 65536, 100, head=b"data: ")) as server:
        refused(server, "a line longer than 1 MiB")


def test_an_endless_stream_of_empty_chunks_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_wire, "MAX_STREAM", 256 * 1024)
    empty = b'data: {"choices": [{"index": 0, "delta": {}}]}\n\n'
    with hostile(v1__chat__completions=endless(empty * 100, 10_000)) as server:
        refused(server, "more than 0.25 MiB")


def test_a_stream_that_only_keeps_alive_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_wire, "STALL", 0.3)
    keepalive = endless(b": keep-alive\n\n", 1000, pause=0.01)
    with hostile(v1__chat__completions=keepalive) as server:
        refused(server, "nothing but empty events for 0.3 s")


def test_a_stream_trickled_byte_by_byte_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_wire, "STALL", 0.3)
    with hostile(v1__chat__completions=endless(b"x", 1000, pause=0.01, head=b"data: ")) as server:
        refused(server, "nothing but empty events")


def test_a_body_too_large_or_compressed_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    padded = json.dumps({"data": [{"id": "m"}], "pad": " " * (20 * 1024 * 1024)}).encode()
    bomb = answer(200, gzip.compress(padded), Content_Encoding="gzip")
    with hostile(v1__models=bomb) as server, pytest.raises(ModelLoadError, match="compressed"):
        connect(server)
    monkeypatch.setattr(remote_module, "MAX_BODY", 1024 * 1024)
    with (
        hostile(v1__models=answer(200, padded)) as server,
        pytest.raises(ModelLoadError, match="more than 1 MiB"),
    ):
        connect(server)


def test_text_that_is_not_utf8_is_one_line() -> None:
    broken = b'data: {"choices": [{"delta": {"content": "caf\xe9"}}]}'
    with hostile(v1__chat__completions=sse(text("ok"), broken)) as server:
        refused(server, r"not UTF-8: .*caf\\xe9")


def test_a_redirect_is_not_followed_with_the_key() -> None:
    with hostile() as elsewhere:
        moved = answer(307, Location=f"{url(elsewhere)}/models")
        with hostile(v1__models=moved) as server, pytest.raises(ModelLoadError) as raised:
            connect(server)
        assert elsewhere.seen == []  # the key never went there
    message = str(raised.value)
    assert f"redirects to {url(elsewhere)}/models" in message and url(server) in message


# defect 4: more of the same kind


def test_a_page_instead_of_a_stream_is_one_line() -> None:
    page = answer(200, "<html><body>Welcome to nginx!</body></html>", "text/html")
    with hostile(v1__chat__completions=page) as server:
        refused(server, "answered with text/html, not an event stream: <html><body>Welcome")


def test_a_stream_that_stops_early_is_an_error_but_a_finished_one_is_not() -> None:
    with hostile(v1__chat__completions=sse(text("Hal"), done=False)) as server:
        refused(server, "ended the stream before the reply was done")
    with hostile(v1__chat__completions=sse(text("Hello", "stop"), done=False)) as server:
        reply = Conversation().exchange("hi", connect(server), GenerationConfig())
        assert (reply.reply, reply.finish_reason) == ("Hello", "stop")


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (429, "answered 429 Too Many Requests with no message; wait a moment and try again"),
        (500, "answered 500 Internal Server Error with no message"),
        (503, "answered 503 Service Unavailable with no message; wait a moment"),
    ],
)
def test_an_error_status_with_no_body_says_what_it_was(status: int, says: str) -> None:
    with hostile(v1__chat__completions=answer(status)) as server:
        refused(server, re.escape(says))


def test_an_error_body_is_shown_as_one_short_printable_line() -> None:
    body = json.dumps({"error": {"message": "bad\n\x1b[31mred" + "!" * 10_000}})
    with hostile(v1__chat__completions=answer(400, body)) as server:
        message = refused(server, r"answered 400: bad\\n\\x1b\[31mred!!!")
        assert len(message) < 400


def test_a_huge_model_list_is_named_in_short() -> None:
    cards = [{"id": f"model-{n}\x1b[2J"} for n in range(5000)]
    with (
        hostile(v1__models=answer(200, json.dumps({"data": cards}))) as server,
        pytest.raises(ModelNotFoundError) as raised,
    ):
        connect(server)
    message = str(raised.value)
    assert "model-0\\x1b[2J, model-1" in message and "and 4990 more" in message
    assert len(message) < 500 and "\x1b" not in message


@pytest.mark.parametrize("length", ["many", "1" * 5000, -1, 0.5, 10**30, True, [4096]])
def test_a_context_length_out_of_range_is_one_line(length: Any) -> None:
    cards = json.dumps({"data": [{"id": "m", "context_length": length}]})
    with (
        hostile(v1__models=answer(200, cards)) as server,
        pytest.raises(ModelLoadError, match=f"{re.escape(url(server))} says m has a context of"),
    ):
        connect(server)


def test_a_context_length_in_words_or_as_a_float_is_read() -> None:
    for length in ("8192", 8192.0):
        cards = json.dumps({"data": [{"id": "m", "max_model_len": length}]})
        with hostile(v1__models=answer(200, cards)) as server:
            assert connect(server).context_length == 8192


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": -5, "completion_tokens": -1},
        {"prompt_tokens": 10**30, "completion_tokens": 1e400},
        {"prompt_tokens": "7", "completion_tokens": None},
        [1, 2],
        "lots",
    ],
)
def test_token_counts_out_of_range_are_not_believed(usage: Any) -> None:
    chunks = [text("a"), text("b", "stop"), {"choices": [], "usage": usage}]
    with hostile(v1__chat__completions=sse(*chunks)) as server:
        remote = connect(server)
        reply = Conversation().exchange("hi", remote, GenerationConfig())
        estimate = remote.count_tokens([Message("user", "hi")])
        assert (reply.reply, reply.stats.prompt_tokens, reply.stats.new_tokens) == (
            "ab",
            estimate,
            2,
        )


@pytest.mark.parametrize("count", ["-5", '"many"', "true", "1e400", "[]"])
def test_a_tokenize_count_out_of_range_falls_back_to_the_estimate(count: str) -> None:
    routes = {"tokenize": answer(200, f'{{"count": {count}}}')}
    with hostile(**routes) as server:
        remote = connect(server)
        assert remote.count_tokens([Message("user", "x" * 40)]) == 4 + 10 + 4
        assert not remote.exact_counts


def test_tool_call_arguments_as_an_object_or_broken_json_reach_the_chat() -> None:
    chunks = [
        call(index=0, function={"name": "calculator", "arguments": {"expression": "6*7"}}),
        call(index=1, id="b", function={"name": "calculator", "arguments": '{"expr'}),
        FINISH_CALLS,
    ]
    with hostile(v1__chat__completions=sse(*chunks)) as server:
        tools = Tools(tuple(f.tool for f in builtin(["calculator"])))
        outcome = stream(connect(server), tools)
    first, second = outcome.tool_calls
    assert (first.id, json.loads(first.arguments)) == ("call_0", {"expression": "6*7"})
    assert (second.id, second.arguments) == ("b", '{"expr')  # the chat tells the model


def test_too_many_tool_calls_in_one_reply_are_refused() -> None:
    chunks = [call(index=n, function={"name": "calculator"}) for n in range(200)]
    with hostile(v1__chat__completions=sse(*chunks, FINISH_CALLS)) as server:
        refused(
            server,
            "more than 128 tool calls",
            tools=Toolbox({f.name: f for f in builtin(["calculator"])}),
        )


def test_halves_of_a_character_are_joined_and_lone_ones_replaced() -> None:
    chunks = [text("\ud83d"), text("\ude00 and \ud800"), text("!", "stop")]
    with hostile(v1__chat__completions=sse(*chunks)) as server:
        reply = Conversation().exchange("hi", connect(server), GenerationConfig())
    assert reply.reply == "\N{GRINNING FACE} and \N{REPLACEMENT CHARACTER}!"


def test_data_lines_without_a_space_are_read() -> None:
    body = b'data:{"choices": [{"delta": {"content": "tight"}, "finish_reason": "stop"}]}'
    with hostile(v1__chat__completions=sse(body)) as server:
        reply = Conversation().exchange("hi", connect(server), GenerationConfig())
    assert reply.reply == "tight"


def test_an_error_field_that_is_null_is_no_error() -> None:
    with hostile(v1__chat__completions=sse({"error": None, **text("fine", "stop")})) as server:
        reply = Conversation().exchange("hi", connect(server), GenerationConfig())
    assert reply.reply == "fine"


def test_half_a_surrogate_pair_in_a_call_is_shown_not_a_crash() -> None:
    """A server's call with JSON's "\\ud800" in its arguments: the calculator's error
    quotes it, the next request carries it, and neither the tool line, the request
    nor the conversation breaks."""
    asks = sse(
        call(
            index=0,
            id="c",
            function={"name": "calculator", "arguments": '{"expression": "\\ud800"}'},
        ),
        FINISH_CALLS,
    )
    with hostile(v1__chat__completions=asks) as server:
        toolbox = Toolbox({f.name: f for f in builtin(["calculator"])}, max_rounds=2)
        ran = (
            Conversation()
            .exchange("add", connect(server), GenerationConfig(), tools=toolbox)
            .tools_ran
        )
        assert ran and all(done.result.encode("utf-8") for done in ran)
        assert "`\\ud800`" in ran[0].result  # the escape, visible
        assert len([path for _, path, _, _ in server.seen if path.endswith("/completions")]) == 3
