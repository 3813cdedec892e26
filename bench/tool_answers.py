"""Answers that state a tool's result exactly: the arithmetic and file questions of
``bench/tools.py`` asked through the chat core, call, result and answer, as the REPL
runs them with ``--tools calculator,read_file``.

Run as ``.venv/bin/python bench/tool_answers.py`` from the repository root
(``--adapter NAME|off``, default auto: the model's tool-use adapter). Default
settings, a fixed seed per question. A reply is right when the tool ran and the
answer after it states the result as the tool gave it: the calculator's number
(written with or without thousands separators; a rounded result to the digits the
calculator gave), or, for a file, one of its lines word for word (Markdown's heading
marks aside). Printed: right / asked for each tool, and the CPU. Target (issue "tool
calls right for any function"): >= 95%.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))

from tools import FILES, make_queries  # noqa: E402

from minichat.settings.layered import load_settings  # noqa: E402


def states(reply: str, tool: str, result: str, question: str) -> bool:
    """Whether ``reply`` states ``result`` exactly (a file's line that the question
    itself holds, such as a title that is its name, does not count)."""
    if tool == "calculator":
        number = result.removeprefix("≈ ")
        plain = reply.replace(",", "").replace("\u202f", "").replace(" ", "")
        return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", plain) is not None
    lines = [re.sub(r"^#+\s*", "", line).strip() for line in result.splitlines()]
    said = " ".join(reply.lower().split())
    asked = " ".join(question.lower().split())
    lines = [" ".join(line.lower().split()) for line in lines]
    return any(line and line not in asked and line in said for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", default="auto")
    parser.add_argument("--show", action="store_true", help="print each answer")
    parser.add_argument("--greedy", action="store_true", help="temperature 0")
    args = parser.parse_args()

    from minichat.chat.session import ChatSession
    from minichat.cli.app import load, loader
    from minichat.cpu import isa

    flags = {"adapter": args.adapter} | ({"temperature": "0"} if args.greedy else {})
    settings = load_settings(flags)
    backend, _ = load(settings, tools=True)
    queries = [q for q in make_queries() if q.tool in ("calculator", "read_file")]
    right: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    started = time.perf_counter()
    home = Path.cwd()
    with tempfile.TemporaryDirectory() as folder:
        for path, text in FILES.items():
            (Path(folder) / path).parent.mkdir(parents=True, exist_ok=True)
            (Path(folder) / path).write_text(text)
        os.chdir(folder)
        try:
            for number, query in enumerate(queries):
                assert query.tool is not None
                session = ChatSession.start(backend, settings, loader(settings))
                session.set_parameters("bench", seed=number)
                session.use_tools(["calculator", "read_file"], "bench")
                backend = session.backend
                exchange = session.send(query.text)
                ran = [r for r in exchange.tools_ran if r.call.name == query.tool and not r.failed]
                ok = bool(ran) and states(exchange.reply, query.tool, ran[0].result, query.text)
                right[query.tool] += ok
                asked[query.tool] += 1
                if args.show:
                    tried = [(r.call.name, r.call.arguments) for r in exchange.tools_ran]
                    result = ran[0].result if ran else f"(no call run: {tried})"
                    print(f"{'ok ' if ok else 'BAD'} {query.text[:50]!r} -> {result[:90]!r}")
                    print(f"    {exchange.reply[:200]!r}")
        finally:
            os.chdir(home)
    print(f"CPU: {isa()}; {backend.describe()}; {time.perf_counter() - started:.0f} s")
    total = sum(right.values())
    for tool in ("calculator", "read_file"):
        print(f"{tool:11} {right[tool]:3}/{asked[tool]}")
    print(f"all         {total:3}/{sum(asked.values())} {100 * total / sum(asked.values()):5.1f}%")
    print("(target 95%)")


if __name__ == "__main__":
    main()
