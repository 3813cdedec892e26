"""Input that never ends or is not a file: stdin, piped chat lines, a saved chat to
resume, a config file. Each is bounded and refused in one line; nothing hangs."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minichat.chat import transcript
from minichat.cli import oneshot
from minichat.errors import ConfigError, InputError, MinichatError
from minichat.repl.loop import line_reader
from minichat.settings.layered import load_settings


def test_stdin_past_the_cap_is_refused_not_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oneshot, "MAX_STDIN", 1000)
    assert oneshot.read_prompt(io.BytesIO(b"x" * 1000)) == "x" * 1000
    with pytest.raises(InputError, match="stdin holds more than"):
        oneshot.read_prompt(io.BytesIO(b"x" * 1001))


def test_an_endless_stdin_is_one_line_from_the_command() -> None:
    with open("/dev/zero", "rb") as endless:
        done = subprocess.run(
            [sys.executable, "-m", "minichat", "ask", "-m", "echo"],
            stdin=endless,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert done.stderr.startswith("minichat: error: stdin holds more than 8 MiB")
    assert done.stderr.count("\n") == 1 and done.stdout == ""


def test_a_piped_line_past_the_cap_is_skipped_and_the_next_is_read() -> None:
    read = line_reader(io.StringIO("x" * 25 + "\nhello\n" + "y" * 10).readline, limit=10)
    with pytest.raises(InputError, match="longer than 10 characters was skipped"):
        read("")
    assert read("") == "hello"
    with pytest.raises(InputError):
        read("")  # exactly the limit with no newline: no way to tell it ends there
    with pytest.raises(EOFError):
        read("")


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "huge"])
def test_a_saved_chat_that_is_no_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    path = tmp_path / "chat.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        os.symlink("/dev/zero", path)
    elif kind == "folder":
        path.mkdir()
    else:
        monkeypatch.setattr(transcript, "MAX_BYTES", 100)
        path.write_text("[" * 101)
    with pytest.raises(MinichatError, match="is not a saved minichat chat"):
        transcript.load(path)


def test_a_deeply_nested_saved_chat_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text("[" * 100_000)
    with pytest.raises(MinichatError, match="is not a saved minichat chat"):
        transcript.load(path)


@pytest.mark.parametrize("kind", ["fifo", "huge"])
def test_a_config_file_that_is_no_file_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "config.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.write_text("# settings\n" * 100_000)
    with pytest.raises(ConfigError, match=str(path)):
        load_settings({}, config_file=path, environ={})


def test_an_argument_that_is_not_utf8_is_one_line_and_the_chat_keeps_nothing() -> None:
    done = subprocess.run(
        [sys.executable.encode(), b"-m", b"minichat", b"ask", b"-m", b"echo", b"hello \xff"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.decode() == (
        "minichat: error: the message is not UTF-8 text (character 7 is '\\udcff'); "
        "convert it first, for example with iconv -t UTF-8\n"
    )


def test_a_lone_surrogate_leaves_the_conversation_as_it_was() -> None:
    from minichat.backends.echo import EchoBackend
    from minichat.chat.session import ChatSession

    session = ChatSession.start(EchoBackend(), load_settings({}, environ={}))
    session.send("first")
    before = list(session.conversation.messages)
    with pytest.raises(InputError, match="not UTF-8"):
        session.send("half a pair \ud800")
    assert session.conversation.messages == before
