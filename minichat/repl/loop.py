"""The REPL loop: read a line, run a slash command or send a message, show the reply.

``Repl`` owns the console side: notes, warnings, tables and the streamed reply
(through a renderer). Input comes from any ``read(prompt) -> str`` function:
prompt-toolkit in a terminal, plain lines otherwise. Ctrl+C at the prompt
clears the line, Ctrl+C during a reply stops it and keeps it; Ctrl+D, /exit or
/quit leave. Errors print one line and the chat goes on with nothing lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table

from minichat.errors import MinichatError
from minichat.repl.commands import ExitRepl, dispatch
from minichat.repl.render import MarkdownRenderer, PlainRenderer, Renderer, markdown
from minichat.repl.session import ChatSession

PROMPT = ">>> "
CONTINUATION = "... "
BLOCK = '"""'


class Repl:
    def __init__(self, session: ChatSession, console: Console, *, plain: bool = False):
        self.session = session
        self.console = console
        self.plain = plain

    # --- output -----------------------------------------------------------------------
    def note(self, text: str) -> None:
        self.console.print(text, style="dim", markup=False, highlight=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        self.console.print(text, style="yellow", markup=False, highlight=False, soft_wrap=True)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        table = Table(*headers, box=None, pad_edge=False, highlight=False)
        for row in rows:
            table.add_row(*row)
        self.console.print(table)

    def renderer(self) -> Renderer:
        return PlainRenderer(self.console) if self.plain else MarkdownRenderer(self.console)

    def show_history(self) -> None:
        for message in self.session.conversation.messages:
            if message.role == "user":
                self.console.print(f"{PROMPT}{message.content}", markup=False, highlight=False)
            elif self.plain:
                self.console.print(message.content, markup=False, highlight=False)
            else:
                self.console.print(markdown(message.content))
            if message.cut_off:
                self.note("[cut off]")

    # --- a turn -----------------------------------------------------------------------
    def ask(self, text: str) -> None:
        session = self.session
        renderer: Renderer | None = None

        def show(piece: str) -> None:
            nonlocal renderer
            renderer = renderer or self.renderer()
            renderer.feed(piece)

        try:
            exchange = session.conversation.exchange(
                text, session.backend, session.config, on_text=show
            )
        except MinichatError as error:
            if renderer is not None:
                renderer.finish(cut_off=True)
            self.warn(f"error: {error}")
            return
        (renderer or self.renderer()).finish(exchange.cut_off)
        session.record(exchange)
        dropped = exchange.fitted.dropped_turns
        if dropped:
            self.note(
                f"(the {dropped} oldest turn{'s' if dropped > 1 else ''} left out to fit the "
                f"{session.backend.context_length}-token context; /clear starts afresh)"
            )

    # --- the loop ---------------------------------------------------------------------
    def run(self, read: Callable[[str], str]) -> None:
        self.note(
            f"minichat · {self.session.backend.describe()} · /help for commands, Ctrl+D to leave"
        )
        while True:
            try:
                line = read_message(read)
            except KeyboardInterrupt:
                continue  # Ctrl+C at the prompt: the line is dropped, the chat goes on
            except EOFError:
                break
            if not line.strip():
                continue
            try:
                if line.startswith("/"):
                    dispatch(self, line)
                else:
                    self.ask(line)
            except ExitRepl:
                break
            except MinichatError as error:
                self.warn(f"error: {error}")


def read_message(read: Callable[[str], str]) -> str:
    """One message: a line, or a block of lines between \"\"\" marks."""
    line = read(PROMPT)
    if not line.lstrip().startswith(BLOCK):
        return line
    first = line.lstrip()[len(BLOCK) :]
    if first.rstrip().endswith(BLOCK):  # """all on one line"""
        return first.rstrip()[: -len(BLOCK)]
    lines = [first]
    while True:
        more = read(CONTINUATION)
        if more.rstrip().endswith(BLOCK):
            lines.append(more.rstrip()[: -len(BLOCK)])
            return "\n".join(lines).strip("\n")
        lines.append(more)


def line_reader(stream: Callable[[], str]) -> Callable[[str], str]:
    """A reader over plain lines (stdin that is not a terminal): no prompt, EOF at end."""

    def read(_prompt: str) -> str:
        line = stream()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    return read
