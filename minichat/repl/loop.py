"""The REPL loop: read a line, run a slash command or send a message, show the reply.

``Repl`` owns the console side: notes, warnings, tables and the streamed reply
(through a renderer). Input comes from any ``read(prompt) -> str`` function:
prompt-toolkit in a terminal, plain lines otherwise. Ctrl+C at the prompt
clears the line, Ctrl+C during a reply stops it and keeps it; Ctrl+D, /exit or
/quit leave. Errors print one line and the chat goes on with nothing lost.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from contextlib import AbstractContextManager

from rich.console import Console
from rich.table import Table
from rich.text import Text

from minichat.chat import events as turn
from minichat.chat.report import sources_block
from minichat.chat.session import ChatSession
from minichat.errors import InputError, MinichatError
from minichat.repl.commands import ExitRepl, dispatch
from minichat.repl.render import (
    MarkdownRenderer,
    PlainRenderer,
    Renderer,
    embedding_progress,
    markdown,
)
from minichat.retrieval.collection import Progress
from minichat.safety.untrusted import one_line, printable
from minichat.tools.toolbox import Approve, Ran

PROMPT = ">>> "
MAX_LINE = 8 * 2**20  # characters of one piped line: far beyond any model's context
CONTINUATION = "... "
BLOCK = '"""'


class Repl:
    def __init__(
        self,
        session: ChatSession,
        console: Console,
        *,
        plain: bool = False,
        notices: Console | None = None,
        approve: Approve | None = None,
    ):
        self.session = session
        self.console = console  # replies and tables
        self.notices = notices or console  # notes and warnings (stderr when piped)
        self.plain = plain
        self.errors = 0  # warnings shown: a piped chat with errors exits non-zero
        self.approve = approve  # asks about a call that may change things; None: refused

    # --- output -----------------------------------------------------------------------
    # every line shown is plain text with escape sequences made visible: notes carry
    # file names, tool arguments and results, error messages quoting what a model wrote
    def note(self, text: str) -> None:
        self.notices.print(
            printable(text), style="dim", markup=False, highlight=False, soft_wrap=True
        )

    def warn(self, text: str) -> None:
        self.errors += 1
        self.notices.print(
            printable(text), style="yellow", markup=False, highlight=False, soft_wrap=True
        )

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        table = Table(*headers, box=None, pad_edge=False, highlight=False)
        for row in rows:
            table.add_row(*(Text(printable(cell)) for cell in row))  # never markup
        self.console.print(table)

    def indexing(self, label: str) -> AbstractContextManager[Progress]:
        return embedding_progress(label, self.notices)

    def show_tool(self, ran: Ran) -> None:
        """A call the model made, as it is made: a dim line."""
        # one line whatever the result holds: a newline could print a line of its own
        self.note(f"tool {one_line(ran.line(), None)}")

    def banner(self) -> None:
        # the hint first: the description grows with the model's choices, and a narrow
        # terminal wraps it, not the hint
        self.note(f"minichat · /help for commands, Ctrl+D to leave · {self.session.describe()}")

    def renderer(self) -> Renderer:
        # an answer held to a schema is JSON: shown as written, not read as Markdown
        shaped = self.session.schema is not None
        return (
            PlainRenderer(self.console) if self.plain or shaped else MarkdownRenderer(self.console)
        )

    def show_history(self) -> None:
        sources: tuple[str, ...] = ()
        for message in self.session.conversation.messages:
            if message.role == "user":
                sources = message.sources
                shown = printable(f"{PROMPT}{message.content}")
                self.console.print(shown, markup=False, highlight=False)
            elif self.plain:
                self.console.print(printable(message.content), markup=False, highlight=False)
            else:
                self.console.print(markdown(message.content))
            if message.cut_off:
                self.note("[cut off]")
            if message.role == "assistant" and sources:
                self.note(sources_block(sources))

    # --- a turn -----------------------------------------------------------------------
    def ask(self, text: str) -> None:
        self._turn(self.session.turn(text, approve=self.approve))

    def retry(self) -> bool:
        """Ask the last question again; False when there is none."""
        if self.session.conversation.last_question() is None:
            return False
        self._turn(self.session.turn_again(approve=self.approve))
        return True

    def _turn(self, events: Generator[turn.Event, None, None]) -> None:
        """Show a turn's events: the reply streamed, each tool call as a line, then the
        sources and what the user must be told."""
        shown = _Shown(self)
        try:
            turn.read(events, shown.take)
        except MinichatError as error:
            shown.end(cut_off=False)
            self.warn(f"error: {error}")
            return
        except BaseException:  # Ctrl+C between rounds: give the screen and terminal back
            shown.end(cut_off=True)
            raise
        shown.done()

    def show_notices(self) -> None:
        for notice in self.session.take_notices():
            (self.warn if notice.warning else self.note)(notice.text)

    # --- the loop ---------------------------------------------------------------------
    def run(self, read: Callable[[str], str], *, banner: bool = True) -> None:
        if banner:
            self.banner()
        while True:
            try:
                line = read_message(read)
            except KeyboardInterrupt:
                continue  # Ctrl+C at the prompt: the line is dropped, the chat goes on
            except EOFError:
                break
            except InputError as error:  # a line that cannot be a message; the next may
                self.warn(f"error: {error}")
                continue
            if not line.strip():
                continue
            try:
                if line.startswith("/"):
                    dispatch(self, line)
                else:
                    self.ask(line)
            except ExitRepl:
                break
            except KeyboardInterrupt:  # Ctrl+C while a model loads or a prompt is counted
                self.warn("cancelled")
            except MinichatError as error:
                self.warn(f"error: {error}")
            except Exception as error:  # a bug: say so, but never lose the conversation
                self.warn(f"internal error ({type(error).__name__}: {error}); the chat goes on")
            finally:
                self.show_notices()


def read_message(read: Callable[[str], str]) -> str:
    """One message: a line, or a block between triple-quote marks (typed in one prompt
    with prompt-toolkit, or over several lines from a plain reader)."""
    text = read(PROMPT)
    if not text.lstrip().startswith(BLOCK):
        return text
    body = text.lstrip()[len(BLOCK) :]
    while not body.rstrip().endswith(BLOCK):
        try:
            body += "\n" + read(CONTINUATION)
        except EOFError:  # input ended inside the block: send what there is
            return body.strip("\n")
    return body.rstrip()[: -len(BLOCK)].strip("\n")


def line_reader(stream: Callable[[int], str], limit: int = MAX_LINE) -> Callable[[str], str]:
    """A reader over plain lines (stdin that is not a terminal): no prompt, EOF at end. A
    line longer than ``limit`` characters is skipped to its end, read in bounded pieces,
    and said: ``cat /dev/zero | minichat chat`` must not hold it all in memory."""

    def read(_prompt: str) -> str:
        line = stream(limit)
        if not line:
            raise EOFError
        if len(line) >= limit and not line.endswith("\n"):
            while (rest := stream(limit)) and not rest.endswith("\n"):
                pass
            raise InputError(
                f"a line of input longer than {limit:,} characters was skipped; "
                "a message must fit the model's context"
            )
        return line.rstrip("\n")

    return read


class _Shown:
    """One turn on the screen: the renderer starts with the first text; notices wait
    for the reply and its sources."""

    def __init__(self, repl: Repl):
        self.repl = repl
        self.renderer: Renderer | None = None
        self.notices: list[turn.Notice] = []
        self.exchange: turn.Exchange | None = None

    def take(self, event: turn.Event) -> None:
        if isinstance(event, turn.Text):
            self.renderer = self.renderer or self.repl.renderer()
            self.renderer.feed(event.text)
        elif isinstance(event, turn.ToolResult):
            self.repl.show_tool(event.ran)
        elif isinstance(event, turn.Notice):
            self.notices.append(event)
        elif isinstance(event, turn.Done):
            self.exchange = event.exchange

    def end(self, *, cut_off: bool) -> None:
        if self.renderer is not None:
            self.renderer.finish(cut_off=cut_off)

    def done(self) -> None:
        exchange = self.exchange
        assert exchange is not None
        (self.renderer or self.repl.renderer()).finish(exchange.cut_off)
        if exchange.sources:  # always, cited or not: a small model cites unreliably
            self.repl.note(sources_block(exchange.source_labels))
        for notice in self.notices:
            (self.repl.warn if notice.warning else self.repl.note)(notice.text)
