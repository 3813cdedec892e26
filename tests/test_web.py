"""The web page's handlers, called as the page calls them: no browser, no server.

A ``Fed`` backend yields a piece only when the test hands it one, so streaming,
Stop and "busy" are checked at exact points of a reply rather than by timing.
"""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Generator, Iterator, Sequence
from typing import ClassVar

import pytest

from minichat import (
    ChatBackend,
    GenerationConfig,
    GenerationError,
    Message,
    ModelLoadError,
    Outcome,
    load_backend,
)
from minichat.backends.echo import EchoBackend
from minichat.chat.session import ChatSession
from minichat.settings.layered import load_settings
from minichat.settings.params import stop_lines
from minichat.web.handlers import BUSY, View, WebChat
from tests.conftest import ScriptedBackend
from tests.test_cli import assert_one_error_line, imported, minichat


class Fed(ChatBackend):
    """Yields what the test puts in ``feed``; None ends the reply, an exception is raised."""

    name: ClassVar[str] = "fed"

    def __init__(self) -> None:
        self.model_id, self.context_length = "fed", 4096
        self.feed: queue.Queue[str | Exception | None] = queue.Queue()

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(1 + len(m.content.split()) for m in messages) + 1

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        sent = 0
        while not cancel.is_set():
            piece = self.feed.get(timeout=10)
            if piece is None:
                return Outcome("end_turn", self.count_tokens(messages), sent)
            if isinstance(piece, Exception):
                raise piece
            sent += 1
            yield piece
        return Outcome("cancelled", self.count_tokens(messages), sent)


def loader(name: str, adapter: str | None = None) -> ChatBackend:
    if name == "big":
        raise ModelLoadError("not enough memory for big on cpu; try --dtype bf16 or --device cpu")
    if name == "echo-small":
        return EchoBackend("echo-small", context_length=1024)
    if name == "broken":
        raise RuntimeError("a bug while loading")
    return load_backend(name)


def web(backend: ChatBackend, **flags: object) -> WebChat:
    return WebChat(ChatSession.start(backend, load_settings(flags, environ={}), loader))


def last(views: Iterator[View]) -> View:
    *_, final = views
    return final


def texts(view: View) -> list[str]:
    return [m["content"] for m in view.messages]


@pytest.fixture
def fed() -> Fed:
    return Fed()


def test_a_reply_streams_then_shows_its_stats(fed: Fed) -> None:
    chat = web(fed)
    views = chat.send("  Hello there  ")
    first = next(views)
    assert texts(first) == ["Hello there"] and first.status == "fed is replying..."
    assert first.draft == ""  # the box empties as the message goes
    fed.feed.put("Hel")
    assert texts(next(views)) == ["Hello there", "Hel"]
    fed.feed.put("lo")
    fed.feed.put("!")
    assert texts(next(views))[-1] in ("Hello", "Hello!")  # what came while the page drew
    fed.feed.put(None)
    final = last(views)
    assert texts(final) == ["Hello there", "Hello!"]
    assert final.notice == ""
    prompt = fed.count_tokens([Message("user", "Hello there")])
    assert final.status.startswith("fed · reply tokens 3 · tok/s ")
    assert final.status.endswith(f" · {prompt + 3} / 4096 context tokens used")
    assert chat.session.last is not None and chat.session.totals.turns == 1


def test_stop_keeps_the_reply_marked_cut_off(fed: Fed) -> None:
    chat = web(fed)
    views = chat.send("tell me a story")
    next(views)
    fed.feed.put("Once")
    assert texts(next(views))[-1] == "Once"
    chat.stop()
    fed.feed.put(" upon")  # the model's next token ends the reply; the token is kept
    final = last(views)
    assert texts(final)[-1] == "Once upon\n\n*[cut off]*"
    assert "cut off" in final.status
    assert chat.session.conversation.messages[-1].cut_off


def test_stop_right_after_sending_stops_the_reply(fed: Fed) -> None:
    chat = web(fed)
    views = chat.send("tell me a story")
    next(views)  # "fed is replying...": the model has not started yet
    chat.stop()
    fed.feed.put("Once")  # the model's first token comes; the reply ends there
    final = last(views)
    assert chat.session.conversation.messages[-1].cut_off
    assert texts(final)[-1].endswith("*[cut off]*")


def test_a_page_that_goes_away_mid_reply_stops_the_model(fed: Fed) -> None:
    chat = web(fed)
    views = chat.send("hi")
    next(views)
    fed.feed.put("a")
    next(views)
    closed = threading.Event()

    def keep_generating() -> None:  # a model goes on until it is told to stop
        while not closed.wait(0.01):
            fed.feed.put("b")

    threading.Thread(target=keep_generating, daemon=True).start()
    views.close()  # what gradio does when the tab closes: the worker is stopped and joined
    closed.set()
    assert chat.session.conversation.messages[-1].cut_off
    assert chat.undo().notice == "removed the last exchange"  # and the chat is free again


def test_one_action_at_a_time(fed: Fed) -> None:
    chat = web(fed)
    views = chat.send("first")
    next(views)
    refused = last(chat.send("second"))
    assert refused.notice == BUSY and refused.draft == "second"
    assert chat.undo().notice == BUSY
    assert chat.clear().notice == BUSY
    assert chat.swap_model("echo").notice == BUSY
    assert last(chat.retry()).notice == BUSY
    fed.feed.put(None)
    assert texts(last(views)) == ["first", ""]
    assert chat.swap_model("echo").notice.startswith("now echo")


def test_an_error_mid_reply_keeps_the_conversation_and_the_message(fed: Fed) -> None:
    chat = web(fed)
    fed.feed.put(None)
    last(chat.send("kept"))
    views = chat.send("lost")
    next(views)
    fed.feed.put("par")
    fed.feed.put(GenerationError("out of memory while generating; the conversation is kept"))
    final = last(views)
    assert final.notice == "error: out of memory while generating; the conversation is kept"
    assert texts(final) == ["kept", ""]  # the failed turn is rolled back
    assert final.draft == "lost"  # and the message goes back into the box


def test_a_bug_is_shown_in_the_page_not_raised(fed: Fed, caplog: pytest.LogCaptureFixture) -> None:
    chat = web(fed)
    views = chat.send("hi")
    next(views)
    fed.feed.put(ValueError("boom"))
    final = last(views)
    assert final.notice == "internal error (ValueError: boom); the chat goes on"
    assert "Traceback" in caplog.text  # the log keeps what a bug report needs


def test_a_prompt_too_long_is_refused_in_words() -> None:
    chat = web(EchoBackend(context_length=64), max_new_tokens="16")
    final = last(chat.send("word " * 100))
    assert final.notice.startswith("error: the prompt needs 108 tokens but only 48 fit")
    assert final.messages == [] and final.draft == ("word " * 100).strip()


def test_dropped_turns_are_noted() -> None:
    chat = web(EchoBackend(context_length=64), max_new_tokens="16")
    # each turn takes 18 tokens; 48 are left for the prompt once the reply's 16 are kept
    notices = [last(chat.send(f"message number {i} here")).notice for i in range(5)]
    assert notices[:3] == ["", "", ""]
    # once turns must go, they go in chunks: down to 75% of the 48 tokens, 2 turns of 18
    assert notices[3] == (
        "The 2 oldest turns are left out to fit the 64-token context: the model no longer "
        "sees them. Old turns go in chunks, so the cached prompt is rebuilt only now and then. "
        "Clear the chat to start afresh."
    )
    assert notices[4] == ""  # said once: the next turn fits beside them, nothing more goes
    assert len(chat.session.conversation.messages) == 10  # left out of the prompt, not deleted


def test_empty_message_is_not_sent(scripted: ScriptedBackend) -> None:
    chat = web(scripted)
    assert last(chat.send("   ")).notice == "type a message first"
    assert scripted.history == []


def test_retry_undo_clear(scripted: ScriptedBackend) -> None:
    chat = web(scripted)
    assert last(chat.retry()).notice == "nothing to retry"
    assert chat.undo().notice == "nothing to undo"
    scripted.enqueue(["first answer"])
    scripted.enqueue(["second answer"])
    last(chat.send("question"))
    retried = chat.retry()
    assert texts(next(retried)) == ["question"]  # the old reply is not shown while retrying
    assert texts(last(retried)) == ["question", "second answer"]
    assert [m.content for m in scripted.history[1]] == ["question"]
    undone = chat.undo()
    assert undone.messages == [] and undone.notice == "removed the last exchange"
    assert undone.status == "scripted · 0 / 4096 context tokens used"
    last(chat.send("again"))
    cleared = chat.clear()
    assert cleared.messages == [] and "new conversation" in cleared.notice


def test_swap_model_keeps_the_conversation() -> None:
    chat = web(load_backend("echo"))
    last(chat.send("hello"))
    view = chat.swap_model(" echo-small ")
    assert view.notice == "now echo-small (echo, context 1024); 2 messages kept"
    assert texts(view) == ["hello", "You said: hello"]
    assert view.status.startswith("echo-small · ") and view.status.endswith(
        "/ 1024 context tokens used"
    )
    assert chat.session.sources["model"] == "/model echo-small"
    assert texts(last(chat.send("still here?")))[-1] == "You said: still here?"
    assert chat.swap_model("echo-small").notice == ""  # the same model: nothing to do


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("nosuch", "error: unknown model 'nosuch'"),
        ("big", "error: not enough memory for big on cpu"),
        ("broken", "internal error (RuntimeError: a bug while loading)"),
    ],
)
def test_a_model_that_fails_to_load_leaves_the_old_one(name: str, words: str) -> None:
    chat = web(load_backend("echo"))
    last(chat.send("hello"))
    view = chat.swap_model(name)
    assert view.notice.startswith(words) and view.notice.endswith("(still on echo)")
    assert chat.session.backend.model_id == "echo" and len(view.messages) == 2


def test_parameters_go_through_generation_config(scripted: ScriptedBackend) -> None:
    chat = web(scripted)
    assert chat.set_parameter("temperature", 0.3) == (0.3, "temperature = 0.3")
    assert chat.session.sources["temperature"] == "page"
    assert chat.set_parameter("top_k", 40.0) == (40, "top_k = 40")  # a slider's float
    assert chat.set_parameter("seed", 7) == (7, "seed = 7")
    assert chat.set_parameter("seed", None) == (None, "seed = None")  # an empty box: random
    assert chat.set_parameter("temperature", None) == (0.3, "")  # elsewhere: no change
    value, notice = chat.set_parameter("top_p", 0)
    assert (value, notice) == (0.9, "error: top_p must be in (0, 1], got 0")
    value, notice = chat.set_parameter("max_new_tokens", 4096)
    assert value == 512 and notice.startswith("error: max_new_tokens must be below the context")
    assert chat.session.config == GenerationConfig(temperature=0.3, top_k=40)
    with pytest.raises(ValueError, match="no control sets"):
        chat.set_parameter("stop", "x")


def test_stop_sequences_one_a_line(scripted: ScriptedBackend) -> None:
    chat = web(scripted)
    shown, notice = chat.set_stop('"\\nUser:"\n###\n\n')
    assert chat.session.config.stop == ("\nUser:", "###")
    assert (shown, notice) == ("'\\nUser:'\n###", "stop sequences: '\\nUser:', '###'")
    assert chat.set_stop(shown)[0] == shown  # what the box shows reads back the same
    shown, notice = chat.set_stop('"bad \\x escape"')
    assert chat.session.config.stop == ("\nUser:", "###")  # refused: the box shows them again
    assert shown == "'\\nUser:'\n###" and notice.startswith("error: cannot read the quoted")
    assert stop_lines(("a b", " lead", "'q'")) == "a b\n' lead'\n\"'q'\""


def test_system_prompt(scripted: ScriptedBackend) -> None:
    chat = web(scripted)
    assert chat.set_system("  Be brief.  ").notice == "system prompt: Be brief."
    last(chat.send("hi"))
    assert scripted.history[0][0] == Message("system", "Be brief.")
    assert chat.set_system("").notice == "no system prompt"
    assert chat.session.conversation.system is None


def test_controls_show_the_session(scripted: ScriptedBackend) -> None:
    chat = web(scripted, temperature="0.2", system="Be kind.", stop=("END",))
    controls = chat.controls()
    assert controls.model == "scripted" and controls.context_length == 4096
    assert controls.config["temperature"] == 0.2 and controls.system == "Be kind."
    assert controls.stop == "END"
    assert "echo" in controls.models and controls.models[-1] == "scripted"  # the one in use
    assert not any(":" in name for name in controls.models)  # hf:PATH is typed, not picked


def test_the_page_builds() -> None:
    pytest.importorskip("gradio")
    from minichat.web.app import build

    page = build(web(load_backend("echo")))
    ids = {block.elem_id for block in page.blocks.values() if getattr(block, "elem_id", None)}
    assert {"chat", "status", "notice", "message", "model", "temperature", "seed"} <= ids


def test_without_gradio_web_says_what_to_install() -> None:
    code = (
        "import sys\nsys.modules['gradio'] = None\nfrom minichat.cli.app import main\n"
        "sys.argv = ['minichat', 'web', '--model', 'echo']\nmain()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert_one_error_line(result, "pip install 'minichat[web]'")


def test_help_imports_neither_gradio_nor_torch() -> None:
    printed, loaded = imported("--help", modules=("gradio", "torch"))
    assert "web" in printed
    assert loaded == {"gradio": False, "torch": False}


def test_web_flags() -> None:
    result = minichat("web", "--help", env={"COLUMNS": "200"})
    assert result.returncode == 0
    for flag in ("--host", "--port", "--share", "--model", "--temperature", "--stop"):
        assert flag in result.stdout


def test_a_port_in_use_is_one_line() -> None:
    pytest.importorskip("gradio")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = minichat("web", "--model", "echo", "--port", str(port))
    assert_one_error_line(result, f"cannot serve on 127.0.0.1:{port}: the port is in use")
