"""`minichat serve` over a real socket: the official openai client, bad requests, load."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import ClassVar

import httpx
import pytest
import uvicorn

from minichat import ChatBackend, GenerationConfig, Message, Outcome, load_backend
from minichat.server.app import create_app

openai = pytest.importorskip("openai")


@contextmanager
def serving(backend: ChatBackend, **options: object) -> Iterator[str]:
    """Run the app with uvicorn on a free loopback port; yield its /v1 URL."""
    app = create_app(backend, GenerationConfig(), **options)  # type: ignore[arg-type]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Slow(ChatBackend):
    """Ten words, 50 ms apart; remembers how its replies ended."""

    name: ClassVar[str] = "slow"

    def __init__(self) -> None:
        self.model_id, self.context_length = "slow", 4096
        self.endings: list[str] = []

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content.split()) for m in messages) + 3

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        for i in range(10):
            if cancel.is_set():
                self.endings.append("cancelled")
                return Outcome("cancelled", 3, i)
            time.sleep(0.05)
            yield f"w{i} "
        self.endings.append("end_turn")
        return Outcome("end_turn", 3, 10)


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with serving(load_backend("echo")) as url:
        yield url


def client(url: str, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0)


def test_official_client_non_streaming(echo_url: str) -> None:
    reply = client(echo_url).chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "hello there"}], temperature=0.2
    )
    assert reply.choices[0].message.content == "You said: hello there"
    assert reply.choices[0].finish_reason == "stop"
    backend = load_backend("echo")
    prompt_tokens = backend.count_tokens([Message("user", "hello there")])
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (prompt_tokens, 4)


def test_official_client_streaming_with_usage(echo_url: str) -> None:
    chunks = list(
        client(echo_url).chat.completions.create(
            model="echo",
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: one two three"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_stop_and_max_tokens(echo_url: str) -> None:
    c = client(echo_url)
    messages = [{"role": "user", "content": "alpha beta gamma"}]
    stopped = c.chat.completions.create(model="echo", messages=messages, stop=["beta"])
    assert stopped.choices[0].message.content == "You said: alpha "
    assert stopped.choices[0].finish_reason == "stop"
    cut = c.chat.completions.create(model="echo", messages=messages, max_tokens=2)
    assert cut.choices[0].message.content == "You said:"
    assert cut.choices[0].finish_reason == "length"


def test_models_and_health(echo_url: str) -> None:
    # the chat model, and the documents' embedder (POST /v1/embeddings)
    assert [m.id for m in client(echo_url).models.list()] == ["echo", "all-MiniLM-L6-v2"]
    cards = httpx.get(echo_url + "/models").json()["data"]
    assert cards[0]["adapter"] is None  # the LoRA adapter merged in (--adapter), if any
    health = httpx.get(echo_url.removesuffix("/v1") + "/health").json()
    assert health["status"] == "ok" and health["model"] == "echo"


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ("{not json", None, "JSON"),
        (
            {
                "model": "echo",
                "messages": [{"role": "user", "content": "hi"}],
                "temperature": "hot",
            },
            None,
            "temperature",
        ),
        (
            {"model": "echo", "messages": [{"role": "user", "content": "hi"}], "top_p": 3},
            None,
            "top_p must be in (0, 1]",
        ),
        (
            {"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]},
            "model_not_found",
            "unknown model 'gpt-9'",
        ),
        ({"model": "echo", "messages": []}, None, "messages"),
        ({"model": "echo", "messages": [{"role": "user", "content": "hi"}], "n": 2}, None, "n"),
        (
            {"model": "echo", "messages": [{"role": "user", "content": "tea " * 5000}]},
            "context_length_exceeded",
            "shorten the message",
        ),
    ],
)
def test_bad_requests_get_400_with_an_openai_error(
    echo_url: str, body: object, code: str | None, words: str
) -> None:
    content = body if isinstance(body, str) else json.dumps(body)
    response = httpx.post(
        f"{echo_url}/chat/completions",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == code
    assert words in error["message"]


def test_api_key() -> None:
    with serving(load_backend("echo"), api_key="s3cret") as url:
        with pytest.raises(openai.AuthenticationError):
            client(url, "wrong").models.list()
        assert httpx.get(f"{url}/models").status_code == 401
        assert "echo" in [m.id for m in client(url, "s3cret").models.list()]


def test_fifty_concurrent_streams_each_get_their_own_reply() -> None:
    def ask(i: int) -> str:
        words = " ".join(f"n{i}w{j}" for j in range(20))
        stream = client(echo_url).chat.completions.create(
            model="echo", messages=[{"role": "user", "content": words}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == f"You said: {words}", text  # complete, in order, nobody else's
        return text

    with (
        serving(load_backend("echo"), queue_limit=50) as echo_url,
        ThreadPoolExecutor(max_workers=50) as pool,
    ):
        assert len(list(pool.map(ask, range(50)))) == 50


def test_a_full_queue_gets_503_with_retry_after() -> None:
    slow = Slow()
    with serving(slow, queue_limit=1) as url:
        body = {"model": "slow", "messages": [{"role": "user", "content": "go"}]}
        with ThreadPoolExecutor(max_workers=2) as pool:
            first = pool.submit(httpx.post, f"{url}/chat/completions", json=body, timeout=30)
            time.sleep(0.2)  # the first is generating
            second = pool.submit(httpx.post, f"{url}/chat/completions", json=body, timeout=30)
            time.sleep(0.2)  # the second is waiting
            third = httpx.post(f"{url}/chat/completions", json=body, timeout=30)
            assert third.status_code == 503 and third.headers["retry-after"] == "1"
            assert third.json()["error"]["code"] == "server_busy"
            assert first.result().status_code == 200 and second.result().status_code == 200


def test_a_client_that_disconnects_frees_the_model() -> None:
    slow = Slow()
    with serving(slow) as url:
        body = {"model": "slow", "messages": [{"role": "user", "content": "go"}], "stream": True}
        with httpx.stream("POST", f"{url}/chat/completions", json=body, timeout=30) as response:
            lines = response.iter_lines()
            while "w0" not in next(lines):
                pass
        started = time.monotonic()
        reply = client(url).chat.completions.create(
            model="slow", messages=[{"role": "user", "content": "next"}]
        )
        assert reply.choices[0].message.content == "".join(f"w{i} " for i in range(10))
        assert time.monotonic() - started < 1.5  # not stuck behind the abandoned reply
        assert slow.endings[0] == "cancelled"


def test_usage_has_the_keys_of_ask_json(echo_url: str) -> None:
    """One report: the server's usage and `minichat ask --json` name the same numbers alike."""
    from tests.test_cli import minichat

    body = {"model": "echo", "messages": [{"role": "user", "content": "hello there"}]}
    served = httpx.post(f"{echo_url}/chat/completions", json=body, timeout=30).json()["usage"]
    asked = json.loads(minichat("ask", "hello there", "-m", "echo", "--json").stdout)["usage"]
    assert served == asked  # the same prompt on the same model: the same numbers too
    assert set(served) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
    }


def test_max_new_tokens_by_its_full_name(echo_url: str) -> None:
    body = {
        "model": "echo",
        "messages": [{"role": "user", "content": "one two three four"}],
        "max_new_tokens": 2,
    }
    reply = httpx.post(f"{echo_url}/chat/completions", json=body, timeout=30).json()
    assert reply["usage"]["completion_tokens"] == 2
    assert reply["choices"][0]["finish_reason"] == "length"


def test_parameters_as_clients_send_them_and_errors_that_name_them(echo_url: str) -> None:
    hi = [{"role": "user", "content": "one two three four"}]
    lenient = {"model": "echo", "messages": hi, "max_tokens": 2.0, "top_k": "5"}
    reply = httpx.post(f"{echo_url}/chat/completions", json=lenient, timeout=30).json()
    assert reply["usage"]["completion_tokens"] == 2
    bad = {"model": "echo", "messages": hi, "max_tokens": 0}
    error = httpx.post(f"{echo_url}/chat/completions", json=bad, timeout=30).json()["error"]
    assert error["param"] == "max_tokens" and error["message"].startswith("max_tokens: ")


class Broken(Slow):
    """Two words, then a bug."""

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        yield "w0 "
        yield "w1 "
        raise RuntimeError("a bug mid-reply")


def test_a_bug_mid_stream_is_an_error_event_then_done_and_the_model_is_free() -> None:
    with serving(Broken()) as url:
        body = {"model": "slow", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        with httpx.stream("POST", f"{url}/chat/completions", json=body, timeout=30) as response:
            events = [line for line in response.iter_lines() if line.startswith("data: ")]
        assert json.loads(events[-2][6:])["error"]["message"] == "a bug mid-reply"
        assert events[-1] == "data: [DONE]"
        health = httpx.get(f"{url.removesuffix('/v1')}/health", timeout=10).json()
        assert health["waiting"] == 0
        again = httpx.post(f"{url}/chat/completions", json={**body, "stream": False}, timeout=30)
        assert again.status_code == 500  # the next request gets the model, and the error
        assert again.json()["error"]["message"] == "internal error: a bug mid-reply"
