"""A plain line-by-line chat loop over ``Conversation``.

It reads one line per message and streams each reply as raw text; ``/exit``,
``/quit`` or Ctrl+D leave, Ctrl+C stops a reply and keeps what came, and never
ends the chat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from minichat.backend import ChatBackend
from minichat.conversation import Conversation
from minichat.errors import MinichatError
from minichat.settings import Settings

EXIT_COMMANDS = ("/exit", "/quit")


def run(
    backend: ChatBackend,
    settings: Settings,
    *,
    read_line: Callable[[str], str],
    out: TextIO,
    err: TextIO,
) -> Conversation:
    conversation = Conversation(settings.system)
    err.write(f"minichat: {backend.describe()}. /exit or Ctrl+D to leave.\n")
    while True:
        try:
            line = read_line(">>> ")
        except EOFError:
            break
        except KeyboardInterrupt:
            out.write("\n")
            continue
        if line.strip() in EXIT_COMMANDS:
            break
        if not line.strip():
            continue

        def write(text: str) -> None:
            out.write(text)
            out.flush()

        try:
            exchange = conversation.exchange(line, backend, settings.generation, on_text=write)
        except KeyboardInterrupt:  # before the reply began: nothing to keep
            out.write("\n")
            continue
        except MinichatError as error:
            out.write("\n")
            out.flush()
            err.write(f"error: {error}\n")
            continue
        out.write("\n" if not exchange.cut_off else " [cut off]\n")
        if exchange.fitted.dropped_turns:
            err.write(
                f"(dropped the {exchange.fitted.dropped_turns} oldest turn(s) to fit the context)\n"
            )
    return conversation
