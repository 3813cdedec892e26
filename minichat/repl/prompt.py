"""Reading the user's input with prompt-toolkit.

History persists across runs in the user's data directory (``--no-history``
keeps it in memory); Ctrl+R searches it. Enter sends, Esc+Enter or Alt+Enter
adds a line, bracketed paste keeps pasted text whole. Tab completes slash
commands and their arguments from the command table; inside a triple-quote
block Enter adds a line, so the block is one message and one history entry; the bottom toolbar shows
the model, the key parameters and how much of the context is in use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.application import get_app
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from minichat.catalog import completion_names
from minichat.chat.session import ChatSession
from minichat.repl.commands import BY_NAME, COMMANDS
from minichat.retrieval.collection import OFF, Collection
from minichat.settings.params import ALIASES
from minichat.settings.paths import data_dir, private_folder
from minichat.tools.builtin import BUILTIN

BLOCK = '"""'  # opens and closes a multi-line message, as in ollama
STOP_ACTIONS = ("add ", "clear")


def history_file() -> Path:
    return data_dir() / "history"


class SlashCompleter(Completer):
    """Completes /commands, then each command's argument as its table entry says."""

    def __init__(self) -> None:
        self.paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/"):
            return
        name, space, arg = text[1:].partition(" ")
        if not space:
            for command_name, command in BY_NAME.items():  # full names (aliases) too
                if command_name.startswith(name):
                    yield Completion(f"/{command_name}", -len(text), display_meta=command.help)
            return
        kind = BY_NAME[name].completes if name in BY_NAME else ""
        if kind == "files" or (kind == "docs" and arg.startswith(("/", ".", "~"))):
            yield from self.paths.get_completions(Document(arg, len(arg)), event)
            return
        word = arg.split(" ")[-1]
        choices: Iterable[str] = (
            completion_names()
            if kind == "models"
            else {
                "params": [f"{key}=" for key in ALIASES],
                "commands": [c.name for c in COMMANDS],
                "stop": STOP_ACTIONS,
                "docs": [OFF, *Collection.names()] if kind == "docs" else [],
                "tools": ["on", "rm", "off", *BUILTIN, "search_docs"],
            }.get(kind, [])
        )
        for choice in choices:
            if choice.startswith(word):
                yield Completion(choice, -len(word))


def toolbar_text(session: ChatSession) -> str:
    c = session.config
    context = f"{session.context_used}/{session.context_length}"
    return (
        f" {session.model_id} │ temp {c.temperature:g} top_p {c.top_p:g} "
        f"top_k {c.top_k} max {c.max_new_tokens}"
        f"{' seed ' + str(c.seed) if c.seed is not None else ''} │ context {context} tokens "
    )


@Condition
def in_open_block() -> bool:
    """The input began a triple-quote block that is not closed yet."""
    text = get_app().current_buffer.text.strip()
    return text.startswith(BLOCK) and (text == BLOCK or not text.endswith(BLOCK))


def key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    @bindings.add("enter", filter=in_open_block)
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


def prompt_reader(session: ChatSession, *, history: bool = True, **io: Any) -> Callable[[str], str]:
    """A function that shows ``prompt`` and returns one input (Ctrl+C/D as exceptions).
    ``io`` may give prompt-toolkit's ``input`` and ``output`` (tests use a pipe)."""
    store: History = InMemoryHistory()
    if history:
        path = history_file()
        private_folder(path.parent)
        # what was typed is the user's alone, wherever the data folder is
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        store = FileHistory(str(path))
    prompt_session: PromptSession[str] = PromptSession(
        history=store,
        completer=SlashCompleter(),
        complete_while_typing=False,
        key_bindings=key_bindings(),
        bottom_toolbar=lambda: toolbar_text(session),
        **io,
    )
    return lambda text: prompt_session.prompt(text)
