"""Token budgeting: the fitted prompt always fits, keeps what it must, drops whole turns."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minichat.backend import Message
from minichat.errors import PromptTooLongError
from minichat.prompt.budget import fit, split_turns


def count(messages: Sequence[Message]) -> int:
    """Like a chat template: a few tokens per message, one per word, plus the reply opener."""
    return sum(3 + len(m.content.split()) for m in messages) + 2


words = st.lists(st.sampled_from(["a", "bb", "ccc"]), min_size=0, max_size=30).map(" ".join)
turn = st.tuples(words, words).map(lambda p: [Message("user", p[0]), Message("assistant", p[1])])


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    system = draw(st.one_of(st.none(), words))
    turns = draw(st.lists(turn, max_size=8))
    newest = Message("user", draw(words))
    head = [Message("system", system)] if system is not None else []
    return [*head, *(m for t in turns for m in t), newest]


@given(messages=conversations(), context=st.integers(10, 400), reply=st.integers(1, 100))
def test_fitted_prompt_fits_and_keeps_system_and_newest(
    messages: list[Message], context: int, reply: int
) -> None:
    try:
        fitted = fit(messages, count, context, reply)
    except PromptTooLongError as error:
        system, turns = split_turns(messages)
        assert count([*system, *turns[-1]]) + reply > context  # truly could not fit
        assert error.needed == count([*system, *turns[-1]])
        return
    assert fitted.prompt_tokens == count(fitted.messages)
    assert fitted.prompt_tokens + reply <= context
    assert fitted.messages[-1] == messages[-1]
    if messages[0].role == "system":
        assert fitted.messages[0] == messages[0]
    # Only whole turns, oldest first: what is kept is the original's tail after the system prompt.
    system, _ = split_turns(messages)
    kept = fitted.messages[len(system) :]
    assert messages[len(messages) - len(kept) :] == kept
    assert kept[0].role == "user"
    assert fitted.dropped_messages == len(messages) - len(system) - len(kept)


@given(messages=conversations(), reply=st.integers(1, 50))
def test_nothing_is_dropped_when_everything_fits(messages: list[Message], reply: int) -> None:
    context = count(messages) + reply
    fitted = fit(messages, count, context, reply)
    assert fitted.messages == messages and fitted.dropped_turns == 0


@given(messages=conversations(), reply=st.integers(1, 50))
def test_drops_the_fewest_turns_needed(messages: list[Message], reply: int) -> None:
    system, turns = split_turns(messages)
    assume(len(turns) >= 2)
    # A context that fits everything except the oldest turn.
    context = count([*system, *(m for t in turns[1:] for m in t)]) + reply
    assume(count(messages) + reply > context)
    fitted = fit(messages, count, context, reply)
    assert fitted.dropped_turns == 1


def test_too_long_newest_message_is_an_error_not_a_cut() -> None:
    messages = [Message("user", "word " * 100)]
    with pytest.raises(PromptTooLongError, match="needs 105 tokens but only 40 fit"):
        fit(messages, count, context_length=50, max_new_tokens=10)


def test_a_system_prompt_alone_fits_or_is_refused() -> None:
    system = [Message("system", "be brief")]
    assert fit(system, count, 100, 10).messages == system
    with pytest.raises(PromptTooLongError):
        fit(system, count, 12, 10)


def test_the_oldest_turns_are_the_ones_dropped() -> None:
    turns = [[Message("user", f"q{i} " * 5), Message("assistant", f"a{i} " * 5)] for i in range(4)]
    messages = [Message("system", "s"), *(m for t in turns for m in t), Message("user", "now")]
    context = count([messages[0], *turns[2], *turns[3], messages[-1]]) + 10
    fitted = fit(messages, count, context, 10)
    assert fitted.dropped_turns == 2 and fitted.dropped_messages == 4
    assert fitted.messages == [messages[0], *turns[2], *turns[3], messages[-1]]


@given(
    messages=conversations(),
    context=st.integers(10, 400),
    reply=st.integers(1, 100),
    skip=st.integers(0, 10),
)
def test_chunked_drops_go_down_to_the_refill_share_and_keep_earlier_drops(
    messages: list[Message], context: int, reply: int, skip: int
) -> None:
    try:
        fitted = fit(messages, count, context, reply, skip=skip, refill=0.75)
    except PromptTooLongError:
        return
    _, turns = split_turns(messages)
    skipped = min(skip, max(len(turns) - 1, 0))
    assert fitted.dropped_turns == skipped + fitted.newly_dropped
    assert fitted.prompt_tokens + reply <= context
    if fitted.newly_dropped and fitted.dropped_turns < len(turns) - 1:
        assert fitted.prompt_tokens <= int((context - reply) * 0.75)


def test_a_chat_drops_in_chunks_then_reuses_the_same_start() -> None:
    turns = [[Message("user", "q " * 8), Message("assistant", "a " * 8)] for _ in range(8)]
    messages = [*(m for t in turns for m in t), Message("user", "now")]
    room = count(messages) - 1  # everything but one token fits
    first = fit(messages, count, room + 10, 10, refill=0.75)
    assert first.newly_dropped > 1 and first.prompt_tokens <= int(room * 0.75)
    # the next turn starts where the first left off, and needs no new drop
    longer = [*messages, Message("assistant", "ok"), Message("user", "and?")]
    second = fit(longer, count, room + 10, 10, skip=first.dropped_turns, refill=0.75)
    assert second.newly_dropped == 0 and second.dropped_turns == first.dropped_turns


@pytest.mark.parametrize("refill", [1.0, 0.75])
def test_a_long_history_is_fitted_with_few_counts(refill: float) -> None:
    """A client may send thousands of turns: counting the prompt again after each
    dropped turn took seconds of tokenizing; bisection counts it a few dozen times."""
    messages = [
        Message(role, f"turn {n} " + "word " * (n % 7))
        for n in range(4000)
        for role in ("user", "assistant")
    ] + [Message("user", "the newest question")]
    calls: list[int] = []

    def counting(kept: Sequence[Message]) -> int:
        calls.append(len(kept))
        return count(kept)

    fitted = fit(messages, counting, 600, 100, refill=refill)
    assert len(calls) <= 30
    limit = int(500 * refill)
    assert count(fitted.messages) <= limit
    one_more = messages[2 * (fitted.dropped_turns - 1) :]  # the fewest drops: one fewer is over
    assert count(one_more) > limit
