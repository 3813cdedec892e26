"""The chat core (``minichat.chat``): every chat operation through its API, on a scripted
backend. The surfaces' own tests only check that they wire it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from minichat import ChatBackend, GenerationConfig, Message, ModelLoadError, Outcome
from minichat.backends.echo import EchoBackend
from minichat.chat import transcript
from minichat.chat.events import Exchange
from minichat.chat.relay import Relay
from minichat.chat.report import FIGURES, rows, usage
from minichat.chat.session import ChatSession, chats_dir
from minichat.errors import ConfigError, MinichatError, PromptTooLongError
from minichat.settings.layered import Settings, load_settings
from tests.conftest import ScriptedBackend


def loader(name: str, adapter: str | None = None) -> ChatBackend:
    if name == "small":
        return EchoBackend("small", context_length=64)
    if name == "echo":
        return EchoBackend()
    raise ModelLoadError(f"no model {name} here")


def session_on(backend: ChatBackend, **flags: str) -> ChatSession:
    return ChatSession.start(backend, load_settings(flags, environ={}), loader)


class Gated(ChatBackend):
    """Yields one piece, then waits for ``go`` before each next one (or a cancel)."""

    name: ClassVar[str] = "gated"

    def __init__(self) -> None:
        self.model_id, self.context_length = "gated", 4096
        self.go = threading.Event()
        self.started = threading.Event()

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return 2 * len(messages) + 1

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        prompt = self.count_tokens(messages)
        for sent in range(100):
            if cancel.is_set():
                return Outcome("cancelled", prompt, sent)
            yield f"w{sent} "
            self.started.set()
            self.go.wait(10)
        return Outcome("end_turn", prompt, 100)


def test_send_streams_keeps_both_and_counts(scripted: ScriptedBackend) -> None:
    scripted.enqueue(["Hi", " there"])
    session = session_on(scripted, system="Be brief.")
    pieces: list[str] = []
    exchange = session.send("hello", pieces.append)
    assert pieces == ["Hi", " there"] and exchange.reply == "Hi there"
    assert session.conversation.messages == [
        Message("user", "hello"),
        Message("assistant", "Hi there"),
    ]
    assert scripted.history[0][0] == Message("system", "Be brief.")
    assert session.totals.turns == 1 and session.last is exchange
    assert session.context_used == exchange.stats.prompt_tokens + exchange.stats.new_tokens


def test_cancel_from_another_thread_keeps_the_reply_cut_off() -> None:
    backend = Gated()
    session = session_on(backend)
    done: list[Exchange] = []
    worker = threading.Thread(target=lambda: done.append(session.send("go on")))
    worker.start()
    assert backend.started.wait(10)
    session.cancel()
    backend.go.set()
    worker.join(10)
    exchange = done[0]
    assert exchange.cut_off and exchange.reply == "w0 "
    assert session.conversation.messages[-1] == Message("assistant", "w0 ", cut_off=True)
    session.cancel()  # between replies: nothing to stop, nothing happens


def test_relay_hands_over_the_items_then_the_result_or_the_error() -> None:
    def work() -> Generator[str, None, int]:
        yield from ("a", "b", "c")
        return 7

    async def read(relay: Relay[str, int]) -> list[str]:
        return [item async for item in relay.items()]

    ended = threading.Event()
    relay = Relay(work(), on_done=ended.set).start()
    assert asyncio.run(read(relay)) == ["a", "b", "c"] and relay.result() == 7
    assert ended.is_set()

    def broken() -> Generator[str, None, int]:
        yield "a"
        raise MinichatError("no luck")

    relay = Relay(broken()).start()
    assert asyncio.run(read(relay)) == ["a"]
    with pytest.raises(MinichatError, match="no luck"):
        relay.result()


def test_a_failed_send_leaves_the_conversation_as_it_was() -> None:
    session = session_on(EchoBackend(context_length=32), max_new_tokens="8")
    session.send("short")
    before = list(session.conversation.messages)
    with pytest.raises(PromptTooLongError):
        session.send("word " * 50)
    assert session.conversation.messages == before and session.totals.turns == 1


def test_retry_undo_clear(scripted: ScriptedBackend) -> None:
    session = session_on(scripted)
    assert session.retry() is None and not session.undo()
    scripted.enqueue(["one"])
    scripted.enqueue(["two"])
    session.send("q")
    assert session.retry() is not None
    assert [m.content for m in session.conversation.messages] == ["q", "two"]
    assert session.undo() and session.conversation.messages == []
    assert session.context_used == 0
    session.send("again")
    session.clear()
    assert session.conversation.messages == [] and session.context_used == 0


def test_the_system_prompt_is_counted_at_once(scripted: ScriptedBackend) -> None:
    """The drift this core fixes: /system left the toolbar's count as it was."""
    session = session_on(scripted)
    session.send("hello")
    before = session.context_used
    session.set_system("You are a careful assistant. " * 10, "/system")
    long_system = scripted.count_tokens(session.conversation.prompt())
    assert session.context_used == long_system > before
    session.set_system("", "/system")
    assert session.conversation.system is None and session.context_used < long_system
    assert session.source("system") == "/system"


def test_parameters_typed_or_as_text_with_their_sources(scripted: ScriptedBackend) -> None:
    session = session_on(scripted, temperature="0.2")
    assert session.source("temperature") == "flag --temperature"
    session.set_parameters("/set", top_k=40)
    assert session.set_from_text("/set", {"temp": "0", "max_new_tokens": "80"}) == [
        "temperature",
        "max_new_tokens",
    ]
    assert (session.config.temperature, session.config.max_new_tokens) == (0.0, 80)
    assert session.source("top_k") == "/set" and session.source("max_new_tokens") == "/set"
    before = session.config
    with pytest.raises(ConfigError, match="top_p must be in"):
        session.set_from_text("/set", {"top_k": "5", "top_p": "3"})
    assert session.config == before  # nothing changes on an error
    with pytest.raises(ConfigError, match="below the context length"):
        session.set_parameters("/max_tokens", max_new_tokens=4096)
    with pytest.raises(ConfigError, match="did you mean 'temp'"):
        session.set_from_text("/set", {"tmep": "1"})
    names = [name for name, _, _ in session.parameters()]
    assert names == [
        "model",
        "adapter",
        "system",
        "docs",
        "tools",
        "schema",
        *GenerationConfig().to_dict(),
    ]


def test_swap_model_keeps_the_conversation_or_the_old_model() -> None:
    session = session_on(EchoBackend())
    session.send("hello")
    session.swap_model("small")
    assert session.model_id == "small" and session.source("model") == "/model small"
    assert len(session.conversation.messages) == 2
    assert session.config.max_new_tokens == 32  # the default limit fits the small context
    with pytest.raises(ModelLoadError):
        session.swap_model("missing")
    assert session.model_id == "small"


def test_save_and_load_round_trip_and_bare_names(scripted: ScriptedBackend) -> None:
    session = session_on(scripted, seed="7")
    session.send("keep me")
    path = session.save("mine.json")
    assert path == chats_dir() / "mine.json" and json.loads(path.read_text())["model"] == "scripted"
    other = session_on(ScriptedBackend())
    assert other.load("mine.json") == path
    assert other.conversation.messages == session.conversation.messages
    assert other.config.seed == 7 and other.source("seed") == "/load mine.json"
    assert other.source("system") == "/load mine.json"
    assert other.take_notices() == []
    assert other.context_used == other.backend.count_tokens(other.conversation.prompt())


def test_a_saved_model_that_cannot_load_is_one_notice(tmp_path: Path) -> None:
    saved = transcript.Transcript("gone", None, GenerationConfig(), [Message("user", "hi")])
    transcript.save(tmp_path / "chat.json", saved)
    session = session_on(EchoBackend())
    session.load(tmp_path / "chat.json")
    notices = session.take_notices()
    assert [n.text for n in notices] == [
        "cannot load the saved model gone (no model gone here); the chat goes on with echo"
    ]
    assert notices[0].warning and session.take_notices() == []  # handed out once
    resumed = ChatSession.resume(Settings(model="echo"), loader, saved, "--resume chat.json")
    assert [n.text for n in resumed.take_notices()] == [n.text for n in notices]
    assert resumed.conversation.messages == [Message("user", "hi")]


def test_resume_uses_the_saved_model_unless_one_is_named() -> None:
    saved = transcript.Transcript("small", "Be kind.", GenerationConfig(), [])
    settings = load_settings({}, environ={})
    resumed = ChatSession.resume(settings, loader, saved, "--resume x")
    assert resumed.model_id == "small" and resumed.source("model") == "--resume x"
    named = load_settings({"model": "echo"}, environ={})
    resumed = ChatSession.resume(named, loader, saved, "--resume x")
    assert resumed.model_id == "echo" and resumed.conversation.system == "Be kind."


def test_dropped_turns_are_one_notice_when_they_go() -> None:
    session = session_on(EchoBackend(context_length=64), max_new_tokens="16")
    said = []
    for i in range(6):
        session.send(f"message number {i} here")
        said.append([n.text for n in session.take_notices()])
    assert said[:3] == [[], [], []]
    assert said[3] and said[3][0].startswith("The 2 oldest turns are left out to fit the 64")
    assert said[4] == []  # the next turn fits beside the chunk left out: nothing to say


def test_one_report_for_every_surface(scripted: ScriptedBackend) -> None:
    scripted.enqueue(["a", "b", "c"])
    session = session_on(scripted)
    exchange = session.send("hi")
    assert usage(exchange.stats) == {
        "prompt_tokens": exchange.stats.prompt_tokens,
        "completion_tokens": 3,
        "total_tokens": exchange.stats.prompt_tokens + 3,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    table = rows(session.last_stats, session.totals)
    assert [len(row) for row in table] == [len(FIGURES) + 1] * 2
    assert table[0][4] == "3" and table[1][0] == "session, 1 turns"


def test_a_chat_without_a_loader_cannot_swap(scripted: ScriptedBackend) -> None:
    session = ChatSession(scripted, GenerationConfig())
    with pytest.raises(MinichatError, match="cannot change its model"):
        session.swap_model("echo")


# -- adapters -------------------------------------------------------------------------


class Calling(ScriptedBackend):
    """A scripted local model that can take tools and an adapter."""

    def __init__(self, model_id: str, adapter: str | None):
        super().__init__()
        self.model_id, self.adapter = model_id, adapter

    def generate_with_tools(self, messages, config, cancel, tools):  # type: ignore[no-untyped-def]
        return self.generate(messages, config, cancel)


def test_tools_on_bring_the_models_tool_adapter_and_off_take_it_away() -> None:
    loads: list[tuple[str, str | None]] = []

    def load(name: str, adapter: str | None = None) -> ChatBackend:
        if adapter == "broken":
            raise ModelLoadError("the adapter broken was made for another model")
        loads.append((name, adapter))
        return Calling(name, adapter)

    session = ChatSession.start(Calling("smollm2", None), load_settings({}, environ={}), load)
    session.send("hello")
    session.use_tools(["calculator"])
    assert loads == [("smollm2", "smollm2-tools")]
    assert session.backend.adapter == "smollm2-tools"
    assert len(session.conversation.messages) == 2  # the chat goes on
    session.use_tools(["calculator", "now"])
    assert len(loads) == 1  # already on
    session.use_tools(None)
    assert loads[-1] == ("smollm2", None) and session.backend.adapter is None

    with pytest.raises(ModelLoadError, match="another model"):
        session.use_adapter("broken")
    assert session.backend.adapter is None and session.adapter == "auto"  # kept as it was
    session.use_adapter("off")
    session.use_tools(["calculator"])
    assert session.backend.adapter is None  # off stays off with tools on
    session.use_adapter("./mine")
    assert loads[-1] == ("smollm2", "./mine")
    assert ("adapter", "./mine", "/adapter") in session.parameters()
    session.swap_model("other")
    assert loads[-1] == ("other", "./mine")  # a chosen adapter goes with the model


def test_a_model_without_a_tool_adapter_loads_nothing_new() -> None:
    loads: list[tuple[str, str | None]] = []

    def load(name: str, adapter: str | None = None) -> ChatBackend:
        loads.append((name, adapter))
        return Calling(name, adapter)

    session = ChatSession.start(Calling("tiny-chitchat", None), load_settings({}, environ={}), load)
    session.use_tools(["calculator"])
    session.use_tools(None)
    assert loads == []


def test_cancel_between_asking_and_reading_stops_the_turn_before_it_starts() -> None:
    from minichat.chat.events import finish

    backend = Gated()
    session = session_on(backend)
    turn = session.turn("go on")
    session.cancel()  # before the first event was read
    exchange = finish(turn)
    assert exchange.cut_off and exchange.reply == "" and not backend.started.is_set()
    assert session.conversation.messages[-1] == Message("assistant", "", cut_off=True)
