"""``ChatSession``: one chat and every operation on it, for every surface.

It holds the backend, the decoding parameters (recording where each value came
from), the conversation, the statistics and the context in use, and does what a
user asks: send a message (``turn``: the reply's events as they come, stoppable
from any thread with ``cancel``; ``send``: the same run to its end), retry, undo,
clear, set the system prompt or parameters (typed values, or text as a user types
it), swap the model, save and load. What a user must be told about a turn comes
as its ``Notice`` events; what they must be told beside a turn (a saved model
that could not be loaded, files skipped while indexing) is queued once in
``notices``, and a surface shows what ``take_notices`` returns. Nothing here
reads input or prints.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from minichat.backend import ChatBackend, Stats
from minichat.chat import transcript
from minichat.chat.conversation import Conversation
from minichat.chat.documents import Documents, docs_tool, open_documents, skipped_notice
from minichat.chat.events import Done, Event, Exchange, Notice, OnText, finish
from minichat.chat.report import Totals, log_record
from minichat.chat.servers import Servers
from minichat.config import GenerationConfig, fitting_reply_limit
from minichat.errors import ConfigError, InputError, MinichatError
from minichat.log.store import ChatLog, LogError, new_id
from minichat.retrieval.collection import Progress
from minichat.settings.layered import Settings
from minichat.settings.params import param
from minichat.settings.paths import data_dir
from minichat.tools.base import ToolError, ToolFunction
from minichat.tools.builtin import BUILTIN, builtin
from minichat.tools.functions import load_functions
from minichat.tools.schema import answer_problem, read_schema
from minichat.tools.toolbox import MAX_ROUNDS, Approve, Toolbox, toolbox

# loads a model by name, with a LoRA adapter (a folder or a shipped name) or none
LoadModel = Callable[[str, str | None], ChatBackend]


def cannot_load(wanted: str, kept: str, error: BaseException) -> str:
    """The one wording for a saved chat whose model could not be loaded."""
    return f"cannot load the saved model {wanted} ({error}); the chat goes on with {kept}"


def adapter_for(choice: str, *, tools: bool, docs: bool = False, model: str = "") -> str | None:
    """The adapter a model loads with: ``auto`` means the model's own for tools, for
    documents or for both while they are on (``catalog.auto_adapter``), none
    otherwise."""
    if choice == "off":
        return None
    if choice == "auto":
        from minichat.catalog import auto_adapter

        return auto_adapter(model, tools=tools, docs=docs)
    return choice


def _check_text(text: str) -> None:
    """A message no tokenizer can take is refused in words: a command-line argument
    that is not UTF-8 arrives as lone surrogates (``\udcff``), as can JSON's ``\ud800``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        where = f"character {error.start + 1}"
        raise InputError(
            f"the message is not UTF-8 text ({where} is {text[error.start]!r}); "
            "convert it first, for example with iconv -t UTF-8"
        ) from None


def chats_dir() -> Path:
    """Where ``/save NAME`` puts a chat given by a bare name."""
    return data_dir() / "chats"


class ChatSession:
    def __init__(
        self,
        backend: ChatBackend,
        config: GenerationConfig,
        conversation: Conversation | None = None,
        load_model: LoadModel | None = None,
        sources: Mapping[str, str] | None = None,
        adapter: str = "auto",
    ):
        self.backend = backend
        # auto: the model's own adapter while tools or documents are on; off; or a folder
        # or a name
        self.adapter = adapter
        self.config = config
        self.conversation = conversation or Conversation()
        self.load_model = load_model
        self.sources: dict[str, str] = dict(sources or {})  # parameter -> where it came from
        self.last: Exchange | None = None
        self.totals = Totals()
        self.context_used = 0  # tokens the conversation takes now (counted as it changes)
        self.notices: list[Notice] = []  # for the user, each said once (``take_notices``)
        self.documents: Documents | None = None  # what replies are grounded in (``docs``)
        self.toolbox: Toolbox | None = None  # the tools replies may call
        self.schema: dict[str, Any] | None = None  # the JSON Schema answers follow, if any
        self.functions: dict[str, ToolFunction] = {}  # the user's own (``--functions``)
        self.function_files: dict[Path, list[str]] = {}  # each file's names, as last loaded
        self.servers = Servers()  # MCP servers: those declared, those on (``start_mcp``)
        self.log: ChatLog | None = None  # where every exchange is kept (``keep_log``), if
        self.log_id: str | None = None  # this conversation's id there, once one is kept
        self.surface = "library"  # who chats: ask, chat, web (kept with the conversation)
        self._cancel: threading.Event | None = None  # the reply being generated

    @classmethod
    def start(
        cls, backend: ChatBackend, settings: Settings, load_model: LoadModel | None = None
    ) -> ChatSession:
        session = cls(
            backend,
            settings.generation_for(backend.context_length),
            Conversation(settings.system),
            load_model,
            settings.sources,
            settings.adapter,
        )
        session.servers = Servers.from_config(settings.mcp_servers)
        return session

    @classmethod
    def resume(
        cls, settings: Settings, load_model: LoadModel, saved: transcript.Transcript, source: str
    ) -> ChatSession:
        """A saved chat on its own model, unless the user named one (``--model``); if the
        saved model cannot be loaded, on the one the settings name, with a notice."""
        named = settings.sources.get("model", "default").startswith("flag")
        wanted = None if named else saved.model
        notice = None
        adapter = adapter_for(settings.adapter, tools=False)
        if wanted is not None and wanted != settings.model:
            try:
                backend = load_model(wanted, adapter)
            except MinichatError as error:  # keep the chat even if its model is gone
                notice = cannot_load(wanted, settings.model, error)
                backend = load_model(settings.model, adapter)
        else:
            backend = load_model(settings.model, adapter)
        session = cls.start(backend, settings, load_model)
        if backend.model_id == wanted:
            session.sources["model"] = source
        session.restore(saved, source, keep_model=True)
        if notice:
            session.notices.append(Notice(notice, warning=True))
        return session

    # --- what a surface shows -----------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self.backend.model_id

    @property
    def context_length(self) -> int:
        return self.backend.context_length

    @property
    def adapter_in_use(self) -> str | None:
        """The LoRA adapter merged into the model now (``adapter`` is the setting)."""
        return self.backend.adapter

    def describe(self) -> str:
        """The model in use, for a person: name, backend, context, adapter, engine."""
        return self.backend.describe()

    def take_notices(self) -> list[Notice]:
        """What the user should be told now; each notice is handed out once."""
        notices, self.notices = self.notices, []
        return notices

    def parameters(self) -> list[tuple[str, Any, str]]:
        """Every setting a chat can change: (name, value, where it came from)."""
        rows: list[tuple[str, Any, str]] = [
            ("model", self.backend.model_id, self.source("model")),
            ("adapter", self.backend.adapter, self.source("adapter")),
            ("system", self.conversation.system, self.source("system")),
            ("docs", self.documents.label if self.documents else None, self.source("docs")),
            (
                "tools",
                ", ".join(self.toolbox.names) if self.toolbox else None,
                self.source("tools"),
            ),
            ("schema", json.dumps(self.schema) if self.schema else None, self.source("schema")),
        ]
        rows += [(k, v, self.source(k)) for k, v in self.config.to_dict().items()]
        return rows

    def source(self, key: str) -> str:
        return self.sources.get(key, "default")

    @property
    def last_stats(self) -> Stats | None:
        return self.last.stats if self.last is not None else None

    # --- a turn --------------------------------------------------------------------------
    def turn(
        self,
        text: str,
        *,
        cancel: threading.Event | None = None,
        approve: Approve | None = None,
    ) -> Generator[Event, None, None]:
        """Send ``text``: the turn's events (``chat.events``), ending with ``Done``. Setting
        ``cancel`` (or calling ``cancel()``, from any thread, even before the reply
        starts) ends the reply at the next token, kept and marked cut off. A call that
        may change things runs only if ``approve`` says yes. A failure, or a turn closed
        before its end, leaves the conversation as it was."""
        _check_text(text)
        event = self._cancel = cancel or threading.Event()  # cancel() works from here on
        return self._events(
            self.conversation.turn(
                text, self.backend, self._turn_config(), **self._reading(event, approve)
            ),
            event,
        )

    def turn_again(
        self, *, cancel: threading.Event | None = None, approve: Approve | None = None
    ) -> Generator[Event, None, None]:
        """Ask the last question again (``MinichatError`` when there is none); the old
        reply goes only once a new one came."""
        if self.conversation.last_question() is None:
            raise MinichatError("nothing to retry")
        event = self._cancel = cancel or threading.Event()
        return self._events(
            self.conversation.again(
                self.backend, self._turn_config(), **self._reading(event, approve)
            ),
            event,
        )

    def send(
        self,
        text: str,
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
        approve: Approve | None = None,
    ) -> Exchange:
        """``turn`` run to its end, for a caller that wants only the reply: its text to
        ``on_text`` as it comes; tool calls are in the exchange, notices in ``notices``."""
        return finish(self.turn(text, cancel=cancel, approve=approve), on_text, self._keep)

    def retry(
        self,
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
        approve: Approve | None = None,
    ) -> Exchange | None:
        """``turn_again`` run to its end; None when there is nothing to retry."""
        if self.conversation.last_question() is None:
            return None
        return finish(self.turn_again(cancel=cancel, approve=approve), on_text, self._keep)

    def _keep(self, event: Event) -> None:
        if isinstance(event, Notice):
            self.notices.append(event)

    def _turn_config(self) -> GenerationConfig:
        """The parameters of a turn: the chat's, but greedy for an answer held to a
        schema while the temperature is at its default (a small model's JSON holds the
        user's values better so; a temperature the user set is kept)."""
        if self.schema is not None and self.source("temperature") == "default":
            return self.config.with_values(temperature=0.0)
        return self.config

    def _reading(self, cancel: threading.Event, approve: Approve | None) -> dict[str, Any]:
        """What a turn hands the conversation beside the model: how to stop it, the
        documents it reads, the tools it may call and who allows them."""
        return {
            "cancel": cancel,
            "documents": self.documents,
            "tools": self.toolbox,
            "approve": approve,
            "schema": self.schema,
        }

    def cancel(self) -> None:
        """Stop the reply being generated before its next token (from any thread); what
        came so far is kept, marked cut off. Nothing happens between replies."""
        cancel = self._cancel
        if cancel is not None:
            cancel.set()

    def _events(
        self, turn: Generator[Event, None, Exchange | None], cancel: threading.Event
    ) -> Generator[Event, None, None]:
        try:
            exchange = yield from turn
        finally:
            if self._cancel is cancel:
                self._cancel = None
        if exchange is None:  # the question went between the look and the turn
            raise MinichatError("nothing to retry")
        self.last = exchange
        self.totals.add(exchange.stats)
        self.context_used = exchange.stats.prompt_tokens + exchange.stats.new_tokens
        yield from self._turn_notices(exchange)
        yield from self._log_exchange(exchange)
        yield Done(exchange)

    # --- the chat log ----------------------------------------------------------------------
    def keep_log(self, log: ChatLog | None, surface: str) -> None:
        """Keep every exchange from now on in ``log`` (None: keep none)."""
        self.log, self.surface = log, surface

    def _log_exchange(self, exchange: Exchange) -> Iterator[Notice]:
        """The exchange into the log, after the reply: a log that cannot be written
        loses the log line, never the reply (one notice says so)."""
        if self.log is None:
            return
        if self.log_id is None:
            self.log_id = new_id()
        record = log_record(
            exchange,
            self.conversation.prompt(),
            model=self.model_id,
            adapter=self.adapter_in_use,
            settings=self.config.to_dict(),
            surface=self.surface,
            docs=self.documents.label if self.documents else None,
        )
        try:
            self.log.record(self.log_id, record)
        except LogError as error:
            yield Notice(f"{error}; this exchange was not logged", warning=True)
        for said in self.log.notices:
            yield Notice(said, warning=True)
        self.log.notices.clear()

    def continue_logged(self, cid: str, source: str | None = None) -> str:
        """Continue a logged conversation (an id or its start; ``latest`` for the newest):
        its model, adapter, system prompt, settings and messages. Returns its id."""
        if self.log is None:
            raise ConfigError("the chat log is off, so there is nothing to continue")
        found = self.log.latest() if cid == "latest" else self.log.find(cid)
        if found is None:
            raise ConfigError("nothing is logged yet, so there is nothing to continue")
        kept = self.log.conversation(found)
        saved = transcript.from_data(
            {
                "format": transcript.FORMAT,
                "model": kept["model"],
                "system": kept["system"],
                "parameters": kept["settings"],
                "messages": kept["messages"],
            },
            f"logged conversation {found}",
        )
        self.restore(saved, source or f"/resume {found[:8]}")
        if kept.get("adapter") and self.backend.adapter != kept["adapter"]:
            with contextlib.suppress(MinichatError):  # keep the chat if the adapter is gone
                self.use_adapter(kept["adapter"], source or f"/resume {found[:8]}")
        self.log_id = found
        return found

    def _turn_notices(self, exchange: Exchange) -> Iterator[Notice]:
        if self.schema is not None and exchange.finish_reason not in ("cancelled", "tool_calls"):
            problem = answer_problem(exchange.reply, self.schema)
            if problem:
                yield Notice(problem, warning=True)
        if exchange.fitted.newly_dropped:
            yield Notice(self._dropped_notice(exchange.fitted.dropped_turns))
        if exchange.finish_reason != "tool_calls" and exchange.tool_calls:  # cut, not run
            names = ", ".join(call.name for call in exchange.tool_calls)
            yield Notice(
                f"the reply limit cut a call to {names} short, so it was not run; "
                "raise the limit (--max-tokens, /max_tokens) and ask again",
                warning=True,
            )
        if exchange.sources_left_out:
            found = len(exchange.sources) + exchange.sources_left_out
            yield Notice(
                f"{exchange.sources_left_out} of the {found} passages found were left out "
                f"to fit the {self.context_length}-token context (the model read "
                f"{len(exchange.sources)}); a lower reply limit leaves room for more"
            )

    def _dropped_notice(self, dropped: int) -> str:
        which = "The oldest turn is" if dropped == 1 else f"The {dropped} oldest turns are"
        return (
            f"{which} left out to fit the {self.context_length}-token context: the model no "
            "longer sees them. Old turns go in chunks, so the cached prompt is rebuilt only "
            "now and then. Clear the chat to start afresh."
        )

    # --- documents -----------------------------------------------------------------------
    def use_documents(
        self, target: str | None, source: str = "/docs", progress: Progress | None = None
    ) -> None:
        """Ground replies in a collection or a file or folder (indexed on the fly and
        brought up to date); None stops. A failure keeps what was in use."""
        documents = open_documents(target, progress) if target is not None else None
        model = self.backend.model_id
        self._follow(
            adapter_for(self.adapter, tools=self._calls(), docs=bool(documents), model=model)
        )
        self.documents = documents
        self.sources["docs"] = source
        if documents is None:
            return
        report = documents.report
        if report is not None and report.skipped:
            self.notices.append(Notice(skipped_notice(report.skipped), warning=True))

    # --- tools ---------------------------------------------------------------------------
    def use_tools(
        self,
        names: Sequence[str] | None,
        source: str = "/tools",
        choice: str = "auto",
        max_rounds: int = MAX_ROUNDS,
    ) -> None:
        """Let replies call these tools (built-in names; ``search_docs`` reads the chat's
        documents); None or an empty list turns tools off. Refused whole, or done whole.
        With ``adapter`` at auto, a model with a tool-use adapter takes it on (and off)."""
        if not names:
            model = self.backend.model_id
            self._follow(adapter_for(self.adapter, tools=False, docs=self._reads(), model=model))
            self.toolbox = None
        elif not self.backend.supports_tools:
            raise self.backend.no_tools()
        else:
            functions: list[ToolFunction] = []
            for name in names:
                if name == "search_docs":
                    functions.append(self._docs_tool())
                elif name in self.functions:
                    functions.append(self.functions[name])
                else:
                    functions += builtin([name])
            model = self.backend.model_id
            self._follow(adapter_for(self.adapter, tools=True, docs=self._reads(), model=model))
            self.toolbox = toolbox(functions, choice, max_rounds)
        self.sources["tools"] = source

    def use_schema(self, given: str | None, multi: bool = False, source: str = "/schema") -> None:
        """Hold answers to a JSON Schema (``tools.schema.read_schema`` reads ``given``:
        JSON, a file or the concise form; ``multi``: a list of such objects); None turns
        it off. With tools on, the model may call them first; its answer is in the shape."""
        if given is None:
            self.schema = None
        elif not self.backend.supports_tools:
            raise ConfigError(
                f"{self.model_id} ({self.backend.name}) cannot hold its answers to a schema; "
                "use a local model (smollm2, tiny:..., hf:...) or an openai: server"
            )
        else:
            self.schema = read_schema(given, multi, source if source[:1] in "-/" else "schema")
        self.sources["schema"] = source

    def add_functions(self, path: Path) -> list[str]:
        """The public functions of a Python file, as tools ``use_tools`` can name."""
        loaded = load_functions(path)
        key, names = path.resolve(), [f.name for f in loaded]
        taken = {n: p for p, known in self.function_files.items() if p != key for n in known}
        clashes = sorted(set(names) & set(taken))
        if clashes:  # one name, two functions: the model could not say which it means
            raise ConfigError(
                f"--functions: {path} defines {', '.join(clashes)}, as {taken[clashes[0]]} "
                "does already; rename one of them"
            )
        for gone in self.function_files.get(key, []):  # a file loaded again replaces itself
            self.functions.pop(gone, None)
        self.functions.update({f.name: f for f in loaded})
        self.function_files[key] = names
        return names

    def start_mcp(self, given: str) -> list[str]:
        """Start an MCP server (a declared one's name, or a command) and make its tools
        ones ``use_tools`` can name; returns their names (``server__tool`` where a name is
        taken). Its tools whose schema no grammar can follow are left out, with a notice."""
        taken = [*BUILTIN, "search_docs", *self.functions]
        name, functions = self.servers.start(given, taken)
        self.functions.update({f.name: f for f in functions})
        for problem in self.servers.left_out(name):
            self.notices.append(Notice(f"MCP server {name}: {problem}; left out", warning=True))
        return [f.name for f in functions]

    def stop_mcp(self, name: str, source: str = "/mcp") -> None:
        """Stop MCP server ``name``; its tools are turned off and forgotten."""
        gone = self.servers.stop(name)
        for tool in gone:
            self.functions.pop(tool, None)
        box = self.toolbox
        if box is not None and set(gone) & set(box.names):
            kept = [n for n in box.names if n not in gone]
            choice = box.choice if box.choice in ("auto", "required", "none", *kept) else "auto"
            self.use_tools(kept or None, source, choice, box.max_rounds)

    def _docs_tool(self) -> ToolFunction:
        def find(query: str) -> list[Any]:
            if self.documents is None:
                raise ToolError("no documents are open; the user can open them with /docs")
            return self.documents.find(query)

        return docs_tool(find, None)

    # --- the conversation ----------------------------------------------------------------
    def undo(self) -> bool:
        """Remove the last exchange; False when there is none."""
        done = self.conversation.undo()
        self.refresh_context()
        return done

    def clear(self) -> None:
        """A new conversation; the system prompt and the parameters stay."""
        self.conversation.messages.clear()
        self.conversation.left_out = 0
        self.log_id = None  # a new conversation in the log too
        self.refresh_context()

    def set_system(self, text: str | None, source: str) -> None:
        """Set the system prompt; empty or None means the model's own."""
        self.conversation.system = (text or "").strip() or None
        self.sources["system"] = source
        self.refresh_context()

    def refresh_context(self) -> None:
        """Recount the tokens the conversation takes now, as the next prompt would."""
        prompt = self.conversation.prompt()
        self.context_used = self.backend.count_tokens(prompt) if prompt else 0

    # --- parameters ----------------------------------------------------------------------
    def set_parameters(self, source: str, **values: Any) -> None:
        """Change parameters through validation; on an error nothing changes."""
        config = self.config.with_values(**values)
        if config.max_new_tokens >= self.backend.context_length:
            raise ConfigError(
                f"max_new_tokens must be below the context length "
                f"({self.backend.context_length}), got {config.max_new_tokens}"
            )
        self.config = config
        self.sources.update(dict.fromkeys(values, source))

    def set_from_text(self, source: str, texts: Mapping[str, str]) -> list[str]:
        """Set parameters from text as a user types it, by full or short name; returns
        the full names set."""
        values = {}
        for name, text in texts.items():
            field = param(name)
            values[field.name] = field.parse(text)
        self.set_parameters(source, **values)
        return list(values)

    # --- the model -----------------------------------------------------------------------
    def swap_model(self, name: str, source: str | None = None) -> None:
        """Load ``name``, keeping the conversation; only once it loaded is the old
        backend let go, so a failure keeps the chat as it was."""
        adapter = adapter_for(self.adapter, tools=self._calls(), docs=self._reads(), model=name)
        self._load(name, adapter, source or f"/model {name}")

    def use_adapter(self, adapter: str, source: str = "/adapter") -> None:
        """Merge a LoRA adapter (a folder, a shipped name) into the model, keeping the
        conversation; ``off`` for none, ``auto`` for the tool-use one while tools are on."""
        model = self.backend.model_id
        wanted = adapter_for(adapter, tools=self._calls(), docs=self._reads(), model=model)
        self._load(model, wanted, None, force=adapter not in ("auto", "off"))
        self.adapter = adapter
        self.sources["adapter"] = source

    def _load(
        self, name: str, adapter: str | None, source: str | None, force: bool = False
    ) -> None:
        """Switch to model ``name`` with ``adapter`` unless that is what runs already
        (``force``: load it again, the adapter's folder may have changed)."""
        if not force and source is None and self._runs(adapter):
            return
        if self.load_model is None:
            raise MinichatError("this chat cannot change its model")
        backend = self.load_model(name, adapter)
        self.backend.close()
        self.backend = backend
        if source is not None:
            self.sources["model"] = source
        self.conversation.left_out = 0  # the new model fits what it can from the start
        if self.source("max_new_tokens") == "default":
            self.config = fitting_reply_limit(self.config, backend.context_length)
        self.refresh_context()

    def _follow(self, adapter: str | None) -> None:
        """Take the adapter that the tools and documents now in use want; a chat that
        cannot load a model (a library's, started without a loader) keeps its own."""
        if self.load_model is not None:
            self._load(self.backend.model_id, adapter, None)

    def _calls(self) -> bool:
        return self.toolbox is not None

    def _reads(self) -> bool:
        return self.documents is not None

    def _runs(self, adapter: str | None) -> bool:
        if adapter is None or self.backend.adapter is None:
            return adapter == self.backend.adapter
        from minichat.catalog import adapter_label

        return adapter_label(adapter) == self.backend.adapter

    # --- saving --------------------------------------------------------------------------
    def save(self, name: str | Path = "") -> Path:
        """Save to ``name``: a path where it says, a bare name (or none: a dated one) in
        ``chats_dir``. Returns where it went."""
        path = Path(str(name).strip() or datetime.now().strftime("chat-%Y%m%d-%H%M%S.json"))
        path = path.expanduser()
        if path.parent == Path(".") and not str(path).startswith("."):  # a bare name
            path = chats_dir() / path
        saved = transcript.Transcript(
            self.backend.model_id,
            self.conversation.system,
            self.config,
            list(self.conversation.messages),
        )
        transcript.save(path, saved)
        return path

    def load(self, name: str | Path) -> Path:
        """Restore a saved chat and switch to its model; if that model cannot be loaded,
        the chat is restored on the current one, with a notice. Returns the path read."""
        path = Path(str(name).strip()).expanduser()
        if not path.exists() and path.parent == Path("."):  # a bare name: the /save folder
            path = chats_dir() / path
        self.restore(transcript.load(path), f"/load {path.name}")
        return path

    def restore(
        self, saved: transcript.Transcript, source: str, *, keep_model: bool = False
    ) -> None:
        if saved.model != self.backend.model_id and not keep_model:
            current = self.backend.model_id
            try:
                self.swap_model(saved.model, source)
            except MinichatError as error:  # keep the chat even if its model is gone
                self.notices.append(Notice(cannot_load(saved.model, current, error), True))
        self.config = saved.config
        self.sources.update(dict.fromkeys([*saved.config.to_dict(), "system"], source))
        self.conversation = Conversation(saved.system, list(saved.messages))
        self.log_id = None  # a chat loaded is a new conversation in the log
        self.refresh_context()
