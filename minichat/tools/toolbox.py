"""Tools in a chat: which a reply may call, running the calls, and the rounds between.

A ``Toolbox`` holds the tools a chat turned on and how the model may use them.
A message is answered in rounds: the model replies with words or with calls;
each call's arguments are checked against its tool's schema, then it runs (with a
time limit: a tool whose code runs in another process has that process killed; an
error goes back to the model as the call's result, in words) and its result joins
the conversation as a ``tool`` message; then the model replies again, seeing the
results. The first round offers the tools as the user chose (``auto``,
``required``, ``none`` or one tool's name), the later ones ``auto``, and the last
``none``, so a message ends in words after at most ``max_rounds`` rounds of calls.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from minichat.errors import ConfigError, MinichatError
from minichat.tools.arguments import check
from minichat.tools.base import ToolError, ToolFunction
from minichat.tools.functions import StoppableFunction
from minichat.tools.spec import Tool, ToolCall, Tools

MAX_ROUNDS = 5
TIMEOUT = 30.0  # seconds a call may take before the model is told it timed out


@dataclass(frozen=True)
class Ran:
    """One call as it went: what the model asked, what it got back, how long it took."""

    call: ToolCall
    result: str
    seconds: float
    failed: bool = False

    def arguments(self) -> Any:
        try:
            return json.loads(self.call.arguments)
        except ValueError:
            return self.call.arguments

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.call.name,
            "arguments": self.arguments(),
            "result": self.result,
            "seconds": round(self.seconds, 4),
            "failed": self.failed,
        }

    def line(self) -> str:
        """``calculator({"expression": "2+2"}) → 4 (0.00 s)``, for a person."""
        result = self.result if len(self.result) <= 200 else self.result[:200] + "…"
        return f"{self.call.name}({self.call.arguments}) → {result} ({self.seconds:.2f} s)"


Approve = Callable[[ToolCall], "bool | None"]  # yes, no, or None: nobody to ask


@dataclass
class Toolbox:
    functions: dict[str, ToolFunction]
    choice: str = "auto"
    max_rounds: int = MAX_ROUNDS
    timeout: float = TIMEOUT
    # tools offered whose calls the caller runs, not this toolbox (a server's client's)
    external: frozenset[str] = frozenset()

    def passes_on(self, calls: Sequence[ToolCall]) -> bool:
        """Whether these calls are the caller's to run (any of them is an external tool's)."""
        return any(call.name in self.external for call in calls)

    def __post_init__(self) -> None:
        self.offer(0)  # a choice naming no tool here is refused now, not mid-chat

    @property
    def names(self) -> list[str]:
        return list(self.functions)

    def offer(self, round_number: int) -> Tools:
        """The tools as round ``round_number`` (from 0) offers them."""
        if round_number == 0:
            choice = self.choice
        else:
            choice = "none" if round_number >= self.max_rounds else "auto"
        return Tools(tuple(f.tool for f in self.functions.values()), choice)

    def run(self, call: ToolCall, approve: Approve | None = None) -> Ran:
        """Run one call; whatever goes wrong becomes its result, for the model to read. A
        call that may change things runs only if ``approve`` (the user, asked) says yes:
        without it nobody is there to ask. Its time is the tool's own, not the time a
        user took to allow it."""
        started = [perf_counter()]
        try:
            result, failed = self._run(call, started, approve), False
        except ToolError as error:
            result, failed = f"error: {error}", True
        # half a UTF-16 pair (a remote model's "\ud800", echoed by a tool or its error) is
        # no text a tokenizer or a server takes: shown as its escape instead
        result = result.encode("utf-8", "backslashreplace").decode("utf-8")
        return Ran(call, result, perf_counter() - started[0], failed)

    def _run(self, call: ToolCall, started: list[float], approve: Approve | None) -> str:
        function = self.functions.get(call.name)
        if function is None:
            raise ToolError(
                f"there is no tool {call.name!r}; the tools are {', '.join(self.names)}"
            )
        try:
            arguments = json.loads(call.arguments or "{}")
        except (ValueError, RecursionError) as error:  # RecursionError: [[[[... nested deep
            raise ToolError(f"the arguments are not JSON: {error}") from None
        if not isinstance(arguments, dict):
            raise ToolError("the arguments must be a JSON object")
        # a remote model's calls are held to no grammar: nothing runs on arguments that
        # do not fit, and nobody is asked to allow a call that cannot run
        check(function.tool.parameters, arguments, call.name)
        verdict = approve(call) if function.changes and approve else None
        if function.changes and not verdict:
            who = "nobody was there to allow it" if verdict is None else "the user did not allow it"
            raise ToolError(f"{call.name} may change things and was not run: {who}")
        started[0] = perf_counter()
        outcome: list[str] = []
        failure: list[BaseException] = []

        def work() -> None:
            try:
                outcome.append(function.run(arguments))
            except BaseException as raised:  # reported to the model, below
                failure.append(raised)

        worker = threading.Thread(target=work, daemon=True, name=f"tool {call.name}")
        worker.start()
        try:
            worker.join(self.timeout)
        except BaseException:  # Ctrl+C while it runs: what it runs elsewhere ends too
            _stop(function)
            raise
        if worker.is_alive():  # the thread is left to end on its own; the chat goes on
            _stop(function)
            raise ToolError(f"{call.name} took longer than {self.timeout:g} s and was given up")
        if failure:
            problem = failure[0]
            if isinstance(problem, MinichatError):
                raise ToolError(str(problem))
            raise ToolError(f"{call.name} failed: {type(problem).__name__}: {problem}")
        return outcome[0]


def _stop(function: ToolFunction) -> None:
    """End a call that runs in another process (a user's ``--functions``); a tool that
    runs in this one cannot be stopped, and is left to finish."""
    if isinstance(function, StoppableFunction):
        function.stop()


def passed_on(tool: Tool) -> ToolFunction:
    """A tool the caller runs (an API client's): offered to the model, never run here."""

    def run(arguments: dict[str, Any]) -> str:
        raise ToolError(f"{tool.name} is the caller's to run")

    return ToolFunction(tool, run)


def toolbox(
    functions: Sequence[ToolFunction],
    choice: str = "auto",
    max_rounds: int = MAX_ROUNDS,
) -> Toolbox:
    if max_rounds < 1:
        raise ConfigError(f"tool rounds must be at least 1, got {max_rounds}")
    return Toolbox({f.name: f for f in functions}, choice, max_rounds)
