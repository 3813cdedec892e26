"""What the web page does, as plain Python: one method per control, no gradio.

``WebChat`` wraps the ``ChatSession`` the terminal chat uses, so a turn from the
page goes through the same ``Conversation.exchange`` (budgeting included), a
parameter through the same ``GenerationConfig`` validation and a model swap
through the same ``ChatSession.swap_model``. Each method returns what the page
should show next, a ``View``; a reply streams as a series of views. Errors a
user can cause (a bad value, an unknown model, out of memory) come back as a
notice in the view, never as an exception, and leave the conversation as it
was. One server holds one chat: every tab shows it, and one action runs at a
time (a second one meanwhile is told to wait).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from minichat.chat.conversation import Exchange
from minichat.chat.session import ChatSession
from minichat.config import FIELD_NAMES
from minichat.errors import ConfigError, MinichatError
from minichat.loading.registry import list_models
from minichat.repl.commands import UsageError, stop_text

SOURCE = "page"  # where a parameter set from the page came from, as /params would say
BUSY = "a reply or a model load is still running; wait for it (or press Stop)"
INT_FIELDS = ("max_new_tokens", "top_k", "seed")
CUT_OFF = "\n\n*[cut off]*"

log = logging.getLogger(__name__)

ChatMessage = dict[str, str]  # {"role": ..., "content": ...}, as gr.Chatbot takes them
RunTurn = Callable[[Callable[[str], None]], Exchange | None]


@dataclass(frozen=True)
class View:
    """What the page shows after an action."""

    messages: list[ChatMessage]  # the conversation, for the chat pane
    status: str  # one line: the model, the last reply's speed, the context in use
    notice: str = ""  # what the user should know now: an error, dropped turns; or nothing
    draft: str = ""  # what the message box holds: the message again when it was not sent


@dataclass(frozen=True)
class Controls:
    """The value of every control, so a page (re)loaded later shows the chat as it is."""

    model: str
    models: list[str]
    context_length: int
    system: str
    config: dict[str, Any]
    stop: str


class WebChat:
    def __init__(self, session: ChatSession):
        self.session = session
        self._busy = threading.Lock()  # released from whichever thread ends the action
        self._stop = threading.Event()

    # --- what the page shows ------------------------------------------------------------
    def messages(self, upto: int | None = None) -> list[ChatMessage]:
        shown = []
        for message in self.session.conversation.messages[:upto]:
            content = message.content + (CUT_OFF if message.cut_off else "")
            shown.append({"role": message.role, "content": content})
        return shown

    def status(self, exchange: Exchange | None = None) -> str:
        session = self.session
        parts = [session.backend.model_id]
        if exchange is not None:
            stats = exchange.stats
            parts.append(f"{stats.new_tokens} tokens")
            speed = stats.tokens_per_second
            parts.append(f"{speed:.1f} tokens/s" if speed else "- tokens/s")
            if exchange.finish_reason == "length":
                parts.append("stopped at the reply limit (max new tokens)")
            elif exchange.cut_off:
                parts.append("cut off")
        used, context = session.context_used, session.backend.context_length
        parts.append(f"{used} / {context} context tokens used")
        return " · ".join(parts)

    def view(self, notice: str = "") -> View:
        return View(self.messages(), self.status(), notice)

    def controls(self) -> Controls:
        session = self.session
        return Controls(
            model=session.backend.model_id,
            models=self.model_choices(),
            context_length=session.backend.context_length,
            system=session.conversation.system or "",
            config=session.config.to_dict(),
            stop=stop_lines(session.config.stop),
        )

    def model_choices(self) -> list[str]:
        # patterns such as hf:PATH need the user's own text: they are typed, not picked
        names = [m.name for m in list_models() if m.available and ":" not in m.name]
        current = self.session.backend.model_id
        return names if current in names else [*names, current]

    # --- a turn ---------------------------------------------------------------------------
    def send(self, text: str) -> Iterator[View]:
        """Send a message and stream the reply, one view per batch of new text."""
        text = text.strip()
        if not text:
            yield self.view("type a message first")
            return
        session = self.session
        yield from self._turn(
            lambda show: session.conversation.exchange(
                text, session.backend, session.config, on_text=show
            ),
            text,
            len(session.conversation.messages),
            draft=text,  # a message that could not be sent goes back into the box
        )

    def retry(self) -> Iterator[View]:
        """Ask the last question again; the old reply goes only once a new one came."""
        session = self.session
        users = [i for i, m in enumerate(session.conversation.messages) if m.role == "user"]
        if not users:  # (a reply just starting has not added its question yet)
            yield self.view(BUSY if self._busy.locked() else "nothing to retry")
            return
        question = session.conversation.messages[users[-1]].content
        yield from self._turn(
            lambda show: session.conversation.retry(session.backend, session.config, show),
            question,
            users[-1],
            draft="",
        )

    def stop(self) -> None:
        """Stop the reply being generated; what came so far is kept, marked cut off."""
        self._stop.set()

    def _turn(self, run: RunTurn, question: str, kept: int, draft: str) -> Iterator[View]:
        """Run ``run`` in a worker thread and turn its text callbacks into views.

        ``Conversation.exchange`` pushes text through a callback; the page pulls
        views from a generator, so a worker thread and a queue sit between them.
        Stop (or the page going away) makes the callback raise KeyboardInterrupt,
        which the conversation already treats as Ctrl+C: the reply ends and is kept.
        """
        with self._hold() as held:
            if not held:  # the message stays in the box, to be sent when the chat is free
                yield View(self.messages(), self.status(), BUSY, draft)
                return
            self._stop.clear()
            pieces: queue.Queue[str | None] = queue.Queue()
            outcome: dict[str, Any] = {}

            def show(piece: str) -> None:
                if self._stop.is_set():
                    raise KeyboardInterrupt
                pieces.put(piece)

            def work() -> None:
                try:
                    outcome["exchange"] = run(show)
                except Exception as error:  # shown in the page by the generator below
                    outcome["error"] = error
                finally:
                    pieces.put(None)

            worker = threading.Thread(target=work, name="minichat-reply", daemon=True)
            earlier = self.messages(kept)
            replying = f"{self.session.backend.model_id} is replying..."
            yield View([*earlier, {"role": "user", "content": question}], replying)
            worker.start()
            try:
                yield from _stream_views(pieces, earlier, question, replying)
            finally:
                self._stop.set()  # the page went away mid-reply: stop the model too
                worker.join()
            yield self._finish(outcome, draft)

    def _finish(self, outcome: dict[str, Any], draft: str) -> View:
        error = outcome.get("error")
        if error is not None:
            return View(self.messages(), self.status(), _error_notice(error), draft)
        exchange: Exchange | None = outcome.get("exchange")
        if exchange is None:  # retry found nothing to ask again (another tab undid it)
            return self.view("nothing to retry")
        self.session.record(exchange)
        return View(self.messages(), self.status(exchange), self._dropped_notice(exchange))

    def _dropped_notice(self, exchange: Exchange) -> str:
        dropped = exchange.fitted.dropped_turns
        if not dropped:
            return ""
        which = "The oldest turn was" if dropped == 1 else f"The {dropped} oldest turns were"
        them = "it" if dropped == 1 else "them"
        return (
            f"{which} left out to fit the {self.session.backend.context_length}-token "
            f"context; the model no longer sees {them}. Clear starts afresh."
        )

    # --- the conversation -------------------------------------------------------------------
    def undo(self) -> View:
        with self._hold() as held:
            if not held:
                return self.view(BUSY)
            if not self.session.conversation.undo():
                return self.view("nothing to undo")
            self.session.refresh_context()
            return self.view("removed the last exchange")

    def clear(self) -> View:
        with self._hold() as held:
            if not held:
                return self.view(BUSY)
            self.session.clear()
            return self.view("new conversation (system prompt and parameters kept)")

    def swap_model(self, name: str) -> View:
        """Load ``name``, keeping the conversation; on failure the old model stays."""
        name = name.strip()
        with self._hold() as held:
            if not held:
                return self.view(BUSY)
            current = self.session.backend.model_id
            if not name or name == current:
                return self.view()
            try:
                self.session.swap_model(name)
            except Exception as error:
                return self.view(f"{_error_notice(error)} (still on {current})")
            kept = len(self.session.conversation.messages)
            return self.view(f"now {self.session.backend.describe()}; {kept} messages kept")

    # --- parameters ---------------------------------------------------------------------------
    def set_parameter(self, field: str, value: Any) -> tuple[Any, str]:
        """Apply one control's value. Returns the value in effect (the old one when
        the new one is refused) and a notice saying which."""
        if field not in FIELD_NAMES or field == "stop":
            raise ValueError(f"no control sets {field!r}")  # a wiring bug, not a user error
        if value is None and field != "seed":  # a box left empty: nothing to change
            return self.session.config.to_dict()[field], ""
        if field == "seed" and value == "":
            value = None  # an empty seed box: random sampling
        elif field in INT_FIELDS and isinstance(value, float) and value.is_integer():
            value = int(value)  # number boxes and sliders hand over floats
        try:
            self.session.set_parameters(SOURCE, **{field: value})
        except ConfigError as error:
            return self.session.config.to_dict()[field], f"error: {error}"
        now = self.session.config.to_dict()[field]
        return now, f"{field} = {now!r}"

    def set_stop(self, text: str) -> tuple[str, str]:
        """Stop sequences, one a line, as typed or quoted for escapes (``"\\nUser:"``)."""
        try:
            stops = tuple(stop_text(line) for line in text.splitlines() if line.strip())
            self.session.set_parameters(SOURCE, stop=stops)
        except (UsageError, ConfigError) as error:
            return stop_lines(self.session.config.stop), f"error: {error}"
        shown = ", ".join(map(repr, self.session.config.stop)) or "none"
        return stop_lines(self.session.config.stop), f"stop sequences: {shown}"

    def set_system(self, text: str) -> View:
        """Set the system prompt; an empty one means the model's own."""
        self.session.conversation.system = text.strip() or None
        self.session.sources["system"] = SOURCE
        self.session.refresh_context()
        system = self.session.conversation.system
        return self.view(f"system prompt: {system}" if system else "no system prompt")

    @contextmanager
    def _hold(self) -> Iterator[bool]:
        """Hold the chat for one action; yields False when another action holds it."""
        held = self._busy.acquire(blocking=False)
        try:
            yield held
        finally:
            if held:
                self._busy.release()


def stop_lines(stops: tuple[str, ...]) -> str:
    """The stop sequences as the box shows them, one a line, in the form ``stop_text``
    reads back: as typed, or quoted where white space or quotes would be lost."""
    return "\n".join(s if _plain(s) else repr(s) for s in stops)


def _plain(text: str) -> bool:
    quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"
    return text.isprintable() and text == text.strip() and not quoted


def _stream_views(
    pieces: queue.Queue[str | None], earlier: list[ChatMessage], question: str, status: str
) -> Iterator[View]:
    """One view per batch of text: what arrived while the page drew the last one."""
    reply = ""
    while True:
        piece = pieces.get()
        batch = []
        while piece is not None:
            batch.append(piece)
            try:
                piece = pieces.get_nowait()
            except queue.Empty:
                break
        if batch:
            reply += "".join(batch)
            yield View(
                [
                    *earlier,
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": reply},
                ],
                status,
            )
        if piece is None:
            return


def _error_notice(error: Exception) -> str:
    if isinstance(error, MinichatError):
        return f"error: {error}"
    log.error("internal error in the web chat", exc_info=error)  # the traceback, for the log
    return f"internal error ({type(error).__name__}: {error}); the chat goes on"
