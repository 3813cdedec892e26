"""``--functions`` against hostile input: a user's file that prints, hangs, exits or
crashes, annotations that say nothing usable, names that clash, and a model (not
held to a grammar) that calls with the wrong arguments. The chat must go on, its
stdout stay its own, and every refusal be one line that says what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from minichat.chat.session import ChatSession
from minichat.errors import ConfigError
from minichat.settings.layered import load_settings
from minichat.tools.base import ToolFunction
from minichat.tools.builtin import builtin
from minichat.tools.functions import as_tool, load_functions, stop_workers
from minichat.tools.spec import ToolCall
from minichat.tools.toolbox import Toolbox
from tests.test_tools_calls import Caller

# backtracks for longer than anyone waits, inside one call to C that holds the GIL
STUCK = 're.match(r"(a+)+$", "a" * 64 + "b")'


@pytest.fixture(autouse=True)
def no_workers_left() -> Iterator[None]:
    yield
    stop_workers()


def write(tmp_path: Path, text: str, name: str = "mine.py") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def box(functions: list[ToolFunction], timeout: float = 30.0) -> Toolbox:
    return Toolbox({f.name: f for f in functions}, timeout=timeout)


def call(toolbox: Toolbox, name: str, arguments: str = "{}") -> str:
    return toolbox.run(ToolCall("c", name, arguments), approve=lambda call: True).result


def refusal(path: Path, **options: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        load_functions(path, **options)
    message = str(raised.value)
    assert "\n" not in message and str(path) in message, message
    return message


# --- the user's code runs where it can be stopped, and prints where nobody reads -----------


def test_a_call_stuck_in_c_holding_the_gil_is_killed_and_the_next_call_works(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, f"import re\ndef stuck() -> str:\n    return {STUCK}\n"
                           "def fine() -> str:\n    return 'fine'\n")  # fmt: skip
    toolbox = box(load_functions(path), timeout=3)
    assert call(toolbox, "stuck") == "error: stuck took longer than 3 s and was given up"
    assert call(toolbox, "fine") == "fine"
    assert call(toolbox, "stuck") == "error: stuck took longer than 3 s and was given up"
    assert call(toolbox, "fine") == "fine"


def test_an_import_stuck_in_c_is_given_up(tmp_path: Path) -> None:
    path = write(tmp_path, f"import re\n{STUCK}\ndef f() -> str:\n    return 'f'\n")
    assert "took longer than 2 s to import" in refusal(path, timeout=2)


def test_what_the_users_code_prints_never_reaches_stdout(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "import os, sys\nprint('importing')\nos.write(1, b'C at import')\n"
        "def noisy() -> str:\n"
        "    print('from print')\n    print('to stderr', file=sys.stderr)\n"
        "    os.write(1, b'from C\\n')\n    return 'done'\n"
        "def report() -> None:\n    print('from print')\n    os.write(1, b'from C\\n')\n",
    )
    toolbox = box(load_functions(path))
    # a return value is the answer: a debugging print beside it would mislead the model
    assert call(toolbox, "noisy") == "done"
    # a function that returns nothing reports by printing: that is its answer
    assert call(toolbox, "report") == "from print\nfrom C"
    assert capfd.readouterr() == ("", "")


def test_a_function_that_kills_its_own_process_does_not_end_the_chat(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "import os, signal\ndef die() -> str:\n    os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return 'never'\ndef fine() -> str:\n    return 'fine'\n",
    )
    toolbox = box(load_functions(path))
    assert call(toolbox, "die").startswith(
        "error: the process running die stopped (killed by SIGKILL)"
    )
    assert call(toolbox, "fine") == "fine"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("raise SystemExit(3)", "error: f failed: SystemExit: 3"),
        ("raise KeyboardInterrupt", "error: f failed: KeyboardInterrupt"),
        ("return f()", "error: f failed: RecursionError: maximum recursion depth exceeded"),
        ("return input('? ')", "error: f failed: EOFError: EOF when reading a line"),
        (
            "class Odd:\n        def __repr__(self): raise ValueError('no')\n    return Odd()",
            "error: f failed: ValueError: no",
        ),
    ],
)
def test_a_call_that_raises_anything_is_an_error_and_the_next_call_works(
    tmp_path: Path, body: str, error: str
) -> None:
    path = write(tmp_path, f"def f() -> str:\n    {body}\ndef g() -> str:\n    return 'g'\n")
    toolbox = box(load_functions(path))
    assert call(toolbox, "f").startswith(error)
    assert call(toolbox, "g") == "g"


def test_a_huge_result_is_cut_in_the_worker_and_odd_characters_survive(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "def huge() -> str:\n    return 'x' * 50_000_000\n"
        "def odd() -> str:\n    return 'a\\ud800b'\n"
        "def thing() -> object:\n    return {1, 2}\n",
    )
    toolbox = box(load_functions(path))
    result = call(toolbox, "huge")
    assert len(result) < 300_000 and result.endswith("of 50000000 characters]")
    assert call(toolbox, "odd").encode("utf-8") == b"a?b"  # a lone surrogate no one can encode
    assert call(toolbox, "thing") == "{1, 2}"


def test_async_functions_are_awaited_and_generators_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "async def later(x: int) -> int:\n    return x + 1\n")
    assert call(box(load_functions(path)), "later", '{"x": 1}') == "2"
    path = write(tmp_path, "def many():\n    yield 1\n", "gen.py")
    assert "many yields" in refusal(path)


# --- a file that cannot be used is refused in one line ---------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("import sys\nsys.exit()\n", "calls sys.exit(None) at import"),
        ("raise KeyboardInterrupt\n", "does not import (KeyboardInterrupt"),
        ("import os\nos._exit(4)\n", "stopped while importing (exit code 4)"),
        ("def f(x: 'Nope') -> str:\n    return x\n", "the annotations of f cannot be read"),
        (
            "from typing import Literal\ndef f(x: Literal[b'x']) -> str:\n    return x\n",
            "the choice b'x' of f(x) is not a JSON value",
        ),
        (
            "from typing import Literal\ndef f(x: Literal[float('nan')]) -> str:\n    return x\n",
            "the choice nan of f(x) is not a JSON value",
        ),
        (
            "def calculator(expression: str) -> str:\n    return expression\n",
            "calculator is the name of a built-in tool; rename it",
        ),
        (
            "def search_docs(query: str) -> str:\n    return query\n",
            "search_docs is the name of a built-in tool; rename it",
        ),
        ("def café() -> str:\n    return 'ok'\n", "café is not a name a model can call"),
        ("x = 1\n", "defines no public function"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_in_one_line(
    tmp_path: Path, text: str, words: str
) -> None:
    assert words in refusal(write(tmp_path, text))


def test_a_file_that_is_not_a_python_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes(b"def f() -> str:\n    return '\xe9'\n")
    assert "is not UTF-8 text" in refusal(path)
    assert "is a folder" in refusal(tmp_path)
    os.mkfifo(tmp_path / "fifo.py")
    assert "is a pipe (FIFO)" in refusal(tmp_path / "fifo.py")  # not waited on for ever
    assert "no file at" in refusal(tmp_path / "missing.py")


def test_sys_exit_at_import_is_one_line_from_the_cli(tmp_path: Path) -> None:
    path = write(tmp_path, "import sys\nprint('noise')\nsys.exit(3)\n")
    result = subprocess.run(
        [sys.executable, "-m", "minichat", "ask", "-m", "echo", "--functions", str(path), "hi"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MINICHAT_DATA_DIR": str(tmp_path)},
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.count("\n") == 1 and "calls sys.exit(3) at import" in result.stderr


# --- what the file defines becomes tools a model can call -----------------------------------


def test_positional_only_parameters_and_lambdas_can_be_called(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "def twice(a: int, b: int = 1, /, *, c: int = 0) -> int:\n    return 2 * a + b + c\n"
        "shout = lambda text: text.upper()\n"
        "SENTINEL = object()\n"
        "def maybe(x: int = SENTINEL) -> str:\n    return 'none' if x is SENTINEL else str(x)\n",
    )
    functions = load_functions(path)
    assert [f.name for f in functions] == ["twice", "shout", "maybe"]
    toolbox = box(functions)
    assert call(toolbox, "twice", '{"a": 5}') == "11"
    assert call(toolbox, "twice", '{"a": 5, "b": 0, "c": 3}') == "13"
    assert call(toolbox, "shout", '{"text": "hi"}') == "HI"
    assert call(toolbox, "maybe") == "none"


def test_the_same_file_twice_is_one_set_of_tools_and_an_edit_is_read_again(
    tmp_path: Path,
) -> None:
    count = tmp_path / "imports"
    text = f"open({str(count)!r}, 'a').write('x')\ndef first() -> str:\n    return 'one'\n"
    path = write(tmp_path, text)
    session = ChatSession.start(Caller([]), load_settings({}, environ={}))
    assert session.add_functions(path) == ["first"]
    assert session.add_functions(path) == ["first"]
    assert count.read_text() == "x"  # imported once
    session.use_tools(["calculator", "first"])
    assert session.toolbox is not None and session.toolbox.names == ["calculator", "first"]
    old = session.toolbox
    write(tmp_path, text.replace("'one'", "'two'") + "def second() -> str:\n    return '2'\n")
    assert session.add_functions(path) == ["first", "second"]
    assert call(old, "first") == "two"  # the tools already on see the file as it is now


# --- a call's arguments are checked against the tool's schema first -------------------------


def test_arguments_that_do_not_fit_the_schema_go_back_to_the_model(tmp_path: Path) -> None:
    ran: list[dict[str, Any]] = []

    def paint(
        colour: Literal["red", "green"], coats: int = 1, notes: list[str] | None = None
    ) -> str:
        ran.append({"colour": colour})
        return "painted"

    toolbox = box([as_tool(paint), *builtin(["calculator"])])
    for arguments, error in [
        ('{"coats": 2}', "error: the argument `colour` is missing"),
        ('{"colour": "blue"}', 'error: the argument `colour` must be one of "red", "green"'),
        ('{"colour": "red", "shade": 1}', "error: unknown argument `shade`; paint takes colour"),
        ('{"colour": "red", "coats": "two"}', "error: the argument `coats` must be an integer"),
        ('{"colour": "red", "coats": true}', "error: the argument `coats` must be an integer"),
        ('{"colour": "red", "coats": 2.5}', "error: the argument `coats` must be an integer"),
        ('{"colour": "red", "notes": ["a", 3]}', "error: the argument `notes[1]` must be a string"),
    ]:
        assert call(toolbox, "paint", arguments).startswith(error), arguments
    assert ran == []
    assert call(toolbox, "paint", '{"colour": "red", "coats": 2, "notes": ["a"]}') == "painted"
    assert call(toolbox, "calculator", '{"expression": 3}').startswith(
        "error: the argument `expression` must be a string"
    )


def test_arguments_nested_too_deep_are_an_error_not_a_crash() -> None:
    toolbox = box(builtin(["calculator"]))
    deep = "[" * 100_000 + "]" * 100_000
    assert call(toolbox, "calculator", f'{{"expression": {deep}}}').startswith(
        "error: the arguments are not JSON"
    )
    nested = "[" * 900 + "]" * 900
    assert call(toolbox, "calculator", f'{{"expression": {nested}}}').startswith(
        "error: the argument `expression` is nested more than 32 deep"
    )


def test_two_files_cannot_define_one_name_and_a_reload_drops_what_went(tmp_path: Path) -> None:
    session = ChatSession.start(Caller([]), load_settings({}, environ={}), lambda n, a: Caller([]))
    first = write(tmp_path, "def shout(text: str) -> str:\n    return text.upper()\n", "a.py")
    other = write(tmp_path, "def shout(text: str) -> str:\n    return text\n", "b.py")
    assert session.add_functions(first) == ["shout"]
    with pytest.raises(ConfigError, match=r"b.py defines shout, as .*a.py does already"):
        session.add_functions(other)
    first.write_text("def whisper(text: str) -> str:\n    return text.lower()\n")
    assert session.add_functions(first) == ["whisper"]
    assert sorted(session.functions) == ["whisper"]
    assert session.add_functions(other) == ["shout"]  # the name is free again


def test_a_saved_chat_is_the_users_alone(tmp_path: Path) -> None:
    session = ChatSession.start(Caller([]), load_settings({}, environ={}), lambda n, a: Caller([]))
    session.send("my secret question", None)
    saved = session.save(tmp_path / "chat.json")
    assert oct(saved.stat().st_mode & 0o777) == oct(0o600)


def test_an_optional_parameter_takes_null(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "from typing import Literal, Optional\n"
        "def pick(n: Optional[int] = None, size: Optional[Literal['s', 'm']] = None) -> str:\n"
        "    return f'{n} {size}'\n",
    )
    [tool] = load_functions(path)
    properties = tool.tool.parameters["properties"]
    assert properties["n"] == {"type": ["integer", "null"]}
    assert properties["size"] == {"anyOf": [{"enum": ["s", "m"]}, {"type": "null"}]}
    toolbox = box([tool])
    assert call(toolbox, "pick", '{"n": null, "size": null}') == "None None"
    assert call(toolbox, "pick", '{"n": 3, "size": "m"}') == "3 m"
    assert "must be" in call(toolbox, "pick", '{"n": "three"}')
    llguidance = pytest.importorskip("llguidance")
    from minichat.tools.grammar import grammar
    from minichat.tools.spec import Tools

    lark = grammar(Tools((tool.tool,), "required"))
    matcher = llguidance.LLMatcher
    assert matcher.validate_grammar(matcher.grammar_from_lark(lark)) == ""


def test_what_a_function_started_ends_with_the_chat(tmp_path: Path) -> None:
    """minichat killed outright: its worker leaves, and takes along what the user's code
    started (a `sleep` here), which would otherwise run on with no parent."""
    import time

    path = write(
        tmp_path,
        "import subprocess\ndef spawn() -> int:\n"
        "    return subprocess.Popen(['sleep', '300']).pid\n",
    )
    chat = (
        "import json, os, signal, sys\n"
        "from minichat.tools.functions import load_functions\n"
        f"[tool] = load_functions(__import__('pathlib').Path({str(path)!r}))\n"
        "print(tool.run({}), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", chat], capture_output=True, text=True)
    pid = int(done.stdout.strip())
    for _ in range(100):  # the worker looks for its parent once a second
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, 9)
    pytest.fail("the function's child outlived the chat")
