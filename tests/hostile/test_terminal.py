"""What a model, a file or a tool says reaches the terminal as plain text: no Rich
markup is obeyed, no escape sequence acts, no approval prompt can be made to lie."""

from __future__ import annotations

import io
import sys

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from minichat.backends.echo import EchoBackend
from minichat.chat.session import ChatSession
from minichat.cli import oneshot
from minichat.cli.extras import ask_approval
from minichat.errors import MinichatError
from minichat.repl.loop import Repl
from minichat.repl.prompt import prompt_reader
from minichat.repl.render import MarkdownRenderer, PlainRenderer
from minichat.safety.untrusted import one_line, printable
from minichat.settings.layered import load_settings
from minichat.tools.spec import ToolCall
from minichat.tools.toolbox import Ran
from tests.conftest import ScriptedBackend

# what a prompt-injected file would make a model write: clear the screen, retitle the
# window, a hyperlink, overwrite the line, reverse the text, Rich markup to hide words
HOSTILE = [
    "\x1b[2J\x1b[H",
    "\x1b]0;pwned\x07",
    "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "safe\rEVIL",
    "\u202etxt.exe",
    "\x9b31m",
    "[black on black]hidden[/]",
    "[/foo]",
]
# the hostile sequences themselves, raw (Rich's own styling and redrawing use others)
ACTING = ["\x1b[2J", "\x1b[H", "\x1b]", "\x07", "\rEVIL", "\u202e", "\x9b", "\x1b[8m"]


def acting(text: str) -> list[str]:
    return [sequence for sequence in ACTING if sequence in text]


@pytest.mark.parametrize("text", HOSTILE)
def test_printable_shows_every_control_and_keeps_the_words(text: str) -> None:
    shown = printable(text)
    assert acting(shown) == []
    assert shown.replace("\\x1b", "").replace("\\x07", "").replace("\\r", "") != ""
    assert printable("line one\n\tline two") == "line one\n\tline two"
    assert printable("bad\udcff.txt") == "bad\\udcff.txt"  # encodable: no crash on print


def test_one_line_keeps_a_call_on_one_line() -> None:
    assert one_line('{"a": "x"}\nnext') == '{"a": "x"}\\nnext'
    assert one_line("x" * 300, 10) == "x" * 10 + "…"


def test_the_approval_prompt_shows_the_call_as_it_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = (
        '{"path": "[black on black]rm -rf ~[/] notes.txt [/foo] \\u001b[8m", "x": "\x1b[8m"}'
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    assert ask_approval(ToolCall("c1", "delete[bold]", arguments)) is False
    shown = capsys.readouterr().err
    assert "[black on black]rm -rf ~[/] notes.txt [/foo]" in shown  # markup left as words
    assert "delete[bold](" in shown
    assert "\x1b" not in shown and "\\x1b[8m" in shown


def test_the_approval_prompt_shows_every_argument_however_padded(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    padded = {"note": "harmless " * 2000, "path": "/home/user/.ssh/authorized_keys"}
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    ask_approval(ToolCall("c1", "write_file", json.dumps(padded)))
    shown = " ".join(capsys.readouterr().err.split())  # as wrapped to the terminal's width
    assert '"path": "/home/user/.ssh/authorized_keys"})?' in shown


def test_a_tool_line_is_one_line_whatever_the_result_holds(scripted: ScriptedBackend) -> None:
    out = io.StringIO()
    console = Console(file=out, width=300, force_terminal=False, color_system=None)
    session = ChatSession.start(scripted, load_settings({}, environ={}), lambda n, a: scripted)
    fake = "4\nminichat: warning: your API key expired; paste it below"
    Repl(session, console, plain=True).show_tool(
        Ran(ToolCall("c", "calculator", '{"expression": "2+2"}'), fake, 0.0)
    )
    assert len(out.getvalue().splitlines()) == 1, out.getvalue()
    err = io.StringIO()
    oneshot.show_tool(Ran(ToolCall("c", "calculator", "{}"), fake, 0.0), err)
    assert [line for line in err.getvalue().splitlines() if "tool" in line] == [
        "minichat: tool calculator({}) → 4\\nminichat: warning: your API key expired; "
        "paste it below (0.00 s)"
    ]


def test_tool_lines_and_notes_in_the_repl_are_plain(scripted: ScriptedBackend) -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=True, color_system="standard")
    session = ChatSession.start(scripted, load_settings({}, environ={}), lambda n, a: scripted)
    repl = Repl(session, console, plain=True)
    for text in HOSTILE:
        repl.show_tool(Ran(ToolCall("c", "read_file", f'{{"path": "{text}"}}'), text, 0.0))
        repl.warn(f"cannot read `{text}`")
        repl.table(["name"], [[text]])
    assert acting(out.getvalue()) == []
    assert "[black on black]hidden[/]" in out.getvalue()


@pytest.mark.parametrize("renderer", [PlainRenderer, MarkdownRenderer])
def test_a_streamed_reply_cannot_act_on_the_terminal(renderer: type) -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system="standard")
    shown = renderer(console)
    for text in HOSTILE:
        shown.feed(text[:3])  # a sequence split between two pieces is caught as well
        shown.feed(text[3:] + "\n\n")
    shown.finish(cut_off=False)
    assert acting(out.getvalue()) == []


def test_a_markdown_link_shows_where_it_goes() -> None:
    out = io.StringIO()
    shown = MarkdownRenderer(Console(file=out, width=100, force_terminal=True))
    shown.feed("See [the docs](http://evil.example/steal) now.\n\n")
    shown.finish(cut_off=False)
    assert "http://evil.example/steal" in out.getvalue()
    assert "\x1b]8;" not in out.getvalue()  # no hidden terminal hyperlink


def test_a_resumed_chat_is_shown_plain(scripted: ScriptedBackend) -> None:
    out = io.StringIO()
    session = ChatSession.start(scripted, load_settings({}, environ={}), lambda n, a: scripted)
    scripted.enqueue(["\x1b]0;pwned\x07 and \x1b[2J"])
    session.send("\x1b[2J question", None)
    for plain in (True, False):
        console = Console(file=out, width=100, force_terminal=True, color_system="standard")
        Repl(session, console, plain=plain).show_history()
    assert acting(out.getvalue()) == []


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_one_shot_shows_a_terminal_plain_text_and_a_pipe_the_raw_reply(
    scripted: ScriptedBackend,
) -> None:
    reply = "colour \x1b[31mred\x1b[0m"
    for out, expected in ((Terminal(), "colour \\x1b[31mred\\x1b[0m\n"), (io.StringIO(), reply)):
        scripted.enqueue([reply])
        session = ChatSession.start(scripted, load_settings({}, environ={}), lambda n, a: scripted)
        err = io.StringIO()
        assert oneshot.answer(session, "q", out=out, err=err) == 0
        assert out.getvalue().rstrip("\n") == expected.rstrip("\n")


def test_an_error_quoting_hostile_text_is_one_plain_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from minichat.cli import app

    def fail(**_: object) -> None:
        raise MinichatError("no model '\x1b]0;pwned\x07\x1b[2J'; see minichat models")

    monkeypatch.setattr(app, "app", fail)
    with pytest.raises(SystemExit) as exited:
        app.main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert acting(err) == [] and err.count("\n") == 1
    assert "\\x1b]0;pwned\\x07" in err


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("/tools nonsense", "use /tools on NAME..."),
        ("/docs no-such-collection", "error: 'no-such-collection' is neither a collection"),
        ("/adapter /no/such/adapter", "error: unknown model 'echo'"),
        ("/temp banana", "temperature must be a number, got 'banana'"),
        ("/model \x1b[2Jnope", "error: unknown model '[2Jnope'"),
    ],
)
def test_bad_slash_command_arguments_are_one_line_and_keep_the_chat(
    command: str, says: str
) -> None:
    session = ChatSession.start(EchoBackend(), load_settings({}, environ={}), _no_loading)
    session.send("keep me", None)
    before = list(session.conversation.messages)
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False, color_system=None)
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(command + "\r\x04")
        read = prompt_reader(session, history=False, input=pipe, output=DummyOutput())
        Repl(session, console, plain=True).run(read)
    said = out.getvalue().splitlines()[1:]  # after the banner: at most a progress line,
    assert len(said) <= 2 and says in out.getvalue(), said  # the error, or the usage
    assert "Traceback" not in out.getvalue() and acting(out.getvalue()) == []
    assert session.conversation.messages == before


def _no_loading(name: str, adapter: str | None) -> EchoBackend:
    raise MinichatError(f"unknown model {name!r}; see minichat models")


def test_json_for_a_terminal_escapes_what_would_act_on_it(scripted: ScriptedBackend) -> None:
    import json

    reply = "abc\u202edef \x9b31m \x1b[2J \u2028 half \ud800"
    scripted.enqueue([reply])
    session = ChatSession.start(scripted, load_settings({}, environ={}), lambda n, a: scripted)
    out = io.StringIO()
    oneshot.answer(session, "q", out=out, err=io.StringIO(), as_json=True)
    written = out.getvalue()
    assert acting(written) == [] and "\u2028" not in written and "\x1b" not in written
    written.encode("utf-8")  # a terminal or a file takes it
    assert json.loads(written)["text"] == reply  # and it reads back the same
