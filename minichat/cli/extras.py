"""The flags of a chat beside the model, declared once for every command that chats.

``--docs``, ``--tools``, ``--tool-choice``, ``--functions``, ``--yes``, ``--mcp``,
``--schema`` and ``--schema-multi`` (``CHAT``; ``minichat web`` takes the first three)
become one ``Extras``: checked before a model loads, applied to the session, and asked who
allows a call that may change things. ``--json`` and ``-v`` (``OUTPUT``) go with one-shot answers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from minichat.cli import oneshot
from minichat.cli.docs import DocsOption
from minichat.cli.options import Group
from minichat.errors import MinichatError
from minichat.safety.untrusted import one_line
from minichat.tools.spec import ToolCall

if TYPE_CHECKING:
    from minichat.chat.session import ChatSession
    from minichat.tools.toolbox import Approve

JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON object with stats")]
VerboseFlag = Annotated[
    bool, typer.Option("--verbose", "-v", help="print token counts and speed to stderr")
]
ToolsOption = Annotated[
    str | None,
    typer.Option(
        "--tools",
        metavar="NAME,...",
        help="tools replies may call: calculator, now, read_file, list_dir, search_docs, all",
    ),
]
ToolChoiceOption = Annotated[
    str,
    typer.Option(
        "--tool-choice",
        metavar="CHOICE",
        help="auto (the model decides), required (a call first), none, or a tool's name",
    ),
]
FunctionsOption = Annotated[
    Path | None,
    typer.Option(
        "--functions",
        metavar="FILE.py",
        help="your own Python functions as tools (each call asks first; --yes allows all)",
    ),
]
SchemaOption = Annotated[
    str | None,
    typer.Option(
        "--schema",
        metavar="SCHEMA",
        help="answer as JSON in this shape: a JSON Schema, a .json file, or 'name, age int'",
    ),
]
SchemaMultiOption = Annotated[
    str | None,
    typer.Option(
        "--schema-multi",
        metavar="SCHEMA",
        help='as --schema, a list of such objects: {"items": [...]}',
    ),
]
McpOption = Annotated[
    list[str] | None,
    typer.Option(
        "--mcp",
        metavar="NAME|'CMD ARGS'",
        help="tools from an MCP server: one declared in the config file, or a command "
        "(repeatable; each call asks first unless the server is trusted or --yes)",
    ),
]
NoLogFlag = Annotated[
    bool, typer.Option("--no-log", help="keep nothing of this chat in the chat log")
]
ContinueFlag = Annotated[
    bool,
    typer.Option("--continue", "-c", help="continue the latest logged conversation"),
]
CidOption = Annotated[
    str | None,
    typer.Option("--cid", metavar="ID", help="continue this logged conversation (minichat logs)"),
]
YesFlag = Annotated[
    bool, typer.Option("--yes", "-y", help="run tools that may change things without asking")
]


@dataclass(frozen=True)
class Extras:
    """What a chat reads and may call beside the model: --docs, --tools, --tool-choice."""

    documents: str | None = None
    tools: str | None = None
    tool_choice: str = "auto"
    functions: Path | None = None
    yes: bool = False
    schema: str | None = None
    schema_multi: str | None = None
    mcp: tuple[str, ...] = ()
    no_log: bool = False
    continue_latest: bool = False
    cid: str | None = None

    def check(self) -> None:
        """Refuse what names nothing before a model loads for nothing."""
        own: list[str] = []
        if self.functions is not None:
            from minichat.tools.functions import load_functions

            own = [f.name for f in load_functions(self.functions)]
        if self.documents:
            from minichat.chat.documents import find_documents

            find_documents(self.documents)
        if self.tools:
            from minichat.tools.builtin import builtin

            builtin([n for n in self.names() if n != "search_docs"])
        if self.tools or own or self.mcp:
            known = ("auto", "required", "none", *self.names(), *own)
            # a name among an MCP server's tools is checked once the server has started
            if self.tool_choice not in known and not self.mcp:
                raise MinichatError(
                    f"--tool-choice must be auto, required, none or one of the tools "
                    f"({', '.join([*self.names(), *own])}), got {self.tool_choice!r}"
                )
        elif self.tool_choice != "auto":
            raise MinichatError("--tool-choice goes with --tools NAME,..., --functions or --mcp")
        if self.schema is not None and self.schema_multi is not None:
            raise MinichatError("give --schema or --schema-multi, not both")
        if self.shape is not None:
            from minichat.tools.schema import read_schema

            read_schema(*self.shape)

    @property
    def shape(self) -> tuple[str, bool] | None:
        """The schema given and whether it is for a list (--schema-multi)."""
        if self.schema_multi is not None:
            return self.schema_multi, True
        return (self.schema, False) if self.schema is not None else None

    @property
    def tools_on(self) -> bool:
        return bool(self.tools or self.functions or self.mcp)

    def names(self) -> list[str]:
        return [n.strip() for n in (self.tools or "").split(",") if n.strip()]

    def apply(self, session: ChatSession, surface: str) -> None:
        """Set the chat up as the flags say: its log first (a conversation continued
        brings its model and settings), then documents, tools and the schema."""
        from minichat.log.store import ChatLog, logging_off

        session.keep_log(None if self.no_log or logging_off() else ChatLog(), surface)
        if self.continue_latest or self.cid:
            if self.no_log:
                raise MinichatError("--continue reads the chat log; leave out --no-log")
            session.continue_logged(self.cid or "latest", "--continue")
            oneshot.tell_notices(session.take_notices(), sys.stderr)
        if self.documents:
            from minichat.repl.render import embedding_progress

            with embedding_progress(self.documents) as progress:
                session.use_documents(self.documents, "--docs", progress)
            oneshot.tell_notices(session.take_notices(), sys.stderr)
        own = session.add_functions(self.functions) if self.functions is not None else []
        for given in self.mcp:
            own += session.start_mcp(given)
        oneshot.tell_notices(session.take_notices(), sys.stderr)
        if self.tools or own:
            session.use_tools([*self.names(), *own], "--tools", self.tool_choice)
        if self.shape is not None:
            session.use_schema(*self.shape, source="--schema")

    def approver(self) -> Approve | None:
        """Who allows a call that may change things: --yes, the user on a terminal, or
        nobody (such calls are refused)."""
        if self.yes:
            return lambda call: True
        if sys.stdin.isatty() and sys.stderr.isatty():
            return ask_approval
        return None


def ask_approval(call: ToolCall) -> bool:
    """Ask on the terminal whether a call that may change things may run."""
    from rich.console import Console
    from rich.prompt import Confirm
    from rich.text import Text

    # the name and arguments are the model's (or a file's it read): shown as they are, as
    # plain text, so none can hide words, restyle the prompt or break it; and whole, so
    # padding cannot push what matters (a path, a mode) past a cut
    question = Text(f"run {one_line(call.name, None)}({one_line(call.arguments, None)})?")
    return Confirm.ask(question, console=Console(stderr=True), default=False)


@dataclass(frozen=True)
class Output:
    """How a one-shot answer is written: as one JSON object, and with its numbers."""

    as_json: bool = False
    verbose: bool = False


def _extras(values: dict[str, Any]) -> Extras:
    return Extras(**{**values, "mcp": tuple(values.get("mcp") or ())})


def _output(values: dict[str, Any]) -> Output:
    return Output(**values)


CHAT = Group(
    {
        "documents": DocsOption,
        "tools": ToolsOption,
        "tool_choice": ToolChoiceOption,
        "functions": FunctionsOption,
        "yes": YesFlag,
        "mcp": McpOption,
        "no_log": NoLogFlag,
        "continue_latest": ContinueFlag,
        "cid": CidOption,
        "schema": SchemaOption,
        "schema_multi": SchemaMultiOption,
    },
    _extras,
    {"tool_choice": "auto", "yes": False, "no_log": False, "continue_latest": False},
)
OUTPUT = Group(
    {"as_json": JsonFlag, "verbose": VerboseFlag}, _output, {"as_json": False, "verbose": False}
)
