"""The calculator tool's arithmetic: small models cannot multiply, so they ask this.

The expression comes from a model, so it is never handed to ``eval``: it is parsed
with ``ast`` and walked over a whitelist (numbers, ``+ - * / // % **``, a few
``math`` functions and constants), and everything else is refused with a message
the model can act on. Arithmetic is exact where it can be: integers, and fractions
for division and for decimals as typed (``0.1 + 0.2`` is ``0.3``, ``2**-3`` is
``0.125``). Arithmetic in words is read too ("15% of 109", "12 times 12",
"925 divided by 4", "6 to the power of 3"). What needs a float (``sqrt(2)``,
``pi``, ``exp``) is rounded, and the answer says so with ``≈``, so a rounded value
never passes for an exact integer; a float that would overflow or underflow to 0 is
refused rather than shown as ``inf`` or ``0``. Work that could run away (a huge
power, a number of thousands of digits, deep nesting) is refused before it is done,
so one call cannot hang the chat.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import unicodedata
from collections.abc import Callable
from decimal import Context, Decimal, Inexact
from fractions import Fraction
from typing import TypeGuard

from minichat.tools.base import ToolError

Exact = int | Fraction
Number = int | Fraction | float  # a float is rounded; the others are exact

MAX_LENGTH = 500  # characters of expression
MAX_DEPTH = 200  # levels of the syntax tree: the walk recurses once per level
MAX_EXPONENT = 10_000
MAX_BITS = 3_322  # an integer (or a fraction's either part) of about 1000 decimal digits
EXACT_DIGITS = 50  # an exact decimal longer than this is shown rounded, and marked so
ROUNDED_DIGITS = 16  # significant digits of a rounded answer, as a float's repr has

TOO_LARGE = "the result is too large to compute"
TOO_SMALL = "the result is too small for floating point (it would round to 0)"
TOO_LONG = "the result would have more than 1000 digits"

# what people and models type for the operators Python spells differently
SPELLINGS = {
    "^": "**",
    "\N{MULTIPLICATION SIGN}": "*",
    "\N{DIVISION SIGN}": "/",
    "\N{MINUS SIGN}": "-",
    "\N{GREEK SMALL LETTER PI}": "pi",
}
# arithmetic in words, as a model (or a person) writes it: "15% of 109", "12 times 12"
# (a number's "x" only with a space beside it or after more than a 0: 0x10 is hex)
NUMBER = r"(\d[\d.]*)"
WORDS = [
    (re.compile(rf"{NUMBER}\s*%\s*of\s*{NUMBER}", re.I), r"(\1 / 100 * \2)"),
    (re.compile(r"\b(?:times|multiplied by)\b", re.I), "*"),
    (re.compile(r"(?<=\d)(?:\s+x\s*|x\s+|(?<!(?<![\w.])0)x)(?=[\d(])"), " * "),
    (re.compile(r"\bdivided by\b", re.I), "/"),
    (re.compile(r"\bplus\b", re.I), "+"),
    (re.compile(r"\bminus\b", re.I), "-"),
    (re.compile(r"\bto the power of\b", re.I), "**"),
    (re.compile(rf"{NUMBER}\s+squared\b", re.I), r"(\1 ** 2)"),
    (re.compile(rf"{NUMBER}\s+cubed\b", re.I), r"(\1 ** 3)"),
]

OPERATORS: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def _rounded(value: Number) -> float:
    """``value`` as a float, refused where that would overflow or lose it to 0."""
    result = float(value)  # OverflowError for a number beyond a float's range
    if result == 0 and value != 0:
        raise ToolError(TOO_SMALL)
    return result


def _exact_root(x: Exact) -> Exact | None:
    """The exact square root of ``x``, when it has one (both parts perfect squares)."""
    if x < 0:
        return None
    fraction = Fraction(x)
    top, bottom = math.isqrt(fraction.numerator), math.isqrt(fraction.denominator)
    if top * top == fraction.numerator and bottom * bottom == fraction.denominator:
        return Fraction(top, bottom)
    return None


def _sqrt(x: Number) -> Number:
    if not isinstance(x, float):
        root = _exact_root(x)
        if root is not None:
            return root  # exact, and no float overflow for big squares
        if x < 0:
            raise ValueError("math domain error")
        # sqrt(n/d) is sqrt(n*d)/d, worked out in integers with 64 bits to spare, so a
        # number beyond a float's range (10**401) still has a root that fits in one
        fraction, spare = Fraction(x), 64
        top = math.isqrt((fraction.numerator * fraction.denominator) << (2 * spare))
        return _rounded(Fraction(top, fraction.denominator << spare))
    return math.sqrt(x)


def _log_of(x: Number, log: Callable[[float], float]) -> float:
    # math's logarithms take integers of any size; a fraction is split so that a tiny
    # one (1e-400) is not first rounded to 0
    if isinstance(x, Fraction):
        if x <= 0:
            raise ValueError("math domain error")
        return log(x.numerator) - log(x.denominator)
    return log(x)


def _log(x: Number, base: Number | None = None) -> Number:
    if base is None:
        return 0 if x == 1 and not isinstance(x, float) else _log_of(x, math.log)
    value = (
        _log_of(x, math.log10)
        if base == 10
        else _log_of(x, math.log2)
        if base == 2
        else _log_of(x, math.log) / _log_of(base, math.log)
    )
    if isinstance(x, float) or isinstance(base, float) or not math.isfinite(value):
        return value
    # log(8, 2) is exactly 3 when 2**3 is exactly 8, whatever the float says
    whole = round(value)
    fits = abs(whole) <= MAX_EXPONENT and _bits(base) * abs(whole) <= MAX_BITS
    if fits and Fraction(base) ** whole == x:
        return whole
    return value


def _at_zero(function: Callable[[float], float], value: int) -> Callable[[Number], Number]:
    """``function`` on floats, exactly ``value`` at an exact 0 (exp(0) is 1, not ≈ 1)."""

    def wrapped(x: Number) -> Number:
        if x == 0 and not isinstance(x, float):
            return value
        result = function(_rounded(x))
        if result == 0 and x != 0:  # exp(-1000): an underflow, not an answer
            raise ToolError(TOO_SMALL)
        return result

    return wrapped


def _whole(function: Callable[[Number], int]) -> Callable[[Number], Number]:
    """``floor``/``ceil``: exact of an exact number; of a rounded one, still rounded."""

    def wrapped(x: Number) -> Number:
        return float(function(x)) if isinstance(x, float) else function(x)

    return wrapped


def _round(x: Number, digits: int | None = None) -> Number:
    if digits is not None and not isinstance(digits, int):
        raise ToolError("round's second argument must be a whole number of digits")
    if digits is not None and abs(digits) > 1000:  # round(1, -10**9) works out 10**(10**9)
        raise ToolError("round's digits must be between -1000 and 1000")
    if isinstance(x, float):
        return float(round(x)) if digits is None else round(x, digits)
    exact = Fraction(x)
    return round(exact) if digits is None else round(exact, digits)


# name: (function, fewest arguments, most arguments; None means any number)
FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int | None]] = {
    "sqrt": (_sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (lambda *xs: min(xs), 1, None),
    "max": (lambda *xs: max(xs), 1, None),
    "floor": (_whole(math.floor), 1, 1),
    "ceil": (_whole(math.ceil), 1, 1),
    "log": (_log, 1, 2),
    "log10": (lambda x: _log(x, 10), 1, 1),
    "exp": (_at_zero(math.exp, 1), 1, 1),
    "sin": (_at_zero(math.sin, 0), 1, 1),
    "cos": (_at_zero(math.cos, 1), 1, 1),
    "tan": (_at_zero(math.tan, 0), 1, 1),
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

ALLOWED = f"only numbers, + - * / // % ** ( ) and {', '.join([*FUNCTIONS, *CONSTANTS])} are allowed"


def evaluate(expression: str) -> str:
    """The value of an arithmetic ``expression``, as text; ``ToolError`` says why not."""
    source = _normalise(expression)
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError) as error:
        raise ToolError(f"`{_short(source)}` is not arithmetic I can read; {ALLOWED}") from error
    try:
        return _format(_value(tree.body, source, 0))
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except OverflowError:
        raise ToolError(TOO_LARGE) from None


def _normalise(expression: str) -> str:
    if len(expression) > MAX_LENGTH:
        raise ToolError(f"the expression is longer than {MAX_LENGTH} characters; split it up")
    text = expression.strip().rstrip("=?").strip()
    if not text:
        raise ToolError("the expression is empty; give arithmetic such as 12 * (3 + 4)")
    for spelling, python in SPELLINGS.items():
        text = text.replace(spelling, python)
    for words, python in WORDS:
        text = words.sub(python, text)
    # a digit of another script (Arabic-Indic, fullwidth) is that digit; superscripts
    # and other "No" characters are not decimal and stay refused
    return "".join(
        str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text
    )


def _value(node: ast.expr, source: str, depth: int) -> Number:
    if depth > MAX_DEPTH:
        raise ToolError(f"the expression is more than {MAX_DEPTH} operations deep; split it up")
    if isinstance(node, ast.Constant) and _is_number(node.value):
        value = _literal(node, source)
    elif isinstance(node, ast.Name) and node.id in CONSTANTS:
        value = CONSTANTS[node.id]
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        operand = _value(node.operand, source, depth + 1)
        value = -operand if isinstance(node.op, ast.USub) else +operand
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        value = _power(_value(node.left, source, depth + 1), _value(node.right, source, depth + 1))
    elif isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        left, right = _value(node.left, source, depth + 1), _value(node.right, source, depth + 1)
        value = _arithmetic(OPERATORS[type(node.op)], left, right)
    elif isinstance(node, ast.Call):
        value = _call(node, source, depth)
    else:
        raise ToolError(f"{ALLOWED}; got `{_fragment(node, source)}`")
    return _checked(value)


def _literal(node: ast.Constant, source: str) -> Number:
    """A number as typed: ``0.1`` is one tenth, not the float nearest to it."""
    if isinstance(node.value, int):
        return node.value
    decimal = Decimal((ast.get_source_segment(source, node) or repr(node.value)).replace("_", ""))
    exponent = decimal.as_tuple().exponent
    # 1e999999999 would be worked out digit by digit before any size check could see it
    if not isinstance(exponent, int) or abs(exponent) > 2 * MAX_BITS:
        raise ToolError(TOO_LONG)
    return Fraction(decimal)


def _arithmetic(apply: Callable[[Number, Number], Number], left: Number, right: Number) -> Number:
    if isinstance(left, float) or isinstance(right, float):
        # worked out exactly and rounded once: 10**400 meets a float without an
        # overflow on the way, and an underflow to 0 is seen
        return _rounded(apply(Fraction(left), Fraction(right)))
    if apply is operator.truediv:
        return Fraction(left, right)  # 9007199254740993 / 1 stays 9007199254740993
    return apply(left, right)


def _call(node: ast.Call, source: str, depth: int) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        raise ToolError(f"{ALLOWED}; got `{_fragment(node.func, source)}`")
    name = node.func.id
    function, fewest, most = FUNCTIONS[name]
    if node.keywords:
        raise ToolError(f"{name} takes no named arguments; got `{_fragment(node, source)}`")
    if len(node.args) < fewest or (most is not None and len(node.args) > most):
        counts = sorted({fewest, most}) if most is not None else []
        takes = " or ".join(map(str, counts)) or f"at least {fewest}"
        raise ToolError(f"{name} takes {takes} argument(s), got {len(node.args)}")
    arguments = [_value(argument, source, depth + 1) for argument in node.args]
    try:
        return function(*arguments)
    except ValueError:
        raise ToolError(f"`{_fragment(node, source)}` is undefined (math domain error)") from None


def _power(base: Number, exponent: Number) -> Number:
    if not -MAX_EXPONENT <= exponent <= MAX_EXPONENT:
        raise ToolError(f"exponents above {MAX_EXPONENT} are refused; the result is too large")
    if isinstance(exponent, Fraction) and exponent.denominator == 2 and not isinstance(base, float):
        root = _exact_root(base)  # 4 ** 0.5 is exactly 2
        if root is not None:
            base, exponent = root, exponent.numerator
    if isinstance(exponent, int) and not isinstance(base, float):
        if _bits(base) * abs(exponent) > MAX_BITS:
            raise ToolError(TOO_LONG)
        return Fraction(base) ** exponent  # 2 ** -3 is exactly 1/8
    result: float | complex = _rounded(base) ** _rounded(exponent)
    if isinstance(result, complex):
        raise ToolError("complex numbers are not supported (a negative number to a fraction)")
    if result == 0 and base != 0:
        raise ToolError(TOO_SMALL)
    return result


def _bits(x: Exact) -> float:
    """About how many bits ``x`` (either part of it, for a fraction) has."""
    fraction = Fraction(x)
    largest = max(abs(fraction.numerator), fraction.denominator)
    return math.log2(largest) if largest > 1 else 0.0


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)  # True is an int


def _checked(value: Number) -> Number:
    if isinstance(value, Fraction):
        if value.denominator == 1:
            value = value.numerator
        elif max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_BITS:
            raise ToolError(TOO_LONG)
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ToolError(TOO_LONG)
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError(TOO_LARGE)
    return value


def _fragment(node: ast.AST, source: str) -> str:
    return _short(ast.get_source_segment(source, node) or type(node).__name__)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def _format(value: Number) -> str:
    """An exact value in full; a rounded one after ``≈``, never as a bare integer."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "≈ " + repr(value).removesuffix(".0")
    exact = Context(prec=EXACT_DIGITS)
    quotient = exact.divide(Decimal(value.numerator), Decimal(value.denominator))
    if not exact.flags[Inexact]:
        return format(quotient, "g")  # 7/2 is 3.5, 1e-400 is 1e-400
    rounded = Context(prec=ROUNDED_DIGITS).divide(
        Decimal(value.numerator), Decimal(value.denominator)
    )
    return "≈ " + format(rounded, "g")
