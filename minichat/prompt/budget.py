"""Token budgeting: prompt tokens + ``max_new_tokens`` must fit the context.

Before every call the conversation is fitted: the system prompt stays, the
newest message stays, and the oldest whole turns (a user message with the
replies that follow it) are dropped first until it fits. What was dropped is
reported so the interface can tell the user. Nothing is ever cut silently: if
the newest message alone does not fit, ``PromptTooLongError`` says so.

A chat drops turns in chunks: once one must go, old turns go until the prompt
takes at most ``REFILL`` of the room, and they stay out on later turns
(``skip``). Every drop changes the start of the prompt, which costs the whole KV
cache (``engine.prefix``); in chunks that happens once every few turns instead
of on every turn once the context is full.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from minichat.backend import Message
from minichat.errors import PromptTooLongError

CountTokens = Callable[[Sequence[Message]], int]
REFILL = 0.75  # once turns must go, a chat drops them until the prompt takes this much room


@dataclass(frozen=True)
class Fitted:
    messages: list[Message]  # what to send
    prompt_tokens: int  # their exact token count
    dropped_turns: int  # whole turns left out, oldest first
    dropped_messages: int
    newly_dropped: int = 0  # of those, the turns this call left out (the rest were out already)


def ensure_fits(prompt_tokens: int, max_new_tokens: int, context_length: int) -> None:
    """Raise unless the prompt leaves room for ``max_new_tokens`` in the context."""
    available = context_length - max_new_tokens
    if prompt_tokens > available:
        raise PromptTooLongError(prompt_tokens, max(available, 0), context_length, max_new_tokens)


def split_turns(messages: Sequence[Message]) -> tuple[list[Message], list[list[Message]]]:
    """Leading system messages, then turns: each starts at a user message."""
    head = 0
    while head < len(messages) and messages[head].role == "system":
        head += 1
    turns: list[list[Message]] = []
    for message in messages[head:]:
        if message.role == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return list(messages[:head]), turns


def fit(
    messages: Sequence[Message],
    count: CountTokens,
    context_length: int,
    max_new_tokens: int,
    *,
    skip: int = 0,
    refill: float = 1.0,
) -> Fitted:
    """Drop the oldest whole turns until the prompt fits; never the newest turn.

    The first ``skip`` turns are left out to begin with. When more must go, they go
    until the prompt takes at most ``refill`` of the room (1.0: the fewest turns).
    Dropping a turn never lengthens the prompt, so the fewest to drop is found by
    bisection: a history of thousands of turns is counted a dozen times, not thousands."""
    system, turns = split_turns(messages)
    room = context_length - max_new_tokens
    newest = max(len(turns), 1) - 1  # dropping this many keeps only the newest turn
    skip = min(skip, newest)
    counted: dict[int, int] = {}

    def tokens(dropped: int) -> int:
        if dropped not in counted:
            counted[dropped] = count([*system, *(m for turn in turns[dropped:] for m in turn)])
        return counted[dropped]

    def fits(dropped: int, limit: int) -> bool:
        return tokens(dropped) <= (room if dropped == newest else limit)

    def fitted(dropped: int) -> Fitted:
        kept = [*system, *(m for turn in turns[dropped:] for m in turn)]
        left_out = sum(len(t) for t in turns[:dropped])
        return Fitted(kept, tokens(dropped), dropped, left_out, newly_dropped=dropped - skip)

    if fits(skip, room):
        return fitted(skip)
    limit = int(room * refill)
    if not fits(newest, limit):  # only the system prompt and the newest turn, and too long
        ensure_fits(tokens(newest), max_new_tokens, context_length)
        raise AssertionError("ensure_fits raises for a prompt that does not fit")
    low, high = skip + 1, newest  # the fewest drops that fit lie in [low, high]
    while low < high:
        middle = (low + high) // 2
        if fits(middle, limit):
            high = middle
        else:
            low = middle + 1
    return fitted(high)
