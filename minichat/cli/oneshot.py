"""One prompt in, one reply out: ``minichat ask`` and ``echo ... | minichat``.

The reply streams to stdout as raw text (or, with ``--json``, one JSON object
with the text, why it ended, token counts and timings); notes and errors go to
stderr so a pipe receives only the answer. The turn is the chat core's
(``ChatSession.send``); the numbers are named as everywhere (``chat.report``).
What reaches a terminal has its escape sequences made visible (``untrusted``); a
pipe or file gets the reply as the model wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO, TextIO

from minichat.chat.events import Event, Exchange, Notice, ToolResult, finish
from minichat.chat.report import line, source_json, sources_block, usage
from minichat.chat.session import ChatSession
from minichat.errors import InputError
from minichat.safety.untrusted import one_line, printable, safe_json
from minichat.tools.schema import answer_problem
from minichat.tools.toolbox import Approve, Ran

EXIT_CANCELLED = 130  # what a shell reports for a command ended by Ctrl+C
MAX_STDIN = 8 * 2**20  # bytes: far beyond any model's context, yet bounded


def read_prompt(stdin: BinaryIO) -> str:
    """The whole of stdin as a prompt: UTF-8 text, or a clear error. At most
    ``MAX_STDIN`` bytes are read: ``minichat < /dev/zero`` is refused, not held."""
    data = stdin.read(MAX_STDIN + 1)
    if len(data) > MAX_STDIN:
        raise InputError(
            f"stdin holds more than {MAX_STDIN >> 20} MiB; a prompt must fit the model's "
            "context: pipe in less, or index a large file as documents (--docs FILE)"
        )
    if b"\x00" in data:
        raise InputError("stdin looks like binary data (it has NUL bytes); pipe in UTF-8 text")
    try:
        return check_prompt(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise InputError(
            f"stdin is not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start}); "
            "convert it first, for example with iconv -t UTF-8"
        ) from None


def check_prompt(text: str) -> str:
    if not text.strip():
        raise InputError(
            'the prompt is empty; give one: minichat ask "..." or echo "..." | minichat'
        )
    return text.strip("\n")


def answer(
    session: ChatSession,
    prompt: str,
    *,
    out: TextIO,
    err: TextIO,
    as_json: bool = False,
    verbose: bool = False,
    load_seconds: float = 0.0,
    approve: Approve | None = None,
) -> int:
    """Answer ``prompt``; return the exit code (130 when cut short by Ctrl+C). Passages
    from documents the reply read are listed under it (and in the JSON)."""
    shown = printable if _is_terminal(out) else str
    notices: list[Notice] = []

    def write(text: str) -> None:
        out.write(shown(text))
        out.flush()

    def tell(event: Event) -> None:
        if isinstance(event, ToolResult) and not as_json:  # --json lists them with the reply
            show_tool(event.ran, err)
        elif isinstance(event, Notice):
            notices.append(event)

    events = session.turn(prompt, approve=approve)
    exchange = finish(events, None if as_json else write, tell)
    if as_json:
        out.write(safe_json(to_json(session, exchange, load_seconds)) + "\n")
    else:
        if not exchange.reply.endswith("\n"):
            out.write("\n")
        if exchange.sources:
            out.write("\n" + shown(sources_block(exchange.source_labels)) + "\n")
    tell_notices([*notices, *session.take_notices()], err)
    out.flush()  # the reply before the stats line, even where both go to one terminal
    if verbose:
        stats = line(exchange.stats, exchange.finish_reason)
        err.write(printable(f"minichat: {session.describe()}\n{stats}") + "\n")
    if exchange.cut_off:
        return EXIT_CANCELLED
    shaped = session.schema is not None and exchange.finish_reason != "tool_calls"
    return 1 if shaped and answer_problem(exchange.reply, session.schema or {}) else 0


def show_tool(ran: Ran, err: TextIO) -> None:
    """A call the model made, as it is made: one line on stderr, whatever it holds."""
    err.write(f"minichat: tool {one_line(ran.line(), None)}\n")


def tell_notices(notices: Iterable[Notice], err: TextIO) -> None:
    """What the chat core has to tell, one line each on stderr."""
    for notice in notices:
        said = f"minichat: {'warning: ' if notice.warning else ''}{notice.text}"
        err.write(printable(said) + "\n")


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or bare stream is no terminal
        return False


def to_json(session: ChatSession, exchange: Exchange, load_seconds: float) -> dict[str, object]:
    stats = exchange.stats
    return {
        "model": session.model_id,
        "adapter": session.adapter_in_use,
        "text": exchange.reply,
        "finish_reason": exchange.finish_reason,
        "usage": usage(stats),
        "dropped_turns": exchange.fitted.dropped_turns,
        "sources": [
            {"label": label, **source_json(hit)}
            for label, hit in zip(exchange.source_labels, exchange.sources, strict=True)
        ],
        "sources_left_out": exchange.sources_left_out,
        "tool_calls": [ran.to_dict() for ran in exchange.tools_ran],
        "timings": {
            "load_s": round(load_seconds, 4),
            "time_to_first_token_s": _round(stats.time_to_first_token),
            "tokens_per_second": _round(stats.tokens_per_second),
            "total_s": round(stats.total_seconds, 4),
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
