"""The chat core against a reply that goes wrong mid-call: a call the reply limit cuts
short is neither run nor shown as its markup, and the user is told what to change."""

from __future__ import annotations

import pytest

from minichat import ChatBackend
from minichat.chat.events import Event, Notice, ToolResult, finish
from minichat.chat.session import ChatSession
from minichat.settings.layered import load_settings
from minichat.tools.builtin import builtin
from tests.test_tools_calls import tiny

__all__ = ["tiny"]  # the fixture, shared with the tool-call tests


@pytest.mark.parametrize("limit", [12, 60, 90])
def test_a_call_cut_by_the_reply_limit_is_not_run_and_leaves_no_markup(
    tiny: ChatBackend, limit: int
) -> None:
    session = ChatSession.start(
        tiny, load_settings({"max_new_tokens": str(limit), "temperature": "0"}, environ={})
    )
    session.use_tools(["calculator"], "--tools", "required")
    seen: list[Event] = []
    shown: list[str] = []
    exchange = finish(session.turn("what is 2 plus 2?"), shown.append, seen.append)
    ran = [event for event in seen if isinstance(event, ToolResult)]
    assert exchange.finish_reason == "length"
    assert ran == [] and "<tool_call>" not in "".join(shown) + exchange.reply
    notices = [event.text for event in seen if isinstance(event, Notice)]
    if limit > 12:  # far enough to name the tool (seen at 60 and 90): the user hears of it
        assert exchange.tool_calls[0].name == "calculator"
        assert any("cut a call to calculator short" in text for text in notices), notices
    assert session.conversation.messages[-1].content == exchange.reply


def test_a_call_streams_a_piece_per_token_so_its_speed_is_measured(tiny: ChatBackend) -> None:
    """Pieces held back while a call was written all came at its end: the time to the
    first token was nearly the whole reply, and the speed absurd (255,526 tokens/s)."""
    import threading

    from minichat import GenerationConfig, Message
    from minichat.tools.spec import Tools

    tools = Tools(tuple(f.tool for f in builtin(["calculator"])), "required")
    config = GenerationConfig(max_new_tokens=60, temperature=0.0)
    pieces = tiny.generate_with_tools(
        [Message("user", "what is 2 plus 2?")], config, threading.Event(), tools
    )
    count = 0
    while True:
        try:
            next(pieces)
            count += 1
        except StopIteration as done:
            outcome = done.value
            break
    assert outcome.new_tokens == 60 and count >= outcome.new_tokens
