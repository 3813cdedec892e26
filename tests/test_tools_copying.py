"""Copying what was given (tools.copying): a begun word of the question finished as the
question spells it inside a call's string argument, a begun number of a tool's result
finished as the result gives it in the answer; nothing else touched."""

from __future__ import annotations

import math

import pytest
import torch

from minichat.tools.copying import COPY_BONUS, Copier, Vocabulary

TOKENS = [
    "<tool_call>", "</tool_call>", "\n", '{"', "name", '":', ' "', "read_file", '",',
    "arguments", ' {"', "path", "t", "od", "o", "ofiles", ".", "md", '"', "}}",
    "D", "elhi", "honi", "Brazil", "ian", "1", "2", "3", "4", "5", " ", " about",
    "Del", "city", " is", "x", "Call", " the", " plumber", ' "', '."', "Buy",
    "0", "AM", "Z", "azon", "N", "\n",
]  # fmt: skip


class Tokenizer:
    """What Vocabulary reads of llguidance's tokenizer."""

    vocab_size = len(TOKENS)

    def decode_bytes(self, ids: list[int]) -> bytes:
        return "".join(TOKENS[i] for i in ids).encode()


VOCABULARY = Vocabulary(Tokenizer())


def copier(asked: str, results: str = "") -> Copier:
    return Copier(VOCABULARY, asked, results)


def write(c: Copier, *pieces: str) -> None:
    for piece in pieces:
        c.consume(TOKENS.index(piece))


def masked(c: Copier) -> dict[str, float]:
    logits = c.mask(torch.zeros(len(TOKENS)))
    return dict(zip(TOKENS, logits.tolist(), strict=True))


CALL = ["<tool_call>", "\n", '{"', "name", '":', ' "', "read_file", '",', ' "', "arguments"]
CALL += ['":', ' {"', "path", '":', ' "']


def test_a_begun_word_of_the_question_is_finished_as_the_question_spells_it() -> None:
    c = copier("What is in todo.md?")
    write(c, *CALL, "t", "od")
    after = masked(c)
    assert after["o"] == COPY_BONUS
    assert after["ofiles"] == -math.inf  # another ending of the word is ruled out
    assert after['"'] == 0.0  # the string may still end: a stem is the model's choice
    write(c, "o")
    after = masked(c)
    assert after["."] == COPY_BONUS and after["md"] == -math.inf  # ".md", not "todomd"
    write(c, ".", "md")
    assert set(masked(c).values()) == {0.0}  # the word is done: nothing favoured


def test_one_letter_is_only_favoured_and_a_value_that_is_no_copy_is_left_alone() -> None:
    c = copier("How clean is the air in Delhi right now?")
    write(c, *CALL, "D")
    after = masked(c)
    assert after["elhi"] == COPY_BONUS and after["honi"] == 0.0  # not sure yet: a bonus
    other = copier("How clean is the air in Delhi right now?")
    write(other, *CALL, "x")
    assert set(masked(other).values()) == {0.0}


def test_keys_names_and_words_outside_a_call_are_not_touched() -> None:
    c = copier("Delhi Delhi")
    write(c, "D")  # prose, not a call: only numbers are copied there
    assert set(masked(c).values()) == {0.0}
    key = copier("city")
    write(key, *CALL[:12], "city")  # writing a key of the arguments, not a value
    assert set(masked(key).values()) == {0.0}


def test_a_begun_number_of_the_result_is_finished_in_the_answer() -> None:
    c = copier("How much is 925 divided by 4?", results="231.25")
    write(c, "2", "3")
    after = masked(c)
    assert after["1"] == COPY_BONUS
    assert after["4"] == -math.inf and after[" about"] == -math.inf
    assert after["."] == 0.0  # a full stop may end the sentence


@pytest.mark.parametrize("asked", ["What is 23 times 10?", "What is 235 times 10?"])
def test_a_number_the_user_wrote_is_the_models_to_restate(asked: str) -> None:
    c = copier(asked, results="230")
    write(c, "2", "3")
    assert set(masked(c).values()) == {0.0}


def test_a_call_after_a_call_copies_again_and_the_answer_after_them_copies_numbers() -> None:
    c = copier("Delhi and 41", results="441")
    write(c, *CALL, "D", "elhi", '"', "}}", "\n", "</tool_call>", " is", " ", "4", "4")
    after = masked(c)
    assert after["1"] == COPY_BONUS and after["2"] == -math.inf


def test_a_begun_quotation_of_the_result_goes_on_as_the_result_has_it() -> None:
    c = copier("Show me notes.txt.", results="Call the plumber on Tuesday.\nBuy milk.")
    write(c, "x", " is", ' "', "Call")
    after = masked(c)
    assert after[" the"] == COPY_BONUS and after[" plumber"] == -math.inf  # no word dropped
    assert after['."'] == 0.0  # the quotation may end
    write(c, " the", " plumber", '."', " is")  # closed: the words after it are free again
    assert set(masked(c).values()) == {0.0}
    other = copier("Show me notes.txt.", results="Call the plumber on Tuesday.\nBuy milk.")
    write(other, ' "', "x")  # a quotation of something else is left alone
    assert set(masked(other).values()) == {0.0}


def test_where_the_grammar_allows_no_copy_the_copy_gives_way() -> None:
    """An enum value that is not the question's word: the grammar allows only letters
    the copy would rule out, so nothing is ruled out (never a step with no token)."""
    c = copier("What is in todo.md?")
    write(c, *CALL, "t", "od")
    grammar = torch.full((len(TOKENS),), -math.inf)
    grammar[TOKENS.index("ofiles")] = 0.0  # the only token the grammar allows
    after = c.mask(grammar)
    assert after[TOKENS.index("ofiles")] == 0.0


def test_a_copy_in_another_case_or_one_that_may_end_is_only_favoured() -> None:
    """ "AM" for Amazon may be the ticker AMZN; a result's 20 may end at 20 though 201
    is in it too, and "12." may end a sentence: nothing is ruled out there."""
    c = copier("What is Amazon's stock price?")
    write(c, *CALL, "AM")
    after = masked(c)
    assert after["azon"] == COPY_BONUS and after["Z"] == 0.0
    number = copier("How warm is it?", results="20 C now, 201 C in the oven")
    write(number, " is", " ", "2", "0")
    after = masked(number)
    assert after["1"] == COPY_BONUS and after[" is"] == 0.0 and after["\n"] == 0.0
    stop = copier("How far?", results="12.5 km")
    write(stop, " is", " ", "1", "2", ".")
    after = masked(stop)
    assert after["5"] == COPY_BONUS and after[" is"] == 0.0
