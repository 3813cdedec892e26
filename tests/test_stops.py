"""Stop sequences: never printed, even split across tokens; text before intact."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from minichat.engine.stops import StopMatcher


def run(pieces: list[str], stops: list[str]) -> tuple[str, bool]:
    matcher = StopMatcher(stops)
    out = ""
    for piece in pieces:
        out += matcher.push(piece)
        if matcher.stopped:
            return out, True
    return out + matcher.flush(), False


def test_stop_split_across_three_tokens_is_never_printed() -> None:
    matcher = StopMatcher(["<END>"])
    assert matcher.push("Hello <") == "Hello "  # "<" might begin the stop: held back
    assert matcher.push("EN") == ""
    assert matcher.push("D> more") == ""
    assert matcher.stopped


def test_held_back_text_is_released_when_it_turns_out_not_to_be_a_stop() -> None:
    matcher = StopMatcher(["<END>"])
    assert matcher.push("a <E") == "a "
    assert matcher.push("X") == "<EX"
    assert matcher.flush() == ""


def test_several_stops_first_occurrence_wins() -> None:
    assert run(["one two ", "three"], ["three", "two"]) == ("one ", True)


def test_stop_at_the_very_start_gives_empty_reply() -> None:
    assert run(["STOP", "after"], ["STOP"]) == ("", True)


def test_no_stop_flushes_everything() -> None:
    assert run(["ab", "c<", "E"], ["<END>"]) == ("abc<E", False)


@given(
    text=st.text(alphabet="abc<>END \n", max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
    stop=st.sampled_from(["<END>", "\nUser:", "aa", "E"]),
)
def test_any_split_gives_the_text_before_the_first_stop(
    text: str, cuts: list[int], stop: str
) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    out, stopped = run(pieces, [stop])
    index = text.find(stop)
    if index >= 0:
        assert (out, stopped) == (text[:index], True)
    else:
        assert (out, stopped) == (text, False)
