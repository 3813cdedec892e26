"""``--functions FILE.py``: a user's own Python functions as tools.

Each public function the file defines becomes a tool, named as the file names it:
the first paragraph of its docstring as the description, and a JSON Schema made from
its signature (``str``, ``int``, ``float``, ``bool``, lists, dicts, ``Literal``
choices; a parameter with a default is optional; one without an annotation is
text). A function's result is turned into text for the model. minichat cannot know
what a user's function changes, so each call asks for approval (``--yes`` skips it).

The file runs in a worker process of its own (``minichat.tools.worker``), one per
file and long-lived: its imports (numpy, a client library) are paid once, not per
call, and its module state lasts between calls. A call that takes too long is ended
by killing the worker (its process group: what it started too); the next call starts
another, which imports the file again. What the code prints is caught there, never
written to minichat's stdout, and its start is shown to the model after the result.
Loading the same file again reuses its worker, or restarts it if the file changed.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

from minichat.errors import ConfigError
from minichat.safety.files import read_given
from minichat.tools import worker
from minichat.tools.base import ToolError, ToolFunction
from minichat.tools.builtin import BUILTIN
from minichat.tools.spec import Tool

LOAD_TIMEOUT = 30.0  # seconds a file may take to import before it is given up
MAX_SOURCE = 1024 * 1024  # bytes: a file of functions, not a data file
MAX_REPLY = 8 * 1024 * 1024  # bytes of one line from the worker, well over what it sends
RESERVED = {*BUILTIN, "search_docs", "all"}  # the built-in tools' names, and `--tools all`
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")  # what every chat API takes as a tool's name
# the worker's own folder must not be first on its sys.path: the user's file's folder is
BOOT = (
    "import runpy, sys; sys.path[0] = sys.argv[2]; runpy.run_path(sys.argv[1], run_name='__main__')"
)


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class StoppableFunction(ToolFunction):
    """A tool whose code runs in another process; ``stop`` kills it when a call runs too
    long (the Toolbox calls it), and the next call starts it again."""

    stop: Callable[[], None] = _nothing


class Stopped(Exception):
    """The worker ended, or took too long, before it answered."""


class Worker:
    """One functions file's worker process: started on load, and again after it ended."""

    def __init__(self, path: Path, source: str, timeout: float) -> None:
        self.path, self.source, self.timeout = path, source, timeout
        self.tools: list[Tool] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one call at a time: the worker answers in order

    def load(self, source: str) -> list[Tool]:
        """Start the worker on ``source``; ``ConfigError`` if it cannot be used, and then
        the worker stays with what it had (a later call starts that again)."""
        with self._lock:
            kept = self.source
            self.stop()
            self.source = source
            try:
                self.tools = self._start()
            except ConfigError:
                self.stop()
                self.source = kept
                raise
            return self.tools

    def _start(self) -> list[Tool]:
        process = self._process
        if process is not None:  # its pipes: nobody reads them any more
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", BOOT, str(worker.__file__), str(self.path.parent)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl+C is the chat's; and a kill takes its children
            )
        except OSError as error:
            raise ConfigError(
                f"--functions: cannot start Python for {self.path}: {error}"
            ) from None
        try:
            reply = self._exchange({"source": self.source, "path": str(self.path)}, self.timeout)
        except Stopped as stopped:
            raise ConfigError(f"--functions: {self.path} {stopped}") from None
        if "error" in reply:
            raise ConfigError(f"--functions: {self.path}: {reply['error']}")
        try:
            tools = [Tool(t["name"], t["description"], t["parameters"]) for t in reply["tools"]]
        except (KeyError, TypeError):  # the file's code wrote to the worker's own channel
            raise ConfigError(
                f"--functions: {self.path}: its worker's reply was garbled; "
                "does the file write to file descriptors it did not open?"
            ) from None
        for tool in tools:
            if tool.name in RESERVED:
                raise ConfigError(
                    f"--functions: {self.path}: {tool.name} is the name of a built-in tool; "
                    "rename it"
                )
            if not NAME.fullmatch(tool.name):
                raise ConfigError(
                    f"--functions: {self.path}: {tool.name} is not a name a model can call; "
                    "use ASCII letters, digits and _ (at most 64)"
                )
        return tools

    def _exchange(self, request: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send one request and read its reply, waiting at most ``timeout`` seconds (a
        file's import: a call's time is the Toolbox's to keep, and ``stop`` ends it)."""
        importing = " while importing" if "source" in request else ""
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            process.stdin.flush()
        except OSError:
            pass  # it has ended: reading says how
        line = _read_line(process.stdout, timeout)
        if line is None:
            self.stop()
            raise Stopped(f"took longer than {timeout:g} s to import and was given up")
        if not line.endswith(b"\n"):
            too_long = len(line) >= MAX_REPLY
            self.stop()
            if too_long:
                raise Stopped(f"sent a reply over {MAX_REPLY // 1024 // 1024} MiB")
            raise Stopped(f"stopped{importing} ({self._ending()})")
        try:
            reply: dict[str, Any] = json.loads(line)
        except ValueError:
            self.stop()
            raise Stopped("sent a reply that is not JSON") from None
        return reply

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                try:
                    self._start()
                except ConfigError as error:
                    raise ToolError(f"{name} could not be started again: {error}") from None
            try:
                reply = self._exchange({"call": name, "arguments": arguments})
            except Stopped as stopped:
                raise ToolError(
                    f"the process running {name} {stopped}; the next call starts it again"
                ) from None
        if "error" in reply:
            raise ToolError(str(reply["error"]))
        return str(reply.get("result"))

    def _ending(self) -> str:
        code = self._process.returncode if self._process is not None else None
        if code is not None and code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                pass
        return f"exit code {code}"

    def stop(self) -> None:
        """Kill the worker and whatever it started; the next call starts a new one."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)  # its own group, from start_new_session
        except (AttributeError, OSError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # not reaped yet: poll() will
            process.wait(5)


def _read_line(stream: IO[bytes], timeout: float | None) -> bytes | None:
    """A line from ``stream``, or None when ``timeout`` passes first (the caller then kills
    the writer, which ends the read)."""
    if timeout is None:
        return stream.readline(MAX_REPLY)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(stream.readline(MAX_REPLY)), daemon=True)
    reader.start()
    reader.join(timeout)
    return got[0] if got else None


_workers: dict[Path, Worker] = {}
_registry = threading.Lock()


@atexit.register
def stop_workers() -> None:
    """Kill every worker (at exit, or after a test); a later call starts its own again."""
    with _registry:
        workers = list(_workers.values())
    for each in workers:
        each.stop()


def load_functions(path: Path, timeout: float = LOAD_TIMEOUT) -> list[ToolFunction]:
    """The public functions ``path`` defines, as tools; ``ConfigError`` in one line when
    the file cannot be read, does not import (in ``timeout`` seconds), or offers none.
    The same file again is the same worker: started again only if the file changed."""
    source = read_source(path)
    with _registry:
        key = path.resolve()
        found = _workers.get(key)
        if found is None:
            found = _workers[key] = Worker(path, source, timeout)
            try:
                tools = found.load(source)
            except ConfigError:
                del _workers[key]
                raise
        elif found.source != source:
            found.timeout = timeout
            tools = found.load(source)
        else:
            tools = found.tools
    return [
        StoppableFunction(tool, partial(found.call, tool.name), changes=True, stop=found.stop)
        for tool in tools
    ]


def read_source(path: Path) -> str:
    """The file's text, as Python would decode it; one line if it is not a readable file."""
    data = read_given(path, MAX_SOURCE, "--functions", "a Python file of functions")
    try:
        return importlib.util.decode_source(data)  # UTF-8, or what its coding line says
    except (SyntaxError, UnicodeDecodeError, LookupError) as error:
        raise ConfigError(
            f"--functions: {path} is not UTF-8 text ({worker.brief(error)}); save it as UTF-8"
        ) from None


def as_tool(function: Callable[..., Any]) -> ToolFunction:
    """A function of minichat's own process as a tool, run in that process (for code
    minichat trusts: a user's file goes through ``load_functions``)."""
    try:
        described = worker.describe(function)
    except worker.Unusable as error:
        raise ConfigError(str(error)) from None
    tool = Tool(described["name"], described["description"], described["parameters"])

    def run(arguments: dict[str, Any]) -> str:
        try:
            result = worker.call(function, arguments)
        except TypeError as error:  # arguments the signature does not take
            raise ToolError(f"{function.__name__}: {error}") from None
        return "None" if result is None else result

    return ToolFunction(tool, run, changes=True)
