"""Conversation.exchange: one turn, fitted to the context, kept or rolled back."""

from __future__ import annotations

import pytest

from minichat import Conversation, GenerationConfig, Message, PromptTooLongError
from tests.conftest import ScriptedBackend

CONFIG = GenerationConfig(max_new_tokens=10)


def test_exchange_keeps_both_sides_and_streams_pieces(scripted: ScriptedBackend) -> None:
    scripted.enqueue(["Hel", "lo", "!"])
    conversation = Conversation(system="Be kind.")
    seen: list[str] = []
    exchange = conversation.exchange("hi", scripted, CONFIG, on_text=seen.append)
    assert seen == ["Hel", "lo", "!"] and exchange.reply == "Hello!"
    assert conversation.messages == [Message("user", "hi"), Message("assistant", "Hello!")]
    assert scripted.history[0] == [Message("system", "Be kind."), Message("user", "hi")]


def test_old_turns_are_dropped_and_reported() -> None:
    backend = ScriptedBackend(context_length=30)
    conversation = Conversation()
    for word in ["one", "two", "three", "four"]:
        backend.enqueue(["reply " * 3])
        exchange = conversation.exchange(f"{word} " * 3, backend, CONFIG)
    assert exchange.fitted.dropped_turns > 0
    assert backend.history[-1][-1] == Message("user", "four " * 3)
    assert len(conversation.messages) == 8  # the conversation itself keeps everything


def test_a_refused_prompt_leaves_the_conversation_as_it_was(scripted: ScriptedBackend) -> None:
    conversation = Conversation()
    conversation.exchange("hello", scripted, CONFIG)
    before = list(conversation.messages)
    with pytest.raises(PromptTooLongError):
        conversation.exchange("word " * 5000, scripted, CONFIG)
    assert conversation.messages == before


def test_ctrl_c_mid_stream_keeps_the_partial_reply(scripted: ScriptedBackend) -> None:
    scripted.enqueue(["first ", "second ", "third"])
    conversation = Conversation()

    def interrupt_on_second(piece: str) -> None:
        if piece == "second ":
            raise KeyboardInterrupt

    exchange = conversation.exchange("go", scripted, CONFIG, on_text=interrupt_on_second)
    assert exchange.cut_off
    assert exchange.reply == "first second "
    assert conversation.messages[-1] == Message("assistant", "first second ", cut_off=True)


def test_a_real_ctrl_c_cancels_between_tokens_with_counts(scripted: ScriptedBackend) -> None:
    import signal

    scripted.enqueue(["one ", "two ", "three ", "four"])
    conversation = Conversation()

    def press_ctrl_c_after_two(piece: str) -> None:
        if piece == "two ":
            signal.raise_signal(signal.SIGINT)

    exchange = conversation.exchange("go", scripted, CONFIG, on_text=press_ctrl_c_after_two)
    assert exchange.reply == "one two " and exchange.cut_off
    assert exchange.stats.new_tokens == 2  # the backend's own count: it stopped cleanly
    assert exchange.stats.prompt_tokens == scripted.count_tokens([Message("user", "go")])


def test_undo_removes_whole_exchanges(scripted: ScriptedBackend) -> None:
    conversation = Conversation()
    conversation.exchange("a", scripted, CONFIG)
    conversation.exchange("b", scripted, CONFIG)
    assert conversation.undo()
    assert [m.content for m in conversation.messages] == ["a", "ok"]
    assert conversation.undo() and conversation.messages == []
    assert not conversation.undo()


def test_retry_replaces_the_last_reply_only_when_a_new_one_came(scripted: ScriptedBackend) -> None:
    conversation = Conversation()
    assert conversation.retry(scripted, CONFIG) is None
    scripted.enqueue(["first"])
    scripted.enqueue(["second"])
    conversation.exchange("q", scripted, CONFIG)
    exchange = conversation.retry(scripted, CONFIG)
    assert exchange is not None and exchange.reply == "second"
    assert [m.content for m in conversation.messages] == ["q", "second"]
    before = list(conversation.messages)
    with pytest.raises(PromptTooLongError):
        conversation.retry(scripted, CONFIG.with_values(max_new_tokens=4095))
    assert conversation.messages == before


def test_two_replies_read_in_turns_give_ctrl_c_back_as_it_was() -> None:
    """A library reading two replies in turns: whichever ends first, Ctrl+C goes to the
    one still open, then back to the handler there was before."""
    import signal

    from minichat.safety.interrupts import first_ctrl_c

    before = signal.getsignal(signal.SIGINT)
    stopped: list[str] = []
    first, second = (
        first_ctrl_c(lambda: stopped.append("a")),
        first_ctrl_c(lambda: stopped.append("b")),
    )
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    signal.raise_signal(signal.SIGINT)  # the open one asks its reply to stop
    assert stopped == ["b"]
    second.__exit__(None, None, None)
    assert signal.getsignal(signal.SIGINT) is before
