"""Tool calls right for any function a user brings: the held-out set, through the chat core.

Run as ``.venv/bin/python bench/tool_calls.py`` from the repository root
(``--quick``: every fifth question; ``--turn4``: each question asked as the 4th turn
of a chat whose earlier turns had no calls, tools turned on just before it, as the
REPL does; ``--adapter NAME|off``; ``--greedy``). The default model with default
settings (a fixed seed per question), tools on as ``--functions`` would turn them on,
so ``--adapter auto`` takes the model's tool-use adapter. Questions and functions are
``bench/tool_cases.py`` and ``bench/tool_functions.py`` (81 signatures, 202
questions, written by hand and never trained on).

A reply is right when its calls in the first round are exactly the expected ones
(any order): the right functions, each with the expected arguments (strings
compared after normalising case and spaces, numbers by value); an optional argument
the question did not ask for is allowed if it is free text or equals its default.
``none`` questions are right with no call. Printed per group: right / asked, and
the CPU. Targets (issue "tool calls right for any function"): one function >= 85%,
several offered >= 75%, parallel >= 50%, none fits (no call) >= 90%.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))

from tool_cases import CASES  # noqa: E402
from tool_functions import BY_NAME  # noqa: E402

from minichat.settings.layered import load_settings  # noqa: E402
from minichat.tools.base import ToolFunction  # noqa: E402
from minichat.tools.spec import Tool  # noqa: E402

EARLIER = ["Hi! How are you today?", "What's your favourite season?", "Tell me about the sea."]


def normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return " ".join(value.lower().split())
    if isinstance(value, list):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    return value


def call_right(
    made: dict[str, Any], expected: dict[str, Any], by_name: dict[str, Any] = BY_NAME
) -> bool:
    if made["name"] != expected["name"] or not isinstance(made["arguments"], dict):
        return False
    schema = by_name[expected["name"]]["parameters"]["properties"]
    for key, value in expected["arguments"].items():
        if normal(made["arguments"].get(key)) != normal(value):
            return False
    for key, value in made["arguments"].items():
        if key in expected["arguments"]:
            continue
        prop = schema.get(key)
        if prop is None or "default" not in prop:
            return False  # unknown, or a required one the question did not give
        if not (prop.get("type") == "string" and "enum" not in prop) and normal(value) != normal(
            prop["default"]
        ):
            return False
    return True


def right(
    made: list[dict[str, Any]], expected: list[dict[str, Any]], by_name: dict[str, Any] = BY_NAME
) -> bool:
    if len(made) != len(expected):
        return False
    left = list(expected)
    for call in made:
        match = next((e for e in left if call_right(call, e, by_name)), None)
        if match is None:
            return False
        left.remove(match)
    return True


def dev_cases(path: Path) -> list[dict[str, Any]]:
    """Questions from ``recipes/function_data.py``'s output (a seed no run trained on): a
    development set to choose settings by, so the held-out set stays unseen: each
    conversation's first question, grouped by the calls of its first reply."""
    cases = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        messages = row["messages"]
        if messages[0]["role"] != "user" or not row.get("tools"):
            continue
        specs = {t["function"]["name"]: t["function"] for t in row["tools"]}
        calls = [
            {"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
            for c in messages[1].get("tool_calls", [])
        ]
        group = "none" if not calls else "parallel" if len(calls) > 1 else "one"
        if group == "one" and len(specs) > 1:
            group = "several"
        cases.append({"question": messages[0]["content"], "offered": list(specs), "calls": calls})
        cases[-1] |= {"group": group, "specs": specs}
    return cases


def tool(spec: dict[str, Any]) -> ToolFunction:
    return ToolFunction(
        Tool(spec["name"], spec["description"], spec["parameters"]), lambda arguments: "done"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--turn4", action="store_true")
    parser.add_argument("--adapter", default="auto")
    parser.add_argument("--greedy", action="store_true")
    parser.add_argument("--show", action="store_true", help="print each question's calls")
    parser.add_argument("--cases", type=Path, help="a development set: function_data's JSONL")
    args = parser.parse_args()

    from minichat.chat.session import ChatSession
    from minichat.cli.app import load, loader
    from minichat.cpu import isa

    flags: dict[str, Any] = {"adapter": args.adapter}
    if args.greedy:
        flags["temperature"] = "0"
    settings = load_settings(flags)
    backend, _ = load(settings, tools=True)
    cases = dev_cases(args.cases) if args.cases else CASES
    cases = cases[::5] if args.quick else cases
    scores: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    started = time.perf_counter()
    for number, case in enumerate(cases):
        session = ChatSession.start(backend, settings, loader(settings))
        session.set_parameters("bench", seed=number, max_new_tokens=160)
        if args.turn4:
            for text in EARLIER:
                session.send(text)
        specs = case.get("specs", BY_NAME)
        session.functions = {n: tool(specs[n]) for n in case["offered"]}
        session.use_tools(case["offered"], "bench", max_rounds=1)
        backend = session.backend  # the tool-use adapter, once merged, stays for the next
        exchange = session.send(case["question"])
        made = [r.to_dict() for r in exchange.tools_ran]
        ok = right(made, case["calls"], specs)
        scores[case["group"]] += ok
        asked[case["group"]] += 1
        if args.show:
            shown = json.dumps([{"name": m["name"], "arguments": m["arguments"]} for m in made])
            print(
                f"{'ok ' if ok else 'BAD'} {case['group']:8} {case['question'][:60]!r} -> {shown}"
            )
    mode = "4th turn" if args.turn4 else "fresh chat"
    temperature = "greedy" if args.greedy else "default temperature"
    print(
        f"CPU: {isa()}; {backend.describe()}; {mode}; {temperature}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    for group, target in (("one", 85), ("several", 75), ("parallel", 50), ("none", 90)):
        share = 100 * scores[group] / max(asked[group], 1)
        print(f"{group:9} {scores[group]:3}/{asked[group]:<3} {share:5.1f}%  (target {target}%)")


if __name__ == "__main__":
    main()
