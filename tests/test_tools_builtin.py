"""The built-in tools as a model sees them: the calculator's exact answers and its
refusals, the clock's wording, and file access that never leaves the working folder."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minichat.errors import ConfigError
from minichat.tools import builtin as tools
from minichat.tools.base import ToolError
from minichat.tools.builtin import BUILTIN, builtin
from minichat.tools.calculator import evaluate


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1234*5678", "7006652"),
        ("2**10", "1024"),
        ("7/2", "3.5"),
        ("10/2", "5"),
        ("(1+2)*3", "9"),
        ("-3**2", "-9"),
        ("sqrt(16)", "4"),
        ("1e3", "1000"),
        ("2^10", "1024"),
        ("6 \N{MULTIPLICATION SIGN} 7", "42"),
        ("9 ÷ 3", "3"),
        ("12 * 12 =", "144"),
        ("17 % 5?", "2"),
        ("7 // 2", "3"),
        ("log(8, 2)", "3"),
        ("max(3, 9, 4) - min(2, 1)", "8"),
        ("round(2.567, 2)", "2.57"),
        ("2 ** 100", str(2**100)),
        # arithmetic in words, as a small model writes the expression
        ("15% of 109", "16.35"),
        ("12 times 12", "144"),
        ("3 Multiplied by 4", "12"),
        ("2 x (3 + 1)", "8"),
        ("925 divided by 4", "231.25"),
        ("12 plus 3 minus 1", "14"),
        ("6 to the power of 3", "216"),
        ("613 squared", "375769"),
        ("2 cubed", "8"),
        ("1 / 50% of 4", "0.5"),  # "50% of 4" is one number
        ("0x10 * 2", "32"),  # hex stays hex
        ("0x1f + 1", "32"),
        ("10x4", "40"),
    ],
)
def test_the_calculator_answers_exactly(expression: str, value: str) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("__import__('os')", "got `__import__`"),
        ("a+1", "got `a`"),
        ('"x"*3', 'got `"x"`'),
        ("[1]", "got `[1]`"),
        ("lambda: 1", "got `lambda: 1`"),
        ("(1).real", "got `(1).real`"),
        ("1j", "got `1j`"),
        ("True + 1", "got `True`"),
        ("10**10**10", "exponents above 10000"),
        ("10**999 * 10**999", "more than 1000 digits"),
        ("1/0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("sqrt(-1)", "undefined"),
        ("(-8) ** (1/3)", "complex numbers"),
        ("exp(1000)", "too large"),
        ("round(1, 2, 3)", "round takes 1 or 2 argument(s), got 3"),
        ("2 apples * 3", "not arithmetic I can read"),
        ("max x 3", "`max x 3` is not arithmetic"),  # an x between numbers only
        ("", "empty"),
        ("1" * 501, "longer than 500"),
        ("-" * 300 + "1", "operations deep"),
    ],
)
def test_the_calculator_refuses_what_is_not_arithmetic(expression: str, says: str) -> None:
    with pytest.raises(ToolError, match=re.escape(says)):
        evaluate(expression)


def test_a_refusal_lists_what_is_allowed() -> None:
    with pytest.raises(ToolError) as raised:
        evaluate("__import__('os').system('true')")
    assert str(raised.value).startswith("only numbers, + - * / // % ** ( ) and sqrt, abs, round")


Tree = int | tuple[Any, str, Any]


def trees() -> st.SearchStrategy[Tree]:
    def branch(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
        return st.tuples(children, st.sampled_from("+-*"), children)

    return st.recursive(st.integers(-20, 20), branch, max_leaves=24)


def text(tree: Tree) -> str:
    if isinstance(tree, int):
        return str(tree)
    left, op, right = tree
    return f"({text(left)} {op} {text(right)})"


def value(tree: Tree) -> int:
    if isinstance(tree, int):
        return tree
    left, op, right = tree
    a, b = value(left), value(right)
    return a + b if op == "+" else a - b if op == "-" else a * b


@given(trees())
def test_integer_arithmetic_agrees_with_python(tree: Tree) -> None:
    assert evaluate(text(tree)) == str(value(tree))


def call(name: str, **arguments: Any) -> str:
    return BUILTIN[name].run(arguments)


def test_the_tools_check_their_arguments() -> None:
    with pytest.raises(ToolError, match="`expression` is missing"):
        call("calculator")
    with pytest.raises(ToolError, match="`expression` must be a string, got int"):
        call("calculator", expression=3)
    with pytest.raises(ToolError, match="unknown argument.*timezone; this tool takes no arguments"):
        call("now", timezone="UTC")
    assert call("calculator", expression="6*7") == "42"


def test_now_names_the_day_time_and_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    plus_one = timezone(timedelta(hours=1))
    monkeypatch.setattr(tools, "clock", lambda: datetime(2026, 12, 2, 14, 5, 59, tzinfo=plus_one))
    assert call("now") == "Wednesday 2 December 2026, 14:05 (UTC+01:00)"
    behind = timezone(-timedelta(hours=3, minutes=30))
    assert tools.describe_time(datetime(2025, 7, 4, 9, 0, tzinfo=behind)) == (
        "Friday 4 July 2025, 09:00 (UTC-03:30)"
    )


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    inside = tmp_path / "work"
    inside.mkdir()
    monkeypatch.chdir(inside)
    return inside


def test_read_file_reads_a_file_in_the_working_folder(folder: Path) -> None:
    (folder / "notes").mkdir()
    (folder / "notes" / "todo.md").write_text("buy milk\n", encoding="utf-8")
    assert call("read_file", path="notes/todo.md") == "buy milk\n"
    assert call("read_file", path=str(folder / "notes" / "todo.md")) == "buy milk\n"


@pytest.mark.parametrize("path", ["../secret.txt", "/etc/passwd", "notes/../../secret.txt"])
def test_read_file_refuses_paths_outside(folder: Path, path: str) -> None:
    (folder.parent / "secret.txt").write_text("hidden", encoding="utf-8")
    with pytest.raises(ToolError, match="outside the working folder"):
        call("read_file", path=path)


def test_read_file_refuses_a_symlink_pointing_out(folder: Path) -> None:
    (folder.parent / "secret.txt").write_text("hidden", encoding="utf-8")
    os.symlink(folder.parent / "secret.txt", folder / "link.txt")
    with pytest.raises(ToolError, match="`link.txt` is outside the working folder"):
        call("read_file", path="link.txt")


def test_read_file_refuses_what_is_not_text(folder: Path) -> None:
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    (folder / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(ToolError, match="`image.png` is a binary file"):
        call("read_file", path="image.png")
    with pytest.raises(ToolError, match="`latin1.txt` is not UTF-8 text"):
        call("read_file", path="latin1.txt")
    with pytest.raises(ToolError, match="`missing.txt` does not exist"):
        call("read_file", path="missing.txt")
    with pytest.raises(ToolError, match="is a folder; use list_dir"):
        call("read_file", path=".")


def test_read_file_says_when_it_truncates(folder: Path) -> None:
    (folder / "long.txt").write_text("é" * 25_000, encoding="utf-8")
    shown = call("read_file", path="long.txt")
    assert shown == "é" * 20_000 + (
        "\n[truncated: the file has 25000 characters; showing the first 20000]"
    )


def test_list_dir_lists_sorted_entries_and_skips_hidden(folder: Path) -> None:
    (folder / "src").mkdir()
    (folder / "src" / "main.py").write_text("", encoding="utf-8")
    (folder / "README.md").write_text("", encoding="utf-8")
    (folder / "b.txt").write_text("", encoding="utf-8")
    (folder / ".git").mkdir()
    (folder / ".env").write_text("", encoding="utf-8")
    assert call("list_dir") == "README.md\nb.txt\nsrc/"
    assert call("list_dir", path="src") == "main.py"
    with pytest.raises(ToolError, match="outside the working folder"):
        call("list_dir", path="..")
    with pytest.raises(ToolError, match="is a file, not a folder"):
        call("list_dir", path="b.txt")


def test_list_dir_caps_a_long_listing(folder: Path) -> None:
    for number in range(250):
        (folder / f"f{number:03d}").write_text("", encoding="utf-8")
    lines = call("list_dir", path=".").splitlines()
    assert len(lines) == 201
    assert lines[0] == "f000"
    assert lines[199] == "f199"
    assert lines[-1] == "[... 50 more]"


def test_the_schemas_are_closed_objects() -> None:
    for function in BUILTIN.values():
        assert function.tool.parameters["type"] == "object"
        assert function.tool.parameters["additionalProperties"] is False
        assert not function.changes
    now = BUILTIN["now"].tool.parameters
    assert now == {"type": "object", "properties": {}, "additionalProperties": False}
    assert BUILTIN["read_file"].tool.parameters["required"] == ["path"]


def test_the_schemas_become_a_grammar() -> None:
    llguidance = pytest.importorskip("llguidance")
    from minichat.tools.grammar import grammar
    from minichat.tools.spec import Tools

    lark = grammar(Tools(tuple(function.tool for function in BUILTIN.values()), "required"))
    matcher = llguidance.LLMatcher
    assert matcher.validate_grammar(matcher.grammar_from_lark(lark)) == ""


def test_builtin_resolves_names() -> None:
    assert [f.name for f in builtin(["calculator", "now"])] == ["calculator", "now"]
    every = ["calculator", "now", "read_file", "list_dir"]
    assert [f.name for f in builtin(["all"])] == every
    assert [f.name for f in builtin(["now", "all", "now"])] == ["now", "calculator", *every[2:]]
    with pytest.raises(ConfigError) as raised:
        builtin(["calc"])
    assert str(raised.value) == (
        "unknown tool 'calc'; the built-in tools are calculator, now, read_file, list_dir (or all)"
    )


def test_hidden_files_are_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SECRET=1\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    for name in (".env", ".git/config"):
        with pytest.raises(ToolError, match="is hidden"):
            tools.run_read_file({"path": name})


def test_round_digits_are_bounded() -> None:
    with pytest.raises(ToolError, match="between -1000 and 1000"):
        evaluate("round(1, -1000000000)")
