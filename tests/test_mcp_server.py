"""``minichat mcp``: the user's collections over MCP, read by the official SDK's client
(stdio and streamable HTTP) and by minichat's own ``--mcp`` client."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from minichat.tools import mcp
from tests.test_cli import assert_one_error_line, minichat
from tests.test_docs_chat import FACTS


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A data folder with one collection, ``notes``, made by ``minichat docs add``."""
    home = tmp_path_factory.mktemp("mcp-home")
    notes = home / "notes"
    notes.mkdir()
    for name, text in FACTS.items():
        (notes / name).write_text(text)
    env = {"MINICHAT_CACHE_DIR": str(home / "cache"), "MINICHAT_DATA_DIR": str(home)}
    added = minichat("docs", "add", "notes", str(notes), env=env)
    assert added.returncode == 0, added.stderr
    return env


SERVE = [sys.executable, "-m", "minichat", "mcp", "--model", "echo"]


async def session_calls(server: Any) -> dict[str, Any]:
    from mcp import Client

    out: dict[str, Any] = {}
    async with Client(server) as client:
        out["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
        listed = await client.call_tool("list_collections", {})
        out["collections"] = json.loads(listed.content[0].text)
        found = await client.call_tool(
            "search_docs", {"collection": "notes", "query": "pear trees", "k": 2}
        )
        out["found"] = [json.loads(c.text) for c in found.content]
        missing = await client.call_tool("search_docs", {"collection": "nope", "query": "x"})
        out["missing"] = (missing.is_error, missing.content[0].text)
        too_many = await client.call_tool(
            "search_docs", {"collection": "notes", "query": "x", "k": 99}
        )
        out["too_many"] = (too_many.is_error, too_many.content[0].text)
        asked = await client.call_tool(
            "ask", {"collection": "notes", "question": "What is the cat called?"}
        )
        out["asked"] = json.loads(asked.content[0].text)
    return out


def check(out: dict[str, Any]) -> None:
    assert out["tools"] == ["ask", "list_collections", "search_docs"]
    [notes] = out["collections"] if isinstance(out["collections"], list) else [out["collections"]]
    assert (notes["name"], notes["files"], notes["chunks"]) == ("notes", 3, 4)
    assert out["found"][0]["source"].startswith("[1] garden.txt")
    assert "eleven pear trees" in out["found"][0]["text"] and len(out["found"]) == 2
    assert out["missing"][0]
    assert out["missing"][1].endswith("no collection named 'nope'; the collections: notes")
    assert out["too_many"][0] and "k must be between 1 and 20" in out["too_many"][1]
    assert "Quorvane-17" in out["asked"]["answer"]  # the echo model repeats what it read
    assert any("lighthouse.md" in s for s in out["asked"]["sources"])


def test_the_sdk_client_reads_the_collections_over_stdio(env: dict[str, str]) -> None:
    from mcp import StdioServerParameters

    server = StdioServerParameters(command=SERVE[0], args=SERVE[1:], env=env)
    check(asyncio.run(session_calls(server)))


def test_the_sdk_client_reads_them_over_http(env: dict[str, str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [*SERVE, "--port", str(port)],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        check(asyncio.run(session_calls(f"http://127.0.0.1:{port}/mcp")))
        # minichat's own client over streamable HTTP, headers sent along
        spec = mcp.declared(
            {"docs": {"url": f"http://127.0.0.1:{port}/mcp", "headers": {"X-Trace": "1"}}}
        )["docs"]
        server = mcp.server(spec)
        try:
            server.start()
            assert "48213" in server.call("search_docs", {"collection": "notes", "query": "relay"})
        finally:
            server.stop()
    finally:
        process.terminate()
        process.wait(10)


def test_minichats_own_client_uses_minichat_as_a_server(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started as a config file would name it: minichat's settings (the data folder)
    reach the server though the SDK hands it only a few variables of its own."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = mcp.ServerSpec("docs", SERVE[0], tuple(SERVE[1:]))
    server = mcp.server(spec)
    try:
        server.start()
        assert {t.name for t in server.tools} == {"ask", "list_collections", "search_docs"}
        found = server.call("search_docs", {"collection": "notes", "query": "relay port"})
        assert "48213" in found
    finally:
        server.stop()


def test_it_listens_on_this_machine_only() -> None:
    for host in ("0.0.0.0", "127.0.0.2"):  # the SDK guards 127.0.0.1, localhost, ::1 only
        assert_one_error_line(
            minichat("mcp", "--port", "8123", "--host", host), "listens on this machine only"
        )
