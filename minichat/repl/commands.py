"""The slash commands: one table, each command a small function.

``COMMANDS`` is the only list of what the REPL understands; ``/help`` and tab
completion are generated from it. A handler gets the REPL and the text after
the command; a bad argument raises ``UsageError`` (the REPL prints the usage),
and nothing a command refuses touches the conversation.
"""

from __future__ import annotations

import ast
import difflib
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from minichat.config import FIELD_NAMES, coerce
from minichat.errors import ConfigError
from minichat.paths import data_dir

if TYPE_CHECKING:
    from minichat.repl.loop import Repl


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
    run: Callable[[Repl, str], None]
    completes: str = ""  # what tab completes after it: params, models, files, commands, stop


# Short commands for single parameters, and the GenerationConfig field each sets.
PARAMETER_COMMANDS = {
    "temp": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "max_tokens": "max_new_tokens",
    "repeat": "repetition_penalty",
    "seed": "seed",
}
PARAMETER_NAMES = {**PARAMETER_COMMANDS, **{name: name for name in FIELD_NAMES}}


def _set_parameter(field: str) -> Callable[[Repl, str], None]:
    def run(repl: Repl, args: str) -> None:
        if not args.strip():
            raise UsageError(f"give a value; now {field} = {repl.session.config.to_dict()[field]}")
        _apply(repl, {field: args}, f"/{_short(field)}")

    return run


def _short(field: str) -> str:
    return next((short for short, long in PARAMETER_COMMANDS.items() if long == field), field)


def _apply(repl: Repl, texts: dict[str, str], source: str) -> None:
    try:
        values = {field: coerce(field, text) for field, text in texts.items()}
        repl.session.set_parameters(source, **values)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    repl.note(", ".join(f"{f} = {repl.session.config.to_dict()[f]!r}" for f in values))


def cmd_set(repl: Repl, args: str) -> None:
    pairs = {}
    try:
        items = shlex.split(args)
    except ValueError as error:  # an unclosed quote
        raise UsageError(f"cannot read {args!r}: {error}") from None
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in PARAMETER_NAMES:
            known = ", ".join(sorted(PARAMETER_NAMES))
            raise UsageError(f"expected key=value with a key among {known}, got {item!r}")
        pairs[PARAMETER_NAMES[key]] = value
    if not pairs:
        raise UsageError("give at least one key=value")
    _apply(repl, pairs, "/set")


def cmd_stop(repl: Repl, args: str) -> None:
    action, _, text = args.strip().partition(" ")
    stops = repl.session.config.stop
    if action == "add" and text:
        repl.session.set_parameters("/stop", stop=(*stops, stop_text(text)))
    elif action == "clear" and not text:
        repl.session.set_parameters("/stop", stop=())
    elif action:
        raise UsageError("use /stop add TEXT, /stop clear, or /stop alone to list them")
    repl.note("stop sequences: " + (", ".join(map(repr, repl.session.config.stop)) or "none"))


def stop_text(text: str) -> str:
    """The text as typed, or a quoted Python string for escapes: "\\nUser:"."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError) as error:
            raise UsageError(f"cannot read the quoted text {text}: {error}") from None
        if not isinstance(value, str) or not value:
            raise UsageError("a stop sequence must be non-empty text")
        return value
    return text


def cmd_params(repl: Repl, args: str) -> None:
    session = repl.session
    rows = [("model", session.backend.model_id, session.sources.get("model", "default"))]
    rows.append(
        ("system", repr(session.conversation.system), session.sources.get("system", "default"))
    )
    rows += [
        (k, repr(v), session.sources.get(k, "default")) for k, v in session.config.to_dict().items()
    ]
    repl.table(("parameter", "value", "from"), rows)


def cmd_system(repl: Repl, args: str) -> None:
    if args.strip():
        repl.session.conversation.system = args.strip()
        repl.session.sources["system"] = "/system"
    system = repl.session.conversation.system
    repl.note(f"system prompt: {system}" if system else "no system prompt (the model's default)")


def cmd_model(repl: Repl, args: str) -> None:
    name = args.strip()
    if not name:
        raise UsageError(f"give a model name; now {repl.session.backend.describe()}")
    repl.note(f"loading {name}...")
    repl.session.swap_model(name)  # a MinichatError keeps the old backend and is printed
    kept = len(repl.session.conversation.messages)
    repl.note(f"now {repl.session.backend.describe()}; {kept} messages kept")


def cmd_models(repl: Repl, args: str) -> None:
    from minichat.loading.registry import list_models

    rows = [(m.name, m.backend, m.description if m.available else m.note) for m in list_models()]
    repl.table(("model", "backend", "description"), rows)
    repl.note(f"in use: {repl.session.backend.describe()}")


def cmd_clear(repl: Repl, args: str) -> None:
    repl.session.clear()
    repl.note("new conversation (system prompt and parameters kept)")


def cmd_undo(repl: Repl, args: str) -> None:
    if not repl.session.conversation.undo():
        raise Refused("nothing to undo")
    repl.session.refresh_context()
    repl.note("removed the last exchange")


def cmd_retry(repl: Repl, args: str) -> None:
    if not repl.retry():
        raise Refused("nothing to retry")


def cmd_save(repl: Repl, args: str) -> None:
    path = Path(args.strip() or datetime.now().strftime("chat-%Y%m%d-%H%M%S.json")).expanduser()
    if path.parent == Path(".") and not str(path).startswith("."):  # a bare name
        path = data_dir() / "chats" / path
    repl.session.save(path)
    repl.note(f"saved {len(repl.session.conversation.messages)} messages to {path}")


def cmd_load(repl: Repl, args: str) -> None:
    if not args.strip():
        raise UsageError("give the file to load")
    path = Path(args.strip()).expanduser()
    if not path.exists() and path.parent == Path("."):  # a bare name: the /save folder
        path = data_dir() / "chats" / path
    note = repl.session.load(path)
    if note:
        repl.warn(note)
    repl.show_history()
    repl.note(f"loaded {len(repl.session.conversation.messages)} messages from {path}")


def cmd_stats(repl: Repl, args: str) -> None:
    session, rows = repl.session, []
    if session.last is not None:
        s = session.last.stats
        ttft = f"{s.time_to_first_token:.2f} s" if s.time_to_first_token is not None else "-"
        speed = f"{s.tokens_per_second:.1f}" if s.tokens_per_second else "-"
        rows.append(
            (
                "last turn",
                str(s.prompt_tokens),
                str(s.cached_tokens),
                str(s.prefilled_tokens),
                str(s.new_tokens),
                ttft,
                speed,
            )
        )
    t = session.totals
    speed = f"{t.reply_tokens / t.seconds:.1f}" if t.seconds else "-"
    prefilled = t.prompt_tokens - t.cached_tokens
    rows.append(
        (
            f"session, {t.turns} turns",
            str(t.prompt_tokens),
            str(t.cached_tokens),
            str(prefilled),
            str(t.reply_tokens),
            "-",
            speed,
        )
    )
    repl.table(
        ("", "prompt tokens", "from cache", "prefilled", "reply tokens", "first token", "tok/s"),
        rows,
    )


def cmd_help(repl: Repl, args: str) -> None:
    name = args.strip().lstrip("/")
    if name:
        command = find(name)
        repl.note(f"/{command.name} {command.usage}".rstrip() + f"  {command.help}")
        return
    repl.table(
        ("command", "does"),
        [(f"/{c.name} {c.usage}".rstrip(), c.help) for c in COMMANDS],
    )
    repl.note('Enter sends; Esc+Enter (or Alt+Enter) adds a line; """ starts and ends a block.')


def cmd_exit(repl: Repl, args: str) -> None:
    raise ExitRepl


COMMANDS: tuple[Command, ...] = (
    Command(
        "help", "[COMMAND]", "list the commands, or show one command's usage", cmd_help, "commands"
    ),
    Command("temp", "X", "temperature, 0 (greedy) to 5", _set_parameter("temperature")),
    Command("top_p", "X", "nucleus sampling mass, in (0, 1]", _set_parameter("top_p")),
    Command("top_k", "N", "keep the N most likely tokens; 0 keeps all", _set_parameter("top_k")),
    Command("max_tokens", "N", "longest reply, in tokens", _set_parameter("max_new_tokens")),
    Command("repeat", "X", "repetition penalty; 1 is off", _set_parameter("repetition_penalty")),
    Command("seed", "N|none", "fixed seed for reproducible sampling", _set_parameter("seed")),
    Command(
        "set", "KEY=VALUE ...", "set several parameters (short or long names)", cmd_set, "params"
    ),
    Command("stop", "[add TEXT | clear]", "list, add or clear stop sequences", cmd_stop, "stop"),
    Command("params", "", "every parameter and where its value came from", cmd_params),
    Command("system", "[TEXT]", "set or show the system prompt", cmd_system),
    Command("model", "NAME", "swap the model, keeping the conversation", cmd_model, "models"),
    Command("models", "", "list the models", cmd_models),
    Command("clear", "", "new conversation; keeps system prompt and parameters", cmd_clear),
    Command("undo", "", "remove the last exchange", cmd_undo),
    Command("retry", "", "ask the last question again for a new reply", cmd_retry),
    Command("save", "[FILE]", "save conversation, parameters and model as JSON", cmd_save, "files"),
    Command("load", "FILE", "load a saved chat", cmd_load, "files"),
    Command("stats", "", "token counts and speed, last turn and session", cmd_stats),
    Command("exit", "", "leave (Ctrl+D too)", cmd_exit),
    Command("quit", "", "leave", cmd_exit),
)
BY_NAME = {command.name: command for command in COMMANDS}


def find(name: str) -> Command:
    if name in BY_NAME:
        return BY_NAME[name]
    close = difflib.get_close_matches(name, list(BY_NAME), n=1)
    hint = f" — did you mean /{close[0]}?" if close else "; /help lists them"
    raise UsageError(f"unknown command /{name}{hint}")


def dispatch(repl: Repl, line: str) -> None:
    """Run one slash command line; ``ExitRepl`` propagates, usage errors are shown."""
    name, _, args = line.strip()[1:].partition(" ")
    try:
        command = find(name)
    except UsageError as error:
        repl.warn(str(error))
        return
    try:
        command.run(repl, args)
    except Refused as error:
        repl.warn(str(error))
    except UsageError as error:
        repl.warn(f"{error}\nusage: /{command.name} {command.usage}".rstrip())
