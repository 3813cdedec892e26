"""Tools from MCP servers: another program's tools, called as minichat's own are.

A server is declared in the config file (``mcp_servers:``, the common ``mcpServers``
shape: a ``command`` with ``args`` and ``env`` for a server minichat starts and talks
to over stdin/stdout, or a ``url`` with ``headers`` for streamable HTTP; ``trusted:
true`` runs its calls without asking) or given on the command line (``--mcp NAME``
for a declared one, ``--mcp 'CMD ARGS...'`` for a stdio server of the moment).

The official SDK is asynchronous; each ``McpServer`` keeps one event loop in a
thread of its own, in which one task holds the connection open from ``start`` to
``stop``, and calls are sent to it from whichever thread runs the turn. A server
starts on first use, once per process (``started``), and every one started is
stopped at exit, its process with it. Its tools become ``ToolFunction``s that the
toolbox runs like any other (schemas checked and turned into the same grammar, a
time limit, approval unless trusted); whatever goes wrong (a server that will not
start, dies, hangs or answers with an error) is one line, and the chat goes on.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import re
import shlex
import tempfile
import threading
from collections.abc import Mapping
from concurrent.futures import Future, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from minichat.errors import ConfigError
from minichat.tools.base import ToolError, ToolFunction
from minichat.tools.schema import schema_problem_of
from minichat.tools.spec import Tool

INSTALL = "pip install mcp (or minichat[mcp])"
PASSED_ENV = ("MINICHAT_", "XDG_")  # passed on to a stdio server beside the SDK's few
CONNECTION_CLOSED = -32000  # JSON-RPC's code for a connection that went away (mcp_types)
START_TIMEOUT = 30.0  # seconds a server may take to start and list its tools
CALL_TIMEOUT = 28.0  # a call's own limit, under the toolbox's 30 s
STOP_TIMEOUT = 5.0
MAX_RESULT_CHARS = 200_000  # beyond this a result is cut here (the context cuts further)
MAX_TOOLS = 128  # a server offering more is cut to its first 128: each costs prompt
NAME = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ServerSpec:
    """How to reach one MCP server: a command to start (stdio) or a URL (HTTP)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    url: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    trusted: bool = False  # its calls run without asking

    def describe(self) -> str:
        if self.url is not None:
            return self.url
        return shlex.join([self.command or "", *self.args])


def declared(config: Mapping[str, Any]) -> dict[str, ServerSpec]:
    """The servers of a config file's ``mcp_servers`` (``ConfigError`` names a bad one)."""
    return {str(name): _from_config(str(name), entry) for name, entry in config.items()}


def _from_config(name: str, entry: Any) -> ServerSpec:
    where = f"mcp_servers.{name}"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a mapping with a command or a url")
    known = {"command", "args", "env", "url", "headers", "trusted", "type", "transport"}
    unknown = sorted(set(map(str, entry)) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}")
    kind = str(entry.get("type") or entry.get("transport") or "")
    if kind not in ("", "stdio", "http", "streamable-http", "streamableHttp"):
        raise ConfigError(
            f"{where}: transport {kind!r} is not one minichat speaks: stdio (a command) or "
            "streamable HTTP (a url); the older SSE transport is not supported"
        )
    command, url = entry.get("command"), entry.get("url")
    if command is None and url is None:
        raise ConfigError(f"{where} needs a command (stdio) or a url (HTTP)")
    if command is not None and url is not None:
        raise ConfigError(f"{where} has both a command and a url; give one")
    for key, value in (("command", command), ("url", url)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"{where}.{key} must be a non-empty string")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, (str, int, float)) for a in args):
        raise ConfigError(f"{where}.args must be a list of strings")
    return ServerSpec(
        name,
        command,
        tuple(str(a) for a in args),
        _pairs(entry.get("env", {}), f"{where}.env"),
        url,
        _pairs(entry.get("headers", {}), f"{where}.headers"),
        bool(entry.get("trusted", False)),
    )


def _pairs(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping of names to strings")
    return tuple((str(k), str(v)) for k, v in value.items())


def spec_for(given: str, config: Mapping[str, ServerSpec]) -> ServerSpec:
    """``--mcp``'s value: a declared server's name, or a command line of its own."""
    if given in config:
        return config[given]
    try:
        words = shlex.split(given)
    except ValueError as error:
        raise ConfigError(f"--mcp {given!r}: {error}") from None
    if not words:
        raise ConfigError("--mcp needs a declared server's name or a command")
    if len(words) == 1 and os.sep not in words[0] and not _on_path(words[0]):
        names = ", ".join(config) or "none declared (mcp_servers: in the config file)"
        raise ConfigError(f"--mcp {given!r} is no declared server ({names}) nor a command found")
    return ServerSpec(short_name(words), words[0], tuple(words[1:]))


LAUNCHERS = ("npx", "uvx", "bunx", "pipx", "node", "deno", "uv", "docker", "python")


def short_name(words: list[str]) -> str:
    """A server's name from its command line: the module, script or package it runs
    (``python -m mcp_server_time``: time; ``npx -y @scope/server-git``: git)."""
    program = os.path.basename(words[0])
    if "-m" in words[:-1]:
        named = words[words.index("-m") + 1]
    elif program.startswith(LAUNCHERS):
        named = next((w for w in words[1:] if not w.startswith("-") and w != "run"), program)
    else:
        named = program
    named = os.path.basename(named).split("@")[0] or named.split("/")[-1]
    named = os.path.splitext(named)[0] if named.endswith((".py", ".js", ".ts")) else named
    for prefix in ("mcp_server_", "mcp-server-", "server-", "mcp-"):
        named = named.removeprefix(prefix)
    named = named.removesuffix("_server").removesuffix("-server")
    return NAME.sub("_", named).strip("_") or "mcp"


def _on_path(command: str) -> bool:
    import shutil

    return shutil.which(command) is not None


@dataclass
class McpServer:
    """One server this process talks to: its state, its tools, its calls."""

    spec: ServerSpec
    state: str = "stopped"  # stopped, running, or what went wrong
    tools: list[Tool] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # tools whose schema cannot be kept
    _loop: asyncio.AbstractEventLoop | None = None
    _client: Any = None
    _done: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _closed: Future[None] | None = None
    # a stdio server's own stderr: kept off the chat, its last line told if it fails
    _errlog: Any = None
    crashed: bool = False  # it went away by itself: the next call starts it again

    @property
    def running(self) -> bool:
        return self.state == "running"

    def start(self) -> None:
        """Connect (starting the server's process for stdio) and list its tools; a
        ``ConfigError`` in one line when it cannot be done. Once running, nothing."""
        if self.running:
            return
        try:
            import mcp  # noqa: F401
        except ImportError:
            raise ConfigError(f"MCP servers need the mcp package: {INSTALL}") from None
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_forever, daemon=True, name=f"mcp {self.spec.name}"
        )
        thread.start()
        self._loop, self._thread = loop, thread
        ready: Future[list[Any]] = Future()
        self._closed = asyncio.run_coroutine_threadsafe(self._hold(ready), loop)
        try:
            listed = ready.result(START_TIMEOUT)
        except FutureTimeout:
            self._abort(f"did not start within {START_TIMEOUT:g} s")
            raise ConfigError(self._failure()) from None
        except BaseException as error:  # the SDK's and the OS's, in many kinds
            self._abort(_reason(error))
            raise ConfigError(self._failure()) from None
        self.tools, self.left_out = _usable(listed)
        self.state = "running"
        self.crashed = False
        STARTED[self.spec] = self

    def _abort(self, state: str) -> None:
        """End a start that failed: the task holding the connection is cancelled (the
        SDK then ends the server's process) before the loop stops."""
        if self._closed is not None:
            self._closed.cancel()
            with contextlib.suppress(BaseException):
                wait([self._closed], STOP_TIMEOUT + 2)
        self._end(state)

    async def _hold(self, ready: Future[list[Any]]) -> None:
        """The one task that opens the connection, keeps it open and closes it (the SDK's
        cancel scopes must be left by the task that entered them)."""
        from mcp import Client

        self._done = asyncio.Event()
        try:
            async with Client(self._transport(), read_timeout_seconds=CALL_TIMEOUT) as client:
                self._client = client
                listed: list[Any] = []
                cursor = None
                while len(listed) < MAX_TOOLS:
                    page = await client.list_tools(cursor=cursor)
                    listed += page.tools
                    cursor = page.next_cursor
                    if not cursor:
                        break
                ready.set_result(listed[:MAX_TOOLS])
                await self._done.wait()
        except BaseException as error:
            if not ready.done():
                ready.set_exception(error)
            elif self.state == "running":
                self.state = f"stopped: {_reason(error)}"
            if not isinstance(error, Exception):
                raise
        finally:
            self._client = None

    def _transport(self) -> Any:
        spec = self.spec
        if spec.url is not None:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            http = httpx2.AsyncClient(headers=dict(spec.headers), timeout=CALL_TIMEOUT)
            return streamable_http_client(spec.url, http_client=http)
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        # the SDK hands a server a minimal environment (HOME, PATH, ...); minichat's own
        # settings and the user's folders go too, so `minichat mcp` serves the same data
        passed = {k: v for k, v in os.environ.items() if k.startswith(PASSED_ENV)}
        parameters = StdioServerParameters(
            command=spec.command or "", args=list(spec.args), env={**passed, **dict(spec.env)}
        )
        if self._errlog is not None:
            self._errlog.close()
        self._errlog = tempfile.TemporaryFile(  # noqa: SIM115 - open for the server's life
            "w+", encoding="utf-8", errors="replace"
        )
        return stdio_client(parameters, errlog=self._errlog)

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        """Call tool ``name``; its result as text for the model (``ToolError`` says in
        words what went wrong: the server's error, a hang, a server gone)."""
        if self.crashed:  # it died since the last call: one try to start it again
            try:
                self.start()
            except ConfigError as error:
                raise ToolError(str(error)) from None
        if not self.running or self._loop is None or self._client is None:
            raise ToolError(f"the MCP server {self.spec.name} is {self.state}; start it again")
        pending = asyncio.run_coroutine_threadsafe(
            self._client.call_tool(name, arguments), self._loop
        )
        try:
            result = pending.result(CALL_TIMEOUT)
        except FutureTimeout:
            pending.cancel()
            raise ToolError(
                f"{name} took longer than {CALL_TIMEOUT:g} s and was given up"
            ) from None
        except Exception as error:
            if not self._gone(error):  # an error reply: the tool's, the server is fine
                raise ToolError(_reason(error).removeprefix("failed: ")) from None
            reason = _reason(error)
            self.stop()
            self.state, self.crashed = f"stopped ({reason})", True
            raise ToolError(
                f"the MCP server {self.spec.name} stopped ({reason}); the next call to one "
                "of its tools starts it again"
            ) from None
        text = result_text(result)
        if getattr(result, "is_error", False):
            raise ToolError(text or "the server reported an error")
        return text

    def _gone(self, error: Exception) -> bool:
        """Whether ``error`` means the connection is lost (else it is an error reply)."""
        from mcp.shared.exceptions import MCPError

        if self._closed is None or self._closed.done():
            return True
        return not isinstance(error, MCPError) or error.code == CONNECTION_CLOSED

    def functions(self, names: Mapping[str, str]) -> list[ToolFunction]:
        """The server's tools as the toolbox runs them, named as ``names`` says."""
        out = []
        for tool in self.tools:
            shown = names[tool.name]

            def run(arguments: dict[str, Any], original: str = tool.name) -> str:
                return self.call(original, arguments)

            renamed = Tool(shown, tool.description, tool.parameters)
            out.append(ToolFunction(renamed, run, changes=not self.spec.trusted))
        return out

    def stop(self) -> None:
        """Close the connection (the SDK ends a stdio server's process) and the loop."""
        loop, done = self._loop, self._done
        if loop is not None and done is not None and self._closed is not None:
            loop.call_soon_threadsafe(done.set)
            with contextlib.suppress(BaseException):  # closing: what went wrong no longer matters
                self._closed.result(STOP_TIMEOUT + 2)
        self._end("stopped")
        self.crashed = False
        if self._errlog is not None:
            self._errlog.close()
            self._errlog = None

    def _end(self, state: str) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
        self._loop = self._thread = self._client = None
        self.state = state
        STARTED.pop(self.spec, None)

    def _failure(self) -> str:
        said = _last_line(self._errlog)
        told = f" (it said: {said})" if said else ""
        return f"the MCP server {self.spec.name} ({self.spec.describe()}) {self.state}{told}"


def tool_name(name: str, server: str | None = None) -> str:
    """A server's tool's name as a model and OpenAI's API take it (letters, digits, _ and
    -, at most 64), ``server__`` before it where the name alone is taken."""
    safe = NAME.sub("_", name) or "tool"
    return (f"{server}__{safe}" if server else safe)[:64]


def _last_line(log: Any) -> str:
    if log is None:
        return ""
    try:
        log.seek(0)
        lines = [line.strip() for line in log.read()[-4000:].splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    return lines[-1][:200] if lines else ""


def _usable(listed: list[Any]) -> tuple[list[Tool], list[str]]:
    tools: list[Tool] = []
    left_out: list[str] = []
    for item in listed:
        schema = item.input_schema if isinstance(item.input_schema, dict) else {}
        # arguments the tool does not name are none the model should make up: most
        # servers' schemas leave additionalProperties out, which would let the grammar
        # take any key
        schema = {"type": "object", "additionalProperties": False, **schema}
        problem = schema_problem_of(schema)
        if problem:
            left_out.append(f"{item.name}: its schema {problem}")
            continue
        tools.append(Tool(str(item.name), str(item.description or ""), schema))
    return tools, left_out


def result_text(result: Any) -> str:
    """A call's result as text: its text parts, in order; other parts named; the
    structured content as JSON when there is no text."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(block.text))
        elif kind == "resource" and hasattr(block.resource, "text"):
            parts.append(str(block.resource.text))
        else:
            parts.append(f"[{kind or 'part'}: {getattr(block, 'mime_type', None) or 'not text'}]")
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False))
    text = "\n".join(parts)
    if len(text) > MAX_RESULT_CHARS:
        text = f"{text[:MAX_RESULT_CHARS]}\n[cut: {MAX_RESULT_CHARS} of {len(text)} characters]"
    return text


def _reason(error: BaseException) -> str:
    """One line for what went wrong, an exception group's first error within it."""
    while getattr(error, "exceptions", None):  # an exception group (3.11's, or anyio's)
        error = error.exceptions[0]  # type: ignore[attr-defined]
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, FileNotFoundError):
        text = f"cannot start: {error.filename or text} not found"
    return f"failed: {text[:300]}" if not text.startswith("cannot") else text


STARTED: dict[ServerSpec, McpServer] = {}  # every server running in this process


def server(spec: ServerSpec) -> McpServer:
    """The server for ``spec``, running already if it was started in this process."""
    return STARTED.get(spec) or McpServer(spec)


@atexit.register
def stop_all() -> None:
    """Stop every server started here, so none outlives minichat."""
    for running in list(STARTED.values()):
        running.stop()
