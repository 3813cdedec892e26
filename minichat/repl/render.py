"""Showing a reply as it streams: Markdown through Rich, or plain text.

``MarkdownRenderer`` keeps only the unfinished tail of the reply in a Rich
``Live`` region: each block that is complete (it ends at a blank line outside a
code fence) is printed once, for good, into the scrollback. So a reply taller
than the screen never freezes the display, and code blocks are highlighted.
``PlainRenderer`` writes the raw text, for ``--plain`` and non-terminals.
``embedding_progress`` is the bar shown while documents are embedded.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

from minichat.retrieval.collection import Progress
from minichat.safety.untrusted import printable

CODE_THEME = "monokai"


class Renderer(Protocol):
    def feed(self, text: str) -> None: ...

    def finish(self, cut_off: bool) -> None: ...


def markdown(text: str) -> Markdown:
    """A reply as Markdown, its escape sequences made visible, its links shown with their
    address (a link's words alone could hide where it goes)."""
    return Markdown(printable(text), code_theme=CODE_THEME, hyperlinks=False)


def complete_blocks_end(text: str) -> int:
    """Where the last complete Markdown block ends: after a blank line outside fences."""
    end, in_fence, position = 0, False, 0
    for line in text.splitlines(keepends=True):
        position += len(line)
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        elif not line.strip() and not in_fence and line.endswith("\n"):
            end = position
    return end


class MarkdownRenderer:
    def __init__(self, console: Console):
        self.console = console
        self.pending = ""
        self.blocks = 0  # complete blocks printed so far
        self.live = Live(
            console=console, refresh_per_second=12, transient=True, vertical_overflow="crop"
        )
        self.echo = _EchoOff()  # keys typed meanwhile would shift the live region
        self.live.start()

    def feed(self, text: str) -> None:
        self.pending += text
        end = complete_blocks_end(self.pending)
        if end:
            done, self.pending = self.pending[:end], self.pending[end:]
            self._print_block(done)
        self.live.update(markdown(visible_tail(self.pending, self.console.size.height - 2)))

    def finish(self, cut_off: bool) -> None:
        self.live.stop()
        self.echo.restore()
        if self.pending.strip():
            self._print_block(self.pending)
        if cut_off:
            self.console.print("[cut off]", style="dim", markup=False)

    def _print_block(self, text: str) -> None:
        if self.blocks:
            self.console.print()  # the blank line that separated the blocks
        self.console.print(markdown(text))
        self.blocks += 1


class _EchoOff:
    """Turn off the terminal's echo of typed keys (and of ^C) until ``restore``."""

    def __init__(self) -> None:
        self.saved: list[Any] | None = None
        try:
            import termios

            if sys.stdin.isatty():
                fd = sys.stdin.fileno()
                self.saved = termios.tcgetattr(fd)
                quiet = termios.tcgetattr(fd)
                quiet[3] &= ~(termios.ECHO | termios.ECHOCTL)
                termios.tcsetattr(fd, termios.TCSANOW, quiet)
        except (ImportError, OSError, ValueError):  # not a POSIX terminal: nothing to do
            self.saved = None

    def restore(self) -> None:
        if self.saved is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, self.saved)
            self.saved = None


def visible_tail(text: str, height: int) -> str:
    """The last lines of an unfinished block that fit the screen, so the live region
    never grows past it (a taller one cannot be redrawn). Inside a code fence the
    fence's opening line is kept, so the tail is still highlighted as code."""
    lines = text.splitlines()
    if len(lines) <= height:
        return text
    fences = [line for line in lines if line.lstrip().startswith(("```", "~~~"))]
    if len(fences) % 2 == 1:  # inside the last fence: keep its opening line on top
        return "\n".join([fences[-1], *lines[-(height - 1) :]])
    return "\n".join(lines[-height:])


class PlainRenderer:
    def __init__(self, console: Console):
        self.console = console
        self.ends_with_newline = True

    def feed(self, text: str) -> None:
        self.console.file.write(printable(text))
        self.console.file.flush()
        self.ends_with_newline = text.endswith("\n")

    def finish(self, cut_off: bool) -> None:
        tail = " [cut off]" if cut_off else ""
        self.console.file.write(tail + ("" if self.ends_with_newline and not tail else "\n"))
        self.console.file.flush()


@contextmanager
def embedding_progress(label: str, console: Console | None = None) -> Iterator[Progress]:
    """A Rich progress bar on stderr while chunks are embedded (shown once there are any)."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    console = console or Console(stderr=True)
    bar = Bar(
        TextColumn(f"[bold]embedding {escape(label)}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # a log or a pipe gets no bar and no blank line
    )
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if total == 0:
            return
        if task is None:
            bar.start()
            task = bar.add_task("embed", total=total)
        bar.update(task, completed=done)

    try:
        yield update
    finally:
        if task is not None:  # a bar never shown leaves no blank line behind
            bar.stop()
