"""The line-by-line chat: whole transcripts on a scripted backend."""

from __future__ import annotations

import io
from collections.abc import Callable

from minichat import Message
from minichat.cli import linechat
from minichat.settings import load_settings
from tests.conftest import ScriptedBackend


def reader(*lines: str | type[BaseException]) -> Callable[[str], str]:
    queue = list(lines)

    def read(_prompt: str) -> str:
        if not queue:
            raise EOFError
        item = queue.pop(0)
        if isinstance(item, type):
            raise item()
        return item

    return read


def test_transcript_keeps_the_whole_conversation(scripted: ScriptedBackend) -> None:
    scripted.enqueue(["Hi", "!"])
    scripted.enqueue(["Tea", " is", " nice."])
    out, err = io.StringIO(), io.StringIO()
    settings = load_settings({"system": "Be kind."}, environ={})
    conversation = linechat.run(
        scripted, settings, read_line=reader("hello", "tea?", "/exit"), out=out, err=err
    )
    assert out.getvalue() == "Hi!\nTea is nice.\n"
    assert scripted.history[1] == [
        Message("system", "Be kind."),
        Message("user", "hello"),
        Message("assistant", "Hi!"),
        Message("user", "tea?"),
    ]
    assert len(conversation.messages) == 4


def test_ctrl_c_at_the_prompt_or_before_a_reply_never_ends_the_chat(
    scripted: ScriptedBackend,
) -> None:
    def interrupt(*_: object) -> int:
        raise KeyboardInterrupt

    scripted.count_tokens = interrupt  # type: ignore[method-assign]
    out, err = io.StringIO(), io.StringIO()
    settings = load_settings({}, environ={})
    conversation = linechat.run(
        scripted,
        settings,
        read_line=reader(KeyboardInterrupt, "hello", "/quit"),
        out=out,
        err=err,
    )
    assert conversation.messages == []  # the refused message was rolled back, the loop went on


def test_an_error_is_one_line_and_the_chat_goes_on() -> None:
    backend = ScriptedBackend(context_length=20)
    backend.enqueue(["fine"])
    out, err = io.StringIO(), io.StringIO()
    settings = load_settings({"max_new_tokens": "5"}, environ={})
    conversation = linechat.run(
        backend, settings, read_line=reader("word " * 50, "short"), out=out, err=err
    )
    assert "error: the prompt needs" in err.getvalue()
    assert [m.content for m in conversation.messages] == ["short", "fine"]
