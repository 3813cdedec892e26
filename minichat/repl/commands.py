"""The slash commands: one table, each command a small function.

``COMMANDS`` is the only list of what the REPL understands; ``/help`` and tab
completion are generated from it, and the parameter commands (``/temp``, ...)
from ``minichat.settings.params``. Every operation is the chat core's (``ChatSession``);
a handler only parses its argument and shows the outcome. It gets the REPL (as
a ``Shell``) and the text after the command; a bad argument raises ``UsageError``
(the REPL prints the usage), and nothing a command refuses touches the
conversation.
"""

from __future__ import annotations

import difflib
import json
import shlex
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from minichat.chat.report import FIGURES, rows
from minichat.chat.session import ChatSession
from minichat.errors import ConfigError
from minichat.retrieval.collection import OFF, Collection, Progress
from minichat.safety.untrusted import one_line
from minichat.settings.params import ALIASES, PARAMS, Param, stop_text
from minichat.tools.builtin import BUILTIN
from minichat.tools.toolbox import MAX_ROUNDS


class Shell(Protocol):
    """What a command may use of the REPL: the chat, and ways to show things."""

    session: ChatSession

    def note(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None: ...
    def show_history(self) -> None: ...
    def retry(self) -> bool: ...
    def indexing(self, label: str) -> AbstractContextManager[Progress]: ...


class UsageError(Exception):
    """The command's argument is missing or wrong; the message says why."""


class Refused(Exception):
    """The command cannot be done now (nothing to undo, ...); the message says why."""


class ExitRepl(Exception):
    """Raised by /exit and /quit."""


@dataclass(frozen=True)
class Command:
    name: str
    usage: str  # the argument part, e.g. "X" or "[FILE]"
    help: str
    run: Callable[[Shell, str], None]
    completes: str = ""  # what tab completes after it: params, models, files, commands, stop
    aliases: tuple[str, ...] = ()  # other names that run it (a parameter's full name)


def parameter_command(field: Param) -> Command:
    """The slash command that sets one parameter, from its row in ``minichat.settings.params``."""

    def run(shell: Shell, args: str) -> None:
        if not args.strip():
            now = shell.session.config.to_dict()[field.name]
            raise UsageError(f"give a value; now {field.name} = {now}")
        _apply(shell, {field.name: args}, f"/{field.command}")

    aliases = (field.name,) if field.short else ()
    return Command(field.command, field.usage, field.help, run, aliases=aliases)


def _apply(shell: Shell, texts: dict[str, str], source: str) -> None:
    try:
        names = shell.session.set_from_text(source, texts)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    shell.note(", ".join(f"{f} = {shell.session.config.to_dict()[f]!r}" for f in names))


def cmd_set(shell: Shell, args: str) -> None:
    pairs = {}
    try:
        items = shlex.split(args)
    except ValueError as error:  # an unclosed quote
        raise UsageError(f"cannot read {args!r}: {error}") from None
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in ALIASES:
            known = ", ".join(sorted(ALIASES))
            raise UsageError(f"expected key=value with a key among {known}, got {item!r}")
        pairs[key] = value
    if not pairs:
        raise UsageError("give at least one key=value")
    _apply(shell, pairs, "/set")


def cmd_stop(shell: Shell, args: str) -> None:
    action, _, text = args.strip().partition(" ")
    session = shell.session
    try:
        if action == "add" and text:
            session.set_parameters("/stop", stop=(*session.config.stop, stop_text(text)))
        elif action == "clear" and not text:
            session.set_parameters("/stop", stop=())
        elif action:
            raise UsageError("use /stop add TEXT, /stop clear, or /stop alone to list them")
    except ConfigError as error:
        raise UsageError(str(error)) from None
    shell.note("stop sequences: " + (", ".join(map(repr, session.config.stop)) or "none"))


def cmd_params(shell: Shell, args: str) -> None:
    table = [
        (name, value if name == "model" else repr(value), source)
        for name, value, source in shell.session.parameters()
    ]
    shell.table(("parameter", "value", "from"), table)


def cmd_system(shell: Shell, args: str) -> None:
    if args.strip():
        shell.session.set_system(args, "/system")
    system = shell.session.conversation.system
    shell.note(f"system prompt: {system}" if system else "no system prompt (the model's default)")


def cmd_model(shell: Shell, args: str) -> None:
    name = args.strip()
    if not name:
        raise UsageError(f"give a model name; now {shell.session.describe()}")
    shell.note(f"loading {name}...")
    shell.session.swap_model(name)  # a MinichatError keeps the old backend and is printed
    kept = len(shell.session.conversation.messages)
    shell.note(f"now {shell.session.describe()}; {kept} messages kept")


def cmd_adapter(shell: Shell, args: str) -> None:
    target = args.strip()
    session = shell.session
    if not target:
        adapter = session.adapter_in_use
        shell.note(f"adapter: {adapter or 'none'} (setting: {session.adapter})")
        return
    shell.note(f"loading {session.model_id} with adapter {target}...")
    session.use_adapter(target)  # a MinichatError keeps the old backend and is printed
    kept = len(session.conversation.messages)
    shell.note(f"now {session.describe()}; {kept} messages kept")


def cmd_models(shell: Shell, args: str) -> None:
    from minichat.catalog import list_models

    table = [(m.name, m.backend, m.description if m.available else m.note) for m in list_models()]
    shell.table(("model", "backend", "description"), table)
    shell.note(f"in use: {shell.session.describe()}")


def cmd_clear(shell: Shell, args: str) -> None:
    shell.session.clear()
    shell.note("new conversation (system prompt and parameters kept)")


def cmd_undo(shell: Shell, args: str) -> None:
    if not shell.session.undo():
        raise Refused("nothing to undo")
    shell.note("removed the last exchange")


def cmd_retry(shell: Shell, args: str) -> None:
    if not shell.retry():
        raise Refused("nothing to retry")


def cmd_save(shell: Shell, args: str) -> None:
    path = shell.session.save(args)
    shell.note(f"saved {len(shell.session.conversation.messages)} messages to {path}")


def cmd_load(shell: Shell, args: str) -> None:
    if not args.strip():
        raise UsageError("give the file to load")
    path = shell.session.load(args)
    shell.show_history()
    shell.note(f"loaded {len(shell.session.conversation.messages)} messages from {path}")


def cmd_history(shell: Shell, args: str) -> None:
    log = shell.session.log
    if log is None:
        raise Refused("the chat log is off in this chat (--no-log, MINICHAT_LOG=0, logs off)")
    count = int(args) if args.strip().isdigit() else 10
    rows = log.conversations(count)
    if not rows:
        shell.note("nothing logged yet")
        return
    now = shell.session.log_id
    shell.table(
        ["id", "last", "model", "exchanges", "first message"],
        [
            [
                r["id"] + (" (this one)" if r["id"] == now else ""),
                r["updated"][:16],
                r["model"],
                str(r["exchanges"]),
                one_line(r["first"] or "", 60),
            ]
            for r in rows
        ],
    )


def cmd_resume(shell: Shell, args: str) -> None:
    if not args.strip():
        raise UsageError("give a conversation's id (or its start): /history lists them")
    found = shell.session.continue_logged(args.strip())
    shell.show_history()
    shell.note(f"continued logged conversation {found}")


def cmd_stats(shell: Shell, args: str) -> None:
    session = shell.session
    shell.table(("", *FIGURES.values()), rows(session.last_stats, session.totals))


def cmd_help(shell: Shell, args: str) -> None:
    name = args.strip().lstrip("/")
    if name:
        command = find(name)
        shell.note(f"/{command.name} {command.usage}".rstrip() + f"  {_does(command)}")
        return
    shell.table(
        ("command", "does"), [(f"/{c.name} {c.usage}".rstrip(), _does(c)) for c in COMMANDS]
    )
    shell.note('Enter sends; Esc+Enter (or Alt+Enter) adds a line; """ starts and ends a block.')


def _does(command: Command) -> str:
    also = ", ".join(f"/{alias}" for alias in command.aliases)
    return f"{command.help} (also {also})" if also else command.help


def cmd_docs(shell: Shell, args: str) -> None:
    target = args.strip()
    session = shell.session
    if target == OFF:
        session.use_documents(None)
        shell.note("replies no longer read documents")
        return
    if target:
        shell.note(f"opening {target}...")
        with shell.indexing(target) as progress:
            session.use_documents(target, progress=progress)
    documents = session.documents
    if documents is None:
        names = ", ".join(Collection.names()) or "none yet"
        shell.note(f"replies read no documents; collections: {names}")
        return
    size = f"{len(documents.index)} passages"
    shell.note(f"replies read {documents.label} ({size}); the best {documents.k} go with each")


def cmd_sources(shell: Shell, args: str) -> None:
    last = shell.session.last
    if last is None or not last.sources:
        raise Refused("the last reply read no documents (/docs NAME|PATH turns them on)")
    for line, hit in zip(last.source_labels, last.sources, strict=True):
        shell.note(f"{line}  score {hit.score:.4f}")
        shell.note(hit.chunk.text.strip())


def cmd_tools(shell: Shell, args: str) -> None:
    session = shell.session
    words = args.split()
    box = session.toolbox
    now = box.names if box else []
    wanted: list[str] | None = None
    if words and words[0] in ("on", "add"):
        wanted = [*now, *(w for w in words[1:] if w not in now)]
    elif words and words[0] == "rm":
        wanted = [n for n in now if n not in words[1:]]
    if words == ["off"]:
        session.use_tools(None)
    elif wanted is not None:  # the choice and the rounds stay as they were, where they can
        choice = (
            box.choice if box and box.choice in ("auto", "required", "none", *wanted) else "auto"
        )
        rounds = box.max_rounds if box else MAX_ROUNDS
        session.use_tools(wanted, "/tools", choice, rounds)
    elif words:
        raise UsageError("use /tools on NAME..., /tools rm NAME..., /tools off, or /tools alone")
    names = session.toolbox.names if session.toolbox else []
    served = {tool for row in session.servers.rows() for tool in row.tools}
    own = [n for n in session.functions if n not in served]
    adapter = session.adapter_in_use
    shown = f"; adapter {adapter}" if adapter else ""  # the tool-use one comes with tools
    known = ", ".join([*BUILTIN, "search_docs", *own])
    shell.note(f"tools on: {', '.join(names) or 'none'}; the tools: {known}{shown}")
    for row in session.servers.rows():
        if row.tools:
            shell.note(f"MCP server {row.name}: {', '.join(row.tools)}")


def cmd_mcp(shell: Shell, args: str) -> None:
    session = shell.session
    verb, _, rest = args.strip().partition(" ")
    rest = rest.strip()
    if verb == "start" and rest:
        started = session.start_mcp(rest)
        box = session.toolbox
        now = box.names if box else []
        choice = box.choice if box else "auto"
        rounds = box.max_rounds if box else MAX_ROUNDS
        session.use_tools([*now, *(n for n in started if n not in now)], "/mcp", choice, rounds)
        shell.note(f"tools on from the MCP server: {', '.join(started) or 'none'}")
    elif verb == "stop" and rest:
        session.stop_mcp(rest)
        shell.note(f"MCP server {rest} stopped; its tools are off")
    elif verb:
        raise UsageError("use /mcp start NAME|'CMD ARGS', /mcp stop NAME, or /mcp alone")
    rows = session.servers.rows()
    if not rows:
        shell.note("no MCP servers: declare them under mcp_servers: in the config file, or")
        shell.note("/mcp start 'CMD ARGS' starts one (python -m mcp_server_time, npx ...)")
        return
    shell.table(
        ["server", "reached by", "state", "tools on"],
        [
            [r.name + (" (trusted)" if r.trusted else ""), r.reached, r.state, ", ".join(r.tools)]
            for r in rows
        ],
    )


def cmd_schema(shell: Shell, args: str) -> None:
    session = shell.session
    given = args.strip()
    if given == "off":
        session.use_schema(None)
    elif given:
        session.use_schema(given)
    if session.schema is None:
        shell.note("answers are free text; /schema SCHEMA holds them to a JSON Schema")
    else:
        shell.note(f"answers are JSON in this shape: {json.dumps(session.schema)}")


def cmd_exit(shell: Shell, args: str) -> None:
    raise ExitRepl


COMMANDS: tuple[Command, ...] = (
    Command(
        "help", "[COMMAND]", "list the commands, or show one command's usage", cmd_help, "commands"
    ),
    *(parameter_command(field) for field in PARAMS if field.name != "stop"),
    Command(
        "set", "KEY=VALUE ...", "set several parameters (short or long names)", cmd_set, "params"
    ),
    Command("stop", "[add TEXT | clear]", "list, add or clear stop sequences", cmd_stop, "stop"),
    Command("params", "", "every parameter and where its value came from", cmd_params),
    Command("system", "[TEXT]", "set or show the system prompt", cmd_system),
    Command("model", "NAME", "swap the model, keeping the conversation", cmd_model, "models"),
    Command("models", "", "list the models", cmd_models),
    Command(
        "adapter",
        "[DIR|NAME|off|auto]",
        "merge a LoRA adapter into the model, keeping the conversation",
        cmd_adapter,
        "files",
    ),
    Command("clear", "", "new conversation; keeps system prompt and parameters", cmd_clear),
    Command("undo", "", "remove the last exchange", cmd_undo),
    Command("retry", "", "ask the last question again for a new reply", cmd_retry),
    Command("save", "[FILE]", "save conversation, parameters and model as JSON", cmd_save, "files"),
    Command("load", "FILE", "load a saved chat", cmd_load, "files"),
    Command(
        "history", "[N]", "the latest logged conversations (minichat logs has more)", cmd_history
    ),
    Command("resume", "ID", "continue a logged conversation, as /load does a file", cmd_resume),
    Command("stats", "", "token counts and speed, last turn and session", cmd_stats),
    Command(
        "docs",
        "[NAME|PATH|off]",
        "answer from documents, or stop; alone: what is in use",
        cmd_docs,
        "docs",
    ),
    Command("sources", "", "the passages the last reply read, in full", cmd_sources),
    Command(
        "tools",
        "[on NAME... | rm NAME... | off]",
        "tools replies may call; alone: which",
        cmd_tools,
        "tools",
    ),
    Command(
        "mcp",
        "[start NAME|'CMD ARGS' | stop NAME]",
        "MCP servers: start one (its tools go on), stop one; alone: each and its state",
        cmd_mcp,
    ),
    Command(
        "schema",
        "[JSON | FILE.json | 'name, age int' | off]",
        "answer as JSON in a JSON Schema's shape, or stop; alone: which",
        cmd_schema,
    ),
    Command("exit", "", "leave (Ctrl+D too)", cmd_exit),
    Command("quit", "", "leave", cmd_exit),
)
BY_NAME = {name: c for c in COMMANDS for name in (c.name, *c.aliases)}


def find(name: str) -> Command:
    if name in BY_NAME:
        return BY_NAME[name]
    close = difflib.get_close_matches(name, list(BY_NAME), n=1)
    hint = f" — did you mean /{close[0]}?" if close else "; /help lists them"
    raise UsageError(f"unknown command /{name}{hint}")


def dispatch(shell: Shell, line: str) -> None:
    """Run one slash command line; ``ExitRepl`` propagates, usage errors are shown."""
    name, _, args = line.strip()[1:].partition(" ")
    try:
        command = find(name)
    except UsageError as error:
        shell.warn(str(error))
        return
    try:
        command.run(shell, args)
    except Refused as error:
        shell.warn(str(error))
    except UsageError as error:
        shell.warn(f"{error}\nusage: /{command.name} {command.usage}".rstrip())
