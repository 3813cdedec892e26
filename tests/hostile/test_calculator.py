"""The calculator against what a careless or hostile model writes: answers that look
exact but are not, values too small or too large for floating point, numbers written
in other scripts, and work that would run away."""

from __future__ import annotations

import re

import pytest

from minichat.tools.base import ToolError
from minichat.tools.calculator import evaluate


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("9007199254740993/1", "9007199254740993"),  # 2**53+1 went through a float
        ("(2**53 + 1) / 1", "9007199254740993"),
        ("10**30 / 10**15", "1000000000000000"),
        ("10**999 / 10**998", "10"),
        ("2**53 + 1.0", "9007199254740993"),  # a decimal literal is the number typed
        ("0.1 + 0.2", "0.3"),
        ("1e-400", "1e-400"),  # exact, not a float that underflowed to 0
        ("1e-400 * 10**400", "1"),
        ("2.5e3", "2500"),
        ("1_000.5 * 2", "2001"),
        ("7/2", "3.5"),
        ("1/8", "0.125"),
        ("sqrt(9/4)", "1.5"),
        ("sqrt(10**400)", "1" + "0" * 200),
        ("4 ** 0.5", "2"),
        ("(9/4) ** 1.5", "3.375"),
        ("2 ** -3", "0.125"),
        ("log(8, 2)", "3"),
        ("log10(1000)", "3"),
        ("log(1)", "0"),
        ("floor(1e300)", "1" + "0" * 300),
        ("round(2.675, 2)", "2.68"),  # as typed, not as the float 2.67499999...
        ("round(7/2)", "4"),
        ("round(1/3, 3)", "0.333"),
        ("exp(0) + sin(0) + cos(0)", "2"),
        ("\u0663 + \u0664", "7"),  # Arabic-Indic digits
        ("\uff11\uff12 * 2", "24"),  # fullwidth digits
    ],
)
def test_exact_answers_stay_exact(expression: str, value: str) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("sqrt(2**64 + 1)", "≈ 4294967296"),  # not the integer it rounds to
        ("sqrt(2)", "≈ 1.4142135623730951"),
        ("1/3", "≈ 0.3333333333333333"),
        ("10**16 / 3", "≈ 3333333333333333"),
        ("2 ** -2000", "≈ 8.709809816217217e-603"),  # exact, too small for a float
        ("2.0 ** -2000", "≈ 8.709809816217217e-603"),
        ("10**400 / 3", "≈ 3.333333333333333e+399"),
        ("pi", "≈ 3.141592653589793"),
        ("2 ** 0.5 * 2 ** 0.5", "≈ 2.0000000000000004"),
        ("log(10**400)", "≈ 921.0340371976182"),
        ("exp(1)", "≈ 2.718281828459045"),
        ("sqrt(10**401)", "≈ 3.1622776601683794e+200"),  # beyond a float, its root is not
        ("floor(sqrt(2))", "≈ 1"),  # a whole number made from a rounded one
        ("round(pi, 2)", "≈ 3.14"),
    ],
)
def test_approximate_answers_say_so(expression: str, value: str) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("exp(-1000)", "too small"),  # a float that underflowed to 0 is not 0
        ("1e-300 * 1e-300 * pi", "too small"),
        ("pi / 10**400", "too small"),
        ("pi ** -1000", "too small"),
        ("exp(1000)", "too large"),
        ("exp(710)", "too large"),
        ("1e300 * 1e300 * pi", "too large"),
        ("pi * 10**400", "too large"),
        ("1e999999999", "more than 1000 digits"),  # refused before it is worked out
        ("1e-999999999", "more than 1000 digits"),
        ("1e5000", "more than 1000 digits"),
        ("(1 + 10**-999) ** 9999", "more than 1000 digits"),
        ("(1/3) ** 10000", "more than 1000 digits"),
        ("10**999 / 3 / 10**999 / 7 / 10**999", "more than 1000 digits"),
        ("2 ** 10**5", "exponents above 10000"),
        ("2 ** -(10**5)", "exponents above 10000"),
        ("1/0", "division by zero"),
        ("1/(1/2 - 0.5)", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("0.0 ** -1.5", "division by zero"),
        ("5 % 0.0", "division by zero"),
        ("(-8) ** (1/3)", "complex numbers"),
        ("(-4) ** 0.5", "complex numbers"),
        ("sqrt(-1/4)", "undefined"),
        ("log(0)", "undefined"),
        ("log(8, 1)", "division by zero"),
        ("2\u00b2", "not arithmetic"),  # a superscript is not a digit
        ("1" + "+1" * 249, "operations deep"),
        ("round(1, 10**9)", "between -1000 and 1000"),
        ("round(1, 0.5)", "whole number of digits"),
    ],
)
def test_what_cannot_be_computed_is_refused_in_words(expression: str, says: str) -> None:
    with pytest.raises(ToolError, match=re.escape(says)):
        evaluate(expression)


def test_no_answer_is_longer_than_a_thousand_digits_and_a_mark() -> None:
    for expression in ("10**999", "-(10**999) + 1", "1/2**999", "2**-3000 * 3**0", "9" * 500):
        assert len(evaluate(expression).lstrip("-≈ ")) <= 1001, expression
