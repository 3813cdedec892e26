"""The calculator tool's arithmetic: small models cannot multiply, so they ask this.

The expression comes from a model, so it is never handed to ``eval``: it is parsed
with ``ast`` and walked over a whitelist (numbers, ``+ - * / // % **``, a few
``math`` functions and constants), and everything else is refused with a message
the model can act on. Integers stay exact; work that could run away (a huge
power, a result of thousands of digits, deep nesting) is refused before it is
done, so one call cannot hang the chat.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import TypeGuard

from minichat.tools.base import ToolError

Number = int | float

MAX_LENGTH = 500  # characters of expression
MAX_DEPTH = 200  # levels of the syntax tree: the walk recurses once per level
MAX_EXPONENT = 10_000
MAX_BITS = 3_322  # an integer of about 1000 decimal digits

# what people and models type for the operators Python spells differently
SPELLINGS = {
    "^": "**",
    "\N{MULTIPLICATION SIGN}": "*",
    "\N{DIVISION SIGN}": "/",
    "\N{MINUS SIGN}": "-",
    "\N{GREEK SMALL LETTER PI}": "pi",
}

OPERATORS: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def _sqrt(x: Number) -> Number:
    if isinstance(x, int) and x >= 0 and math.isqrt(x) ** 2 == x:
        return math.isqrt(x)  # exact, and no float overflow for big squares
    return math.sqrt(x)


def _log(x: Number, base: Number = math.e) -> float:
    return math.log(x, base)


def _round(x: Number, digits: int | None = None) -> Number:
    if digits is not None and not isinstance(digits, int):
        raise ToolError("round's second argument must be a whole number of digits")
    if digits is not None and abs(digits) > 1000:  # round(1, -10**9) works out 10**(10**9)
        raise ToolError("round's digits must be between -1000 and 1000")
    return round(x, digits)


# name: (function, fewest arguments, most arguments; None means any number)
FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int | None]] = {
    "sqrt": (_sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (lambda *xs: min(xs), 1, None),
    "max": (lambda *xs: max(xs), 1, None),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "log": (_log, 1, 2),
    "log10": (math.log10, 1, 1),
    "exp": (math.exp, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
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
        raise ToolError("the result is too large to compute") from None


def _normalise(expression: str) -> str:
    if len(expression) > MAX_LENGTH:
        raise ToolError(f"the expression is longer than {MAX_LENGTH} characters; split it up")
    text = expression.strip().rstrip("=?").strip()
    if not text:
        raise ToolError("the expression is empty; give arithmetic such as 12 * (3 + 4)")
    for spelling, python in SPELLINGS.items():
        text = text.replace(spelling, python)
    return text


def _value(node: ast.expr, source: str, depth: int) -> Number:
    if depth > MAX_DEPTH:
        raise ToolError(f"the expression is more than {MAX_DEPTH} operations deep; split it up")
    if isinstance(node, ast.Constant) and _is_number(node.value):
        value: Number = node.value
    elif isinstance(node, ast.Name) and node.id in CONSTANTS:
        value = CONSTANTS[node.id]
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        operand = _value(node.operand, source, depth + 1)
        value = -operand if isinstance(node.op, ast.USub) else +operand
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        value = _power(_value(node.left, source, depth + 1), _value(node.right, source, depth + 1))
    elif isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        left, right = _value(node.left, source, depth + 1), _value(node.right, source, depth + 1)
        value = OPERATORS[type(node.op)](left, right)
    elif isinstance(node, ast.Call):
        value = _call(node, source, depth)
    else:
        raise ToolError(f"{ALLOWED}; got `{_fragment(node, source)}`")
    return _checked(value)


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
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(f"exponents above {MAX_EXPONENT} are refused; the result is too large")
    if isinstance(base, int) and isinstance(exponent, int) and _bits(base, exponent) > MAX_BITS:
        raise ToolError("the result would have more than 1000 digits")
    result = base**exponent
    if isinstance(result, complex):
        raise ToolError("complex numbers are not supported (a negative number to a fraction)")
    return result


def _bits(base: int, exponent: int) -> float:
    """About how many bits ``base ** exponent`` has, found without computing it."""
    return exponent * math.log2(abs(base)) if exponent > 0 and abs(base) > 1 else 0.0


def _is_number(value: object) -> TypeGuard[Number]:
    return isinstance(value, int | float) and not isinstance(value, bool)  # True is an int


def _checked(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ToolError("the result would have more than 1000 digits")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is too large to compute")
    return value


def _fragment(node: ast.AST, source: str) -> str:
    return _short(ast.get_source_segment(source, node) or type(node).__name__)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def _format(value: Number) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))  # 10 / 2 is "5", not "5.0"
    return repr(value)
