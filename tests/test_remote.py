"""OpenAIBackend against minichat serve over a real socket, and its error paths."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from minichat import (
    Conversation,
    GenerationConfig,
    GenerationError,
    ModelLoadError,
    ModelNotFoundError,
    load_backend,
)
from tests.test_server import Slow, serving


def test_chat_through_the_remote_backend_keeps_the_conversation() -> None:
    with serving(load_backend("echo")) as url:
        remote = load_backend(f"openai:echo@{url}")
        assert remote.context_length == 4096
        conversation = Conversation(system="Be brief.")
        first = conversation.exchange("hello", remote, GenerationConfig())
        second = conversation.exchange("again", remote, GenerationConfig())
        assert (first.reply, second.reply) == ("You said: hello", "You said: again")
        assert second.stats.prompt_tokens == load_backend("echo").count_tokens(
            conversation.prompt()[:-1]
        )


def test_bad_specs_and_unreachable_servers_are_clear() -> None:
    with pytest.raises(ModelNotFoundError, match="write openai:MODEL@http"):
        load_backend("openai:llama3")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(ModelLoadError, match="cannot reach .* is the server running"):
        load_backend(f"openai:x@http://127.0.0.1:{port}/v1")
    with (
        serving(load_backend("echo")) as url,
        pytest.raises(
            ModelNotFoundError, match="has no model 'gpt-9' \\(it has: echo, all-MiniLM-L6-v2\\)"
        ),
    ):
        load_backend(f"openai:gpt-9@{url}")


def test_a_server_error_or_a_dropped_connection_keeps_the_conversation() -> None:
    with serving(load_backend("echo"), api_key="k") as url:
        os.environ["OPENAI_API_KEY"] = "k"
        try:
            remote = load_backend(f"openai:echo@{url}")
        finally:
            del os.environ["OPENAI_API_KEY"]
        conversation = Conversation()
        conversation.exchange("hello", remote, GenerationConfig())
        remote.http.headers["Authorization"] = "Bearer wrong"  # type: ignore[attr-defined]
        with pytest.raises(GenerationError, match="answered 401: missing or wrong API key"):
            conversation.exchange("again", remote, GenerationConfig())
        assert [m.content for m in conversation.messages] == ["hello", "You said: hello"]

    with serving(Slow()) as url:
        remote = load_backend(f"openai:slow@{url}")
    # the server is gone now: the next reply fails in words, nothing is lost
    conversation = Conversation()
    with pytest.raises(GenerationError, match="lost the connection|cannot reach"):
        conversation.exchange("hi", remote, GenerationConfig())
    assert conversation.messages == []


@contextmanager
def serve_command(*flags: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`minichat serve -m echo` in a process of its own on a free loopback port, with
    ``flags``; yields its URL and the process once it answers, and stops it after."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "minichat", "serve", "-m", "echo", "--port", str(port), *flags],
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url, server
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def test_minichat_serve_command_and_the_official_client() -> None:
    openai = pytest.importorskip("openai")
    with serve_command() as (url, server):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="-")
        reply = client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "over the wire"}]
        )
        assert reply.choices[0].message.content == "You said: over the wire"
    assert f"serving echo (echo, context 4096) on {url}/v1" in (
        server.stderr.read() if server.stderr else ""
    )


def test_the_key_can_come_from_the_config_file(tmp_path: object) -> None:
    from pathlib import Path

    from tests.test_cli import minichat

    config = Path(str(tmp_path)) / "config.yaml"
    config.write_text("openai_api_key: k3y\n")
    with serving(load_backend("echo"), api_key="k3y") as url:
        result = minichat("ask", "hi", "-m", f"openai:echo@{url}", "--config", str(config))
        assert (result.returncode, result.stdout) == (0, "You said: hi\n"), result.stderr
        refused = minichat("ask", "hi", "-m", f"openai:echo@{url}")
        assert refused.returncode == 1 and "401" in refused.stderr
    shown = minichat("config", "--config", str(config), env={"COLUMNS": "200"}).stdout
    assert "'***'" in shown and "k3y" not in shown
