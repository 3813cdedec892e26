"""The REPL driven as a user drives it: prompt-toolkit pipe input, a capturing console."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from minichat import ChatBackend, Message, ModelNotFoundError, load_backend
from minichat.backends.echo import EchoBackend
from minichat.chat.session import ChatSession
from minichat.repl.loop import Repl
from minichat.repl.prompt import SlashCompleter, history_file, prompt_reader, toolbar_text
from minichat.settings.layered import load_settings
from tests.conftest import ScriptedBackend

ENTER = "\r"


def load_model(name: str, adapter: str | None = None) -> ChatBackend:
    if name == "scripted2":
        backend = ScriptedBackend()
        backend.model_id = "scripted2"
        return backend
    return load_backend(name, adapter=adapter)


def make_session(backend: ChatBackend, **flags: str) -> ChatSession:
    return ChatSession.start(backend, load_settings(flags, environ={}), load_model)


def drive(session: ChatSession, keys: str, *, plain: bool = True, history: bool = False) -> str:
    """Type ``keys`` into the REPL; return everything it printed."""
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=False, color_system=None)
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(keys)
        read = prompt_reader(session, history=history, input=pipe, output=DummyOutput())
        Repl(session, console, plain=plain).run(read)
    return out.getvalue()


@pytest.fixture
def echo() -> ChatSession:
    return make_session(load_backend("echo"))


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()[1:]]  # without the banner


def test_a_conversation_and_exit(scripted: ScriptedBackend) -> None:
    scripted.enqueue(["Hi", " there"])
    scripted.enqueue(["Tea", "!"])
    session = make_session(scripted, system="Be kind.")
    out = drive(session, f"hello{ENTER}tea?{ENTER}/exit{ENTER}")
    assert lines(out) == ["Hi there", "Tea!"]
    assert scripted.history[1] == [
        Message("system", "Be kind."),
        Message("user", "hello"),
        Message("assistant", "Hi there"),
        Message("user", "tea?"),
    ]


def test_ctrl_d_leaves_and_ctrl_c_at_the_prompt_clears_the_line(echo: ChatSession) -> None:
    out = drive(echo, f"half typed\x03hello{ENTER}\x04")
    assert lines(out) == ["You said: hello"]


def test_parameter_commands_and_their_sources(echo: ChatSession) -> None:
    keys = (
        ENTER.join(
            [
                "/temp 0",
                "/top_p 0.5",
                "/top_k 7",
                "/max_tokens 64",
                "/repeat 1.2",
                "/seed 3",
                "/set temperature=0.3 top_k=9",
                "/params",
                "/quit",
            ]
        )
        + ENTER
    )
    out = drive(echo, keys)
    assert lines(out)[:7] == [
        "temperature = 0.0",
        "top_p = 0.5",
        "top_k = 7",
        "max_new_tokens = 64",
        "repetition_penalty = 1.2",
        "seed = 3",
        "temperature = 0.3, top_k = 9",
    ]
    params = {line.split()[0]: line.split()[-1] for line in lines(out)[8:] if line}
    assert params["temperature"] == "/set" and params["top_p"] == "/top_p"
    assert params["seed"] == "/seed" and params["stop"] == "default"
    assert echo.config.top_k == 9 and echo.config.max_new_tokens == 64


def test_bad_value_and_unknown_command_leave_everything_as_it_was(echo: ChatSession) -> None:
    out = drive(echo, f"hi{ENTER}/temp hot{ENTER}/top_p 2{ENTER}/tmep 1{ENTER}/exit{ENTER}")
    assert lines(out) == [
        "You said: hi",
        "temperature must be a number, got 'hot'",
        "usage: /temp X",
        "top_p must be in (0, 1], got 2.0",
        "usage: /top_p X",
        "unknown command /tmep — did you mean /temp?",
    ]
    assert echo.config.temperature == 0.7 and len(echo.conversation.messages) == 2


def test_stop_system_and_help(echo: ChatSession) -> None:
    keys = (
        ENTER.join(
            [
                "/stop add world",
                "hello world again",
                "/stop",
                "/stop clear",
                "/system You are terse.",
                "/system",
                "/help temp",
                "/exit",
            ]
        )
        + ENTER
    )
    out = drive(echo, keys)
    assert lines(out) == [
        "stop sequences: 'world'",
        "You said: hello",
        "stop sequences: 'world'",
        "stop sequences: none",
        "system prompt: You are terse.",
        "system prompt: You are terse.",
        "/temp X  0 is greedy (argmax), up to 5 (also /temperature)",
    ]


def test_help_lists_every_command(echo: ChatSession) -> None:
    from minichat.repl.commands import COMMANDS

    out = drive(echo, f"/help{ENTER}/exit{ENTER}")
    for command in COMMANDS:
        assert f"/{command.name}" in out


def test_model_swap_keeps_the_conversation(scripted: ScriptedBackend) -> None:
    session = make_session(scripted)
    out = drive(session, f"first{ENTER}/model scripted2{ENTER}second{ENTER}/exit{ENTER}")
    assert session.backend.model_id == "scripted2"
    assert "now scripted2 (scripted, context 4096); 2 messages kept" in out
    assert [m.content for m in session.backend.history[0]] == ["first", "ok", "second"]  # type: ignore[attr-defined]


def test_adapter_command_shows_and_refuses_in_words(echo: ChatSession) -> None:
    out = drive(echo, f"hi{ENTER}/adapter{ENTER}/adapter ./mine{ENTER}again{ENTER}/exit{ENTER}")
    assert "adapter: none (setting: auto)" in out
    assert "error: --adapter changes a local model's weights; echo is not a local model" in out
    assert echo.backend.adapter is None and lines(out)[-1] == "You said: again"


def test_failed_model_swap_keeps_the_old_backend(echo: ChatSession) -> None:
    out = drive(echo, f"hi{ENTER}/model nosuch{ENTER}again{ENTER}/exit{ENTER}")
    assert "error: unknown model 'nosuch'" in out
    assert echo.backend.model_id == "echo" and lines(out)[-1] == "You said: again"
    with pytest.raises(ModelNotFoundError):
        echo.swap_model("nosuch")


def test_clear_undo_retry(scripted: ScriptedBackend) -> None:
    for reply in (["A"], ["B"], ["B2"], ["C"]):
        scripted.enqueue(reply)
    session = make_session(scripted)
    keys = (
        ENTER.join(["one", "two", "/retry", "/undo", "/undo", "/undo", "three", "/clear", "/exit"])
        + ENTER
    )
    out = drive(session, keys)
    assert lines(out) == [
        "A",
        "B",
        "B2",
        "removed the last exchange",
        "removed the last exchange",
        "nothing to undo",
        "C",
        "new conversation (system prompt and parameters kept)",
    ]
    assert scripted.history[2] == [
        Message("user", "one"),
        Message("assistant", "A"),
        Message("user", "two"),
    ]
    assert scripted.history[3] == [Message("user", "three")]
    assert session.conversation.messages == []


def test_save_then_load_round_trips_exactly(echo: ChatSession, tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    drive(
        echo,
        ENTER.join(
            ["/temp 0.2", "/stop add END", "/system Be brief.", "hello", f"/save {path}", "/exit"]
        )
        + ENTER,
    )
    saved = json.loads(path.read_text())
    assert saved["model"] == "echo" and saved["system"] == "Be brief."
    assert saved["parameters"]["temperature"] == 0.2 and saved["parameters"]["stop"] == ["END"]

    fresh = make_session(load_backend("echo"))
    out = drive(fresh, f"/load {path}{ENTER}/exit{ENTER}")
    assert fresh.config == echo.config
    assert fresh.conversation == echo.conversation
    assert ">>> hello" in out and "You said: hello" in out
    fresh.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == path.read_text()


def test_a_damaged_file_loads_nothing(echo: ChatSession, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": "minichat-chat", "parameters": {"top_p": 7}, "model": "echo"}')
    out = drive(echo, f"hi{ENTER}/load {path}{ENTER}/load {tmp_path}/none.json{ENTER}/exit{ENTER}")
    assert f"error: {path} is damaged: top_p must be in (0, 1]" in out
    assert "error: no saved chat at" in out
    assert len(echo.conversation.messages) == 2


def test_ctrl_c_mid_reply_keeps_the_partial_reply(scripted: ScriptedBackend) -> None:
    import signal

    class Interrupted(ScriptedBackend):
        def generate(self, messages, config, cancel):  # type: ignore[no-untyped-def]
            yield "partial "
            signal.raise_signal(signal.SIGINT)  # the user presses Ctrl+C mid-reply
            if not cancel.is_set():
                yield "never shown"
            from minichat.backend import Outcome

            return Outcome("cancelled", 5, 1)

    session = make_session(Interrupted())
    out = drive(session, f"go{ENTER}next{ENTER}/exit{ENTER}")
    assert lines(out)[0] == "partial  [cut off]"
    assert session.conversation.messages[1] == Message("assistant", "partial ", cut_off=True)
    assert len(session.conversation.messages) == 4  # and the chat went on


def test_multiline_block_and_escape_enter(scripted: ScriptedBackend) -> None:
    session = make_session(scripted)
    drive(session, f'"""first{ENTER}second{ENTER}third"""{ENTER}a\x1b{ENTER}b{ENTER}/exit{ENTER}')
    assert scripted.history[0][-1] == Message("user", "first\nsecond\nthird")
    assert scripted.history[1][-1] == Message("user", "a\nb")


def test_dropped_turns_get_one_dim_line() -> None:
    # the web page's test_dropped_turns_are_noted, typed: turns go at the 4th message only
    session = make_session(EchoBackend(context_length=64), max_new_tokens="16")
    messages = [f"message number {i} here" for i in range(5)]
    out = drive(session, ENTER.join([*messages, "/exit"]) + ENTER)
    assert "The 2 oldest turns are left out to fit the 64-token context" in out
    assert out.count("left out to fit") == 1  # said once, when it happens, as on the web


def test_system_prompt_is_counted_in_the_toolbar_at_once(echo: ChatSession) -> None:
    system = "You answer with care and in detail. " * 8
    drive(echo, f"hello{ENTER}/system {system}{ENTER}/exit{ENTER}")
    text = toolbar_text(echo)
    assert f"context {echo.backend.count_tokens(echo.conversation.prompt())}/4096" in text
    assert echo.context_used > 60  # the long system prompt counts before the next message


def test_markdown_is_rendered_with_code_blocks(scripted: ScriptedBackend) -> None:
    scripted.enqueue(["# Title\n\nSome **bold** text.\n\n", "```python\nprint('hi')\n", "```\n"])
    out = drive(make_session(scripted), f"md{ENTER}/exit{ENTER}", plain=False)
    assert "Title" in out and "bold" in out and "**" not in out
    assert "print('hi')" in out and "```" not in out


def test_stats_after_turns(echo: ChatSession) -> None:
    out = drive(echo, f"one two{ENTER}/stats{ENTER}/exit{ENTER}")
    assert "last turn" in out and "session, 1 turns" in out
    assert "from cache" in out and "prefilled" in out
    assert echo.context_used == echo.last.stats.prompt_tokens + 4  # type: ignore[union-attr]


def test_history_persists_across_runs(echo: ChatSession) -> None:
    drive(echo, f"remember me{ENTER}/exit{ENTER}", history=True)
    assert "remember me" in history_file().read_text()
    up = "\x1b[A"
    drive(echo, up + up + ENTER + "/exit" + ENTER, history=True)  # Up, Up: before "/exit"
    assert [m.content for m in echo.conversation.messages].count("remember me") == 2


def test_completion_of_commands_and_arguments(tmp_path: Path) -> None:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    def complete(text: str) -> list[str]:
        found = SlashCompleter().get_completions(Document(text, len(text)), CompleteEvent())
        return [c.text for c in found]

    assert complete("/te") == ["/temp", "/temperature"]
    assert complete("/max_n") == ["/max_new_tokens"]  # every parameter by its full name
    assert "top_p=" in complete("/set temperature=1 to")
    assert complete("/model ec") == ["echo"]
    (tmp_path / "saved.json").write_text("{}")
    assert complete(f"/load {tmp_path}/sa") == ["ved.json"]
    assert complete("hello") == []


def test_toolbar_shows_model_parameters_and_context(echo: ChatSession) -> None:
    drive(echo, f"/seed 4{ENTER}hi there{ENTER}/exit{ENTER}")
    text = toolbar_text(echo)
    assert text.startswith(" echo │ temp 0.7 top_p 0.9 top_k 50 max 512 seed 4")
    assert f"context {echo.context_used}/4096 tokens" in text


@pytest.fixture(autouse=True)
def no_real_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TERM", "dumb")
    yield


def test_bracketed_paste_keeps_long_text_whole(scripted: ScriptedBackend) -> None:
    pasted = "line one\nline two\n\n    indented code\n" + "x" * 3000
    session = make_session(scripted)
    drive(session, f"\x1b[200~{pasted}\x1b[201~{ENTER}/exit{ENTER}")
    assert scripted.history[0][-1] == Message("user", pasted)


def test_ctrl_r_searches_the_history(scripted: ScriptedBackend) -> None:
    session = make_session(scripted)
    drive(session, f"alpha question{ENTER}beta question{ENTER}/exit{ENTER}", history=True)
    drive(session, f"\x12alph{ENTER}{ENTER}/exit{ENTER}", history=True)  # Ctrl+R, accept, send
    assert scripted.history[-1][-1] == Message("user", "alpha question")


def test_odd_input_never_ends_the_chat(echo: ChatSession, tmp_path: Path) -> None:
    keys = (
        ENTER.join(
            [
                '/set stop="a',  # an unclosed quote
                "/stop add C:\\new\\x",  # backslashes are kept as typed
                '/stop add "\\nUser:"',  # a quoted string takes escapes
                "/stop add [/x]",  # not Rich markup
                "/system [bold]Be[/bold] terse",
                "/params",
                f"/save {tmp_path}",  # a folder
                "/save /proc/nope/chat.json",  # cannot be written
                "/max_tokens 100000",
                "still here",
                "/exit",
            ]
        )
        + ENTER
    )
    out = drive(echo, keys)
    assert "cannot read 'stop=\"a'" in out and "usage: /set KEY=VALUE" in out
    assert echo.config.stop == ("C:\\new\\x", "\nUser:", "[/x]")
    assert "'[/x]'" in out and "'[bold]Be[/bold] terse'" in out
    assert f"error: {tmp_path} is a folder" in out
    assert "error: cannot save to /proc/nope/chat.json" in out
    assert "max_new_tokens must be below the context length (4096), got 100000" in out
    assert lines(out)[-1] == "You said: still here"


def test_a_failed_retry_keeps_the_exchange(scripted: ScriptedBackend) -> None:
    scripted.enqueue(["first reply"])
    session = make_session(scripted)
    small = ScriptedBackend(context_length=8)
    drive(session, f"question{ENTER}/exit{ENTER}")
    session.backend = small  # a backend whose context the question no longer fits
    out = drive(session, f"/retry{ENTER}/exit{ENTER}")
    assert "error: the reply limit of 512 tokens leaves no room" in out
    assert [m.content for m in session.conversation.messages] == ["question", "first reply"]


def test_context_in_use_follows_undo(echo: ChatSession) -> None:
    drive(echo, f"one{ENTER}two three{ENTER}/undo{ENTER}/exit{ENTER}")
    assert echo.context_used == echo.backend.count_tokens(echo.conversation.prompt())
    drive(echo, f"/clear{ENTER}/exit{ENTER}")
    assert echo.context_used == 0


def test_streamed_markdown_keeps_paragraph_breaks(scripted: ScriptedBackend) -> None:
    scripted.enqueue(["para one\n\n", "para two\n\n", "para three"])
    out = drive(make_session(scripted), f"go{ENTER}/exit{ENTER}", plain=False)
    assert "para one\n\npara two\n\npara three" in "\n".join(lines(out))


def test_the_live_tail_never_outgrows_the_screen() -> None:
    from minichat.repl.render import visible_tail

    code = "```python\n" + "\n".join(f"print({i})" for i in range(50))
    assert visible_tail(code, 10).splitlines() == [
        "```python",
        *[f"print({i})" for i in range(41, 50)],
    ]
    prose = "\n".join(f"line {i}" for i in range(30))
    assert visible_tail(prose, 5).splitlines() == [f"line {i}" for i in range(25, 30)]
    assert visible_tail("short", 5) == "short"


def test_the_default_reply_limit_fits_a_short_context() -> None:
    short = make_session(ScriptedBackend(context_length=256))
    assert short.config.max_new_tokens == 128  # half the context, not the default 512
    short.load_model = lambda name, adapter: ScriptedBackend(context_length=8192)
    short.swap_model("long")
    assert short.config.max_new_tokens == 512
    chosen = make_session(ScriptedBackend(context_length=8192), max_new_tokens="300")
    chosen.load_model = lambda name, adapter: ScriptedBackend(context_length=1024)
    chosen.swap_model("short")
    assert chosen.config.max_new_tokens == 300  # the user's own limit is never changed
