"""What the web page does, as plain Python: one method per control, no gradio.

``WebChat`` is a thin adapter over the chat core's ``ChatSession``, the one the
terminal chat uses: a turn, a parameter, a model swap and every notice come
from it; a turn runs in a worker thread (the core's ``Relay``) and its events
become views as the page reads them; Stop sets the turn's cancel event, made
before the reply's first view and handed to the core. Each method
returns what the page should show next, a ``View``; a reply streams as a series of views. Errors a
user can cause (a bad value, an unknown model, out of memory) come back as a
notice in the view, never as an exception, and leave the conversation as it
was. One server holds one chat: every tab shows it, and one action runs at a
time (a second one meanwhile is told to wait).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from minichat.catalog import list_models
from minichat.chat.events import Done, Event, Exchange, Notice, Text
from minichat.chat.relay import Relay
from minichat.chat.report import brief
from minichat.chat.session import ChatSession
from minichat.errors import ConfigError, MinichatError
from minichat.retrieval.collection import OFF, Collection
from minichat.settings.params import BY_NAME, stop_lines, stop_text
from minichat.tools.builtin import BUILTIN
from minichat.tools.schema import concise
from minichat.web.inert import inert

SOURCE = "page"  # where a parameter set from the page came from, as /params would say
BUSY = "a reply or a model load is still running; wait for it (or press Stop)"
CUT_OFF = "\n\n*[cut off]*"

log = logging.getLogger(__name__)

ChatMessage = dict[str, str]  # {"role": ..., "content": ...}, as gr.Chatbot takes them
StartTurn = Callable[[threading.Event], Generator[Event, None, None]]


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
    docs: str  # the collection or path replies read, or "off"
    collections: list[str]
    tools: list[str]  # the tools replies may call
    tool_choices: list[str]  # the tools the page can turn on: built in, MCP servers'
    schema: str  # the JSON Schema answers follow, as JSON, or "" for free text


class WebChat:
    def __init__(self, session: ChatSession, *, pick_paths: bool = True):
        self.session = session
        self.pick_paths = pick_paths  # False on a page others reach: collections only
        self._busy = threading.Lock()  # released from whichever thread ends the action
        self._cancel = threading.Event()  # the running reply's: Stop works from its first view

    # --- what the page shows ------------------------------------------------------------
    def messages(self, upto: int | None = None) -> list[ChatMessage]:
        shown: list[ChatMessage] = []
        sources: tuple[str, ...] = ()
        for message in self.session.conversation.messages[:upto]:
            content = inert(message.content) + (CUT_OFF if message.cut_off else "")
            if message.role == "tool":  # a call's result, under the call it answers
                shown[-1]["content"] += f"\n→ {_code(_short(message.content))}"
                continue
            if message.tool_calls:
                calls = "\n".join(
                    f"tool {_code(f'{c.name}({c.arguments})')}" for c in message.tool_calls
                )
                content = f"{content}\n\n{calls}".strip()
            if message.role == "user":
                sources = message.sources
            elif sources and not message.tool_calls:  # under every answer that read documents
                content += sources_markdown(sources)
            if shown and message.role == "assistant" and shown[-1]["role"] == "assistant":
                shown[-1]["content"] += f"\n\n{content}"  # one bubble for the whole answer
            else:
                shown.append({"role": message.role, "content": content})
        return shown

    def status(self, exchange: Exchange | None = None) -> str:
        session = self.session
        parts = [session.model_id]
        if exchange is not None:
            parts.append(brief(exchange.stats))
            if exchange.finish_reason == "length":
                parts.append("stopped at the reply limit (max new tokens)")
            elif exchange.cut_off:
                parts.append("cut off")
        used, context = session.context_used, session.context_length
        parts.append(f"{used} / {context} context tokens used")
        return " · ".join(parts)

    def view(self, notice: str = "") -> View:
        return View(self.messages(), self.status(), notice)

    def controls(self) -> Controls:
        session = self.session
        return Controls(
            model=session.model_id,
            models=self.model_choices(),
            context_length=session.context_length,
            system=session.conversation.system or "",
            config=session.config.to_dict(),
            stop=stop_lines(session.config.stop),
            docs=session.documents.label if session.documents else OFF,
            collections=self.docs_choices(),
            tools=session.toolbox.names if session.toolbox else [],
            tool_choices=[*BUILTIN, "search_docs", *session.functions],
            schema=json.dumps(session.schema) if session.schema else "",
        )

    def docs_choices(self) -> list[str]:
        names = [OFF, *Collection.names()]
        documents = self.session.documents
        return names if documents is None or documents.label in names else [*names, documents.label]

    def model_choices(self) -> list[str]:
        # patterns such as hf:PATH need the user's own text: they are typed, not picked
        names = [m.name for m in list_models() if m.available and ":" not in m.name]
        current = self.session.model_id
        return names if current in names else [*names, current]

    # --- a turn ---------------------------------------------------------------------------
    def send(self, text: str) -> Iterator[View]:
        """Send a message and stream the reply, one view per piece of new text."""
        text = text.strip()
        if not text:
            yield self.view("type a message first")
            return
        session = self.session
        yield from self._turn(
            lambda cancel: session.turn(text, cancel=cancel),
            text,
            len(session.conversation.messages),
            draft=text,  # a message that could not be sent goes back into the box
        )

    def retry(self) -> Iterator[View]:
        """Ask the last question again; the old reply goes only once a new one came."""
        session = self.session
        last = session.conversation.last_question()
        if last is None:  # (a reply just starting has not added its question yet)
            yield self.view(BUSY if self._busy.locked() else "nothing to retry")
            return
        question = session.conversation.messages[last].content
        yield from self._turn(
            lambda cancel: session.turn_again(cancel=cancel), question, last, draft=""
        )

    def stop(self) -> None:
        """Stop the reply being generated; what came so far is kept, marked cut off."""
        self._cancel.set()

    def _turn(self, start: StartTurn, question: str, kept: int, draft: str) -> Iterator[View]:
        """Run the turn in a worker thread (``Relay``) and show its text as it comes: the
        model never waits for the page to draw."""
        with self._hold() as held:
            if not held:  # the message stays in the box, to be sent when the chat is free
                yield View(self.messages(), self.status(), BUSY, draft)
                return
            cancel = self._cancel = threading.Event()
            earlier = self.messages(kept)
            asked = [*earlier, {"role": "user", "content": inert(question)}]
            replying = f"{self.session.model_id} is replying..."
            yield View(asked, replying)
            turn = _Turn()
            try:
                relay: Relay[Event, None] = Relay(start(cancel)).start()
            except Exception as error:  # refused before it began: a message no model takes
                yield View(self.messages(), self.status(), _error_notice(error), draft)
                return
            try:
                for batch in relay.batches():
                    if turn.take(batch):
                        shown = {"role": "assistant", "content": inert(turn.reply)}
                        yield View([*asked, shown], replying)
            finally:  # the page may have gone away mid-reply: stop the model, wait for it
                cancel.set()
                relay.join()
            try:
                relay.result()
            except Exception as error:
                yield View(self.messages(), self.status(), _error_notice(error), draft)
                return
            notices = [*turn.notices, *(n.text for n in self.session.take_notices())]
            yield View(self.messages(), self.status(turn.exchange), " ".join(notices))

    def notices(self) -> str:
        """What the chat core has to tell the user now, each notice once."""
        return " ".join(notice.text for notice in self.session.take_notices())

    # --- the conversation -------------------------------------------------------------------
    def undo(self) -> View:
        with self._hold() as held:
            if not held:
                return self.view(BUSY)
            if not self.session.undo():
                return self.view("nothing to undo")
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
            current = self.session.model_id
            if not name or name == current:
                return self.view()
            try:
                self.session.swap_model(name)
            except Exception as error:
                return self.view(f"{_error_notice(error)} (still on {current})")
            kept = len(self.session.conversation.messages)
            return self.view(f"now {self.session.describe()}; {kept} messages kept")

    def use_documents(self, target: str) -> View:
        """Answer from a collection, or a file or folder (indexed now); "off" stops."""
        target = target.strip()
        with self._hold() as held:
            if not held:
                return self.view(BUSY)
            documents = self.session.documents
            if target == (documents.label if documents else OFF) or not target:
                return self.view()
            if not (self.pick_paths or target == OFF or target in Collection.names()):
                return self.view(
                    f"error: no collection named {target!r}; this page picks only collections "
                    "(make one on the server: minichat docs add NAME PATH)"
                )
            try:
                self.session.use_documents(None if target == OFF else target, SOURCE)
            except Exception as error:
                return self.view(_error_notice(error))
            documents = self.session.documents
            if documents is None:
                return self.view("replies no longer read documents")
            said = f"replies read {documents.label} ({len(documents.index)} passages)"
            return self.view(" ".join([said, self.notices()]).strip())

    def set_tools(self, names: list[str]) -> tuple[list[str], str]:
        """Turn tools on or off from the page's checkboxes; returns those on, and a notice."""
        try:
            self.session.use_tools(list(names), SOURCE)
        except ConfigError as error:
            now = self.session.toolbox.names if self.session.toolbox else []
            return now, f"error: {error}"
        now = self.session.toolbox.names if self.session.toolbox else []
        return now, f"tools on: {', '.join(now) or 'none'}"

    def set_schema(self, text: str) -> tuple[str, str]:
        """Hold answers to a JSON Schema (JSON or the concise form; a page names no
        files) or, empty, free text; returns the schema in effect and a notice."""
        text = text.strip()
        try:
            if text.startswith("{") or not text:
                self.session.use_schema(text or None, source=SOURCE)
            else:
                self.session.use_schema(json.dumps(concise(text, "schema")), source=SOURCE)
        except ConfigError as error:
            return self.controls().schema, f"error: {error}"
        now = self.controls().schema
        return now, f"answers follow {_code(now)}" if now else "answers are free text"

    # --- parameters ---------------------------------------------------------------------------
    def set_parameter(self, field: str, value: Any) -> tuple[Any, str]:
        """Apply one control's value. Returns the value in effect (the old one when
        the new one is refused) and a notice saying which."""
        if field not in BY_NAME or field == "stop":
            raise ValueError(f"no control sets {field!r}")  # a wiring bug, not a user error
        if value is None and field != "seed":  # a box left empty: nothing to change
            return self.session.config.to_dict()[field], ""
        try:  # number boxes and sliders hand over floats; an empty seed box is random
            value = BY_NAME[field].accept(value)
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
        except ConfigError as error:
            return stop_lines(self.session.config.stop), f"error: {error}"
        shown = ", ".join(map(repr, self.session.config.stop)) or "none"
        return stop_lines(self.session.config.stop), f"stop sequences: {shown}"

    def set_system(self, text: str) -> View:
        """Set the system prompt; an empty one means the model's own."""
        self.session.set_system(text, SOURCE)
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


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _code(text: str) -> str:
    """``text`` as one Markdown code span: what a model or a file wrote (a call's
    arguments, a result, a file name) is shown, never rendered; a backtick in it would
    end the span and let the rest through as Markdown (an image loading an address)."""
    return "`" + " ".join(text.replace("`", "'").split()) + "`"


def sources_markdown(labels: tuple[str, ...]) -> str:
    """The sources under an answer; code spans keep a file name's ``_`` and ``*`` literal."""
    return "\n\n**Sources:** " + " · ".join(_code(label) for label in labels)


def _error_notice(error: Exception) -> str:
    if isinstance(error, MinichatError):
        return f"error: {error}"
    log.error("internal error in the web chat", exc_info=error)  # the traceback, for the log
    return f"internal error ({type(error).__name__}: {error}); the chat goes on"


class _Turn:
    """A turn's events read for the page: the reply so far, its notices, its end."""

    def __init__(self) -> None:
        self.reply = ""
        self.notices: list[str] = []
        self.exchange: Exchange | None = None

    def take(self, events: list[Event]) -> bool:
        """Read a batch of events; whether the reply grew."""
        grew = False
        for event in events:
            if isinstance(event, Text):
                self.reply += event.text
                grew = True
            elif isinstance(event, Notice):
                self.notices.append(event.text)
            elif isinstance(event, Done):
                self.exchange = event.exchange
        return grew
