"""Tool calling with the default model: right tool, right arguments, valid calls, and
what the grammar's mask costs a token.

Run as ``.venv/bin/python bench/tools.py`` from the repository root (``--quick``: four
queries per tool and five without; ``--ways hermes auto required`` picks the ways). The
default model (SmolLM2-135M-Instruct, CPU, greedy, 96 new tokens) answers queries made
from templates with a fixed seed: 45 that need a built-in tool (calculator, now,
read_file, list_dir, over files made in a temporary working folder it moves into) and 18
that need none. Ways: ``hermes, no grammar`` (the tools in the system turn, the reply
read with ``parse_calls``), ``grammar, auto`` and ``grammar, required`` (``stream`` with
``Tools(all, choice)``, calls kept valid by the mask).

Printed, after the CPU: the decode time per token without tools; the first mask's cost
(llguidance warming up) and ``Constraint.mask`` + ``consume`` per token over a few calls
and a prose answer under the auto grammar (median, p90, max), against that decode time;
decode with the tools in the prompt, without and with the mask. Then per way: valid calls
(a call parses, names a known tool, its arguments validate against its schema) over
calls attempted (a ``<tool_call>`` opened or a call returned); right tool (the first call
names the expected one) and right arguments (the expression evaluates to the expected
value, the path names the expected file or folder, ``now`` gets none) over the queries
that need a tool; false calls over those that need none (n/a for required); failures.

Targets: valid calls 100% for both grammar ways. The base model's right-tool rate is
recorded. ``--adapters none smollm2-tools`` runs the same queries without and with the
shipped tool-use adapter (``minichat finetune``): with it, right tool >= 90% and false
calls <= 10% under the auto grammar.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import torch
from tokenizers import Tokenizer

from minichat import GenerationConfig, Message, load_backend
from minichat.backend import Stream
from minichat.tools import hermes
from minichat.tools.base import ToolError
from minichat.tools.builtin import BUILTIN
from minichat.tools.calculator import evaluate
from minichat.tools.grammar import Constraint, llg_tokenizer
from minichat.tools.spec import ToolCall, Tools

Target = tuple[str, str, bool | None]  # what, the value measured, met (None: recorded)
WAYS = {"hermes": "hermes, no grammar", "auto": "grammar, auto", "required": "grammar, required"}
TOOLS = tuple(function.tool for function in BUILTIN.values())
FILES = {  # the working folder's files; each folder listed holds these and an index.txt
    "notes.txt": "Call the plumber on Tuesday.\nBuy oat milk.\n",
    "todo.md": "# To do\n- finish the report\n- water the plants\n",
    "recipe.txt": "Pancakes: 200 g flour, 2 eggs, 300 ml milk, a pinch of salt.\n",
    "report.md": "# Q3 report\nSales rose 12% over the quarter; costs stayed flat.\n",
    "ideas.txt": "A bird feeder that counts visits.\nA solar-powered lamp.\n",
    "letter.txt": "Dear Sam,\nThank you for the lovely flowers.\nBest, Alex\n",
    "README.md": "# Garden planner\nPlan which vegetables to sow each month.\n",
    "docs/guide.md": "# Guide\nStart the planner with `garden plan`.\n",
    "data/prices.csv": "item,price\napple,0.5\npear,0.7\n",
    "src/util.py": "def double(x):\n    return 2 * x\n",
}
FOLDERS = ["docs", "src", "data", "images", "archive", "tests", "docs", "data"]  # listed


def number(result: str) -> float:
    """The calculator's answer as a number (a rounded one is marked "≈ ")."""
    return float(result.removeprefix("≈ "))


CALCULATIONS = [  # (question, its arithmetic: the expected value is what this evaluates to)
    ("What is {a} * {b}?", "{a} * {b}"),
    ("Calculate {a} + {b} + {c}.", "{a} + {b} + {c}"),
    ("How much is {a} divided by {c}?", "{a} / {c}"),
    ("What's {p}% of {a}?", "{p} * {a} / 100"),
    ("What is the square root of {s}?", "sqrt({s})"),
    ("Compute ({a} + {b}) * {c}.", "({a} + {b}) * {c}"),
    ("What is {c} to the power of {k}?", "{c} ** {k}"),
    ("I buy {c} tickets at {b} dollars each. What do I pay in total?", "{c} * {b}"),
    ("{a} times {b} equals what?", "{a} * {b}"),
    ("What do you get if you subtract {b} from {a}?", "{a} - {b}"),
    ("Please work out {a} * {b} - {c}.", "{a} * {b} - {c}"),
    ("A room is {b} m by {c} m. What is its area in square metres?", "{b} * {c}"),
    ("Split a bill of {a} dollars between {c} people: what does each pay?", "{a} / {c}"),
    ("What is {a} squared?", "{a} ** 2"),
    ("Add {a}, {b} and {c} together.", "{a} + {b} + {c}"),
]
NOW = [
    "What time is it?", "What's today's date?", "What day of the week is it today?",
    "What is the current date and time?", "Which year is it now?", "What month is it?",
    "Tell me the current time, please.", "Is it morning or evening right now?",
    "What's the date today?", "Which time zone am I in?",
]  # fmt: skip
READS = [
    "What is in {}?", "Show me the contents of {}.", "Read {} for me.", "Can you read {}?",
    "Open the file {} and tell me what it says.", "Summarise the file {}.",
]  # fmt: skip
LISTS = [
    "Which files are in the {} folder?", "List the contents of the {} directory.",
    "What is inside {}/?", "Show me what's in the folder {}.",
]  # fmt: skip
HERE = ["What files are in the current folder?", "List the files here."]
NO_TOOL = [
    "Hello!", "Hi, how are you?", "Who wrote Romeo and Juliet?", "Tell me a joke.",
    "What is photosynthesis?", "Give me three tips for sleeping better.",
    "Translate 'thank you' into Spanish.", "What is the largest planet in the solar system?",
    "Thanks for your help!", "Explain what a noun is.", "Suggest a name for a cat.",
]  # fmt: skip
NO_TOOL_TEMPLATES = [  # (template, what fills it, how many)
    ("What is the capital of {}?", ["France", "Japan", "Canada", "Italy", "Kenya"], 3),
    ("Write a haiku about {}.", ["the sea", "autumn", "a mountain", "rain"], 2),
    ("Tell me a fun fact about {}.", ["octopuses", "owls", "elephants", "bees"], 2),
]


@dataclass(frozen=True)
class Query:
    text: str
    tool: str | None  # the tool it needs; None: it needs none
    expected: Any = None  # the calculator's value, or the path read or listed


def make_queries(seed: int = 0) -> list[Query]:
    rng = random.Random(seed)
    out = []
    for question, arithmetic in CALCULATIONS:
        a, b, c, k = rng.randint(12, 999), rng.randint(12, 99), rng.randint(2, 9), rng.randint(3, 6)
        n = {"a": a, "b": b, "c": c, "k": k, "p": rng.choice([5, 10, 15, 20, 25])}
        n["s"] = rng.randint(11, 40) ** 2
        value = number(evaluate(arithmetic.format(**n)))
        out.append(Query(question.format(**n), "calculator", value))
    out += [Query(text, "now") for text in NOW]
    out += [Query(rng.choice(READS).format(name), "read_file", name) for name in FILES]
    shift = rng.randrange(len(LISTS))  # a folder listed twice is asked two ways
    for n, name in enumerate(FOLDERS):
        out.append(Query(LISTS[(n + shift) % len(LISTS)].format(name), "list_dir", name))
    out += [Query(text, "list_dir", ".") for text in HERE]
    out += [Query(text, None) for text in NO_TOOL]
    for template, fills, count in NO_TOOL_TEMPLATES:
        out += [Query(template.format(fill), None) for fill in rng.sample(fills, count)]
    return out


def quick(queries: list[Query]) -> list[Query]:
    """A few of each kind: four per tool, five without."""
    kinds = [q.tool for q in queries]
    return [
        q for n, q in enumerate(queries) if kinds[:n].count(q.tool) < (5 if q.tool is None else 4)
    ]


def valid(call: ToolCall) -> bool:
    """It names a built-in tool, and its arguments validate against that tool's schema."""
    function = BUILTIN.get(call.name)
    try:
        if function is not None:
            jsonschema.validate(json.loads(call.arguments), function.tool.parameters)
            return True
    except (ValueError, jsonschema.ValidationError):
        pass
    return False


def right_arguments(query: Query, call: ToolCall) -> bool:
    arguments = json.loads(call.arguments)  # parse_calls wrote it
    if not isinstance(arguments, dict):
        return False
    if query.tool == "now":
        return arguments == {}
    if query.tool == "calculator":
        try:  # a wrong type or a missing expression fail here too
            value = number(evaluate(arguments.pop("expression")))
        except (KeyError, TypeError, ValueError, ToolError):
            return False
        return not arguments and math.isclose(value, query.expected, rel_tol=1e-6)
    path = arguments.pop("path", "." if query.tool == "list_dir" else None)
    if arguments or not isinstance(path, str):
        return False
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    return (path.rstrip("/") or ".") == query.expected


@dataclass
class Tally:
    attempts: int = 0
    valid: int = 0
    cut_off: int = 0  # calls attempted, not valid, in replies that reached max_new_tokens
    needing: int = 0
    right_tool: int = 0
    right_args: int = 0
    no_tool: int = 0
    false_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # why, query, output


def ask(
    backend: Any, way: str, query: Query, config: GenerationConfig
) -> tuple[Stream, list[ToolCall], int, str]:
    """The reply, its calls, the calls attempted, and the output as shown on failure."""
    messages = [Message("user", query.text)]
    if way == "hermes":
        cancel = threading.Event()
        prompt = hermes.prepare(messages, Tools(TOOLS, "auto"))
        stream = Stream(backend.generate(prompt, config, cancel), cancel)
        text = "".join(stream)
        calls = hermes.parse_calls(text)
        return stream, calls, max(text.count(hermes.OPEN), len(calls)), text
    stream = backend.stream(messages, config, tools=Tools(TOOLS, way))
    text = "".join(stream)
    calls = list(stream.tool_calls)
    shown = text + "".join(f" {c.name}({c.arguments})" for c in calls)
    return stream, calls, len(calls) + text.count(hermes.OPEN), shown


def evaluate_way(backend: Any, way: str, queries: list[Query], config: GenerationConfig) -> Tally:
    tally = Tally()
    for query in queries:
        stream, calls, attempts, shown = ask(backend, way, query, config)
        if stream.stats is not None:
            tally.tokens += stream.stats.new_tokens
            tally.seconds += stream.stats.total_seconds
        tally.attempts += attempts
        good = sum(valid(call) for call in calls)
        tally.valid += good
        why = "invalid call" if good < attempts else ""
        if why and stream.finish_reason == "length":
            why = "cut off"
            tally.cut_off += attempts - good
        if query.tool is None:
            tally.no_tool += 1
            tally.false_calls += attempts > 0
            why = why or ("false call" if attempts else "")
        else:
            tally.needing += 1
            tool_ok = bool(calls) and calls[0].name == query.tool
            args_ok = tool_ok and right_arguments(query, calls[0])
            tally.right_tool += tool_ok
            tally.right_args += args_ok
            if not why and not args_ok:
                why = "wrong arguments" if tool_ok else "wrong tool" if attempts else "no call"
        if why:
            tally.failures.append((why, query.text, shown))
    return tally


def share(part: int, whole: int) -> str:
    return f"{part:3}/{whole:<3} {part / whole:4.0%}" if whole else f"{'n/a':>12}"


def cpu() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", info)
    name = model.group(1).strip() if model else "unknown CPU"
    return f"{name}, {os.cpu_count()} CPUs, torch uses {torch.get_num_threads()} threads"


def decode_ms(backend: Any, way: str | None, repeats: int = 3) -> float:
    """Decode time per token over 64 greedy tokens of a story, median of ``repeats``: plain
    (``way`` None), or asked as ``way`` asks (tools in the prompt; a grammar or not)."""
    config = GenerationConfig(temperature=0, max_new_tokens=64)
    story = "Write a long story about a lighthouse keeper."
    times = []
    for _ in range(repeats):
        if way is None:
            stream = backend.stream([Message("user", story)], config)
            "".join(stream)
        else:
            stream = ask(backend, way, Query(story, None), config)[0]
        if stream.stats is not None and stream.stats.tokens_per_second:
            times.append(1000 / stream.stats.tokens_per_second)
    return statistics.median(times) if times else math.nan


def rendered(name: str, arguments: str) -> str:
    return hermes.render_call(ToolCall("x", name, arguments))


MASKED = {  # texts the auto grammar is walked over, token by token
    "calculator call": rendered("calculator", '{"expression": "12 * (3 + 4)"}'),
    "read_file call": rendered("read_file", '{"path": "docs/guide.md"}'),
    "now call": rendered("now", "{}"),
    "prose": "The capital of France is Paris, a city on the Seine known for its museums, cafes "
    "and the Eiffel Tower. About two million people live in the city itself, and more than "
    "ten million in the wider region around it.",
}
# what the first mask in a process pays for: llguidance.torch wraps a kernel in torch.compile
# as it is imported, which imports torch._dynamo
IMPORT = "import time, torch; t = time.perf_counter(); import llguidance.torch; print(time.perf_counter() - t)"  # noqa: E501


def mask_cost(backend: Any, decode: float, targets: list[Target]) -> None:
    tools = Tools(TOOLS, "auto")
    start = time.perf_counter()
    tokenizer = llg_tokenizer(backend.tokenizer_json(), backend.end_ids)
    built = time.perf_counter() - start
    logits = torch.zeros(tokenizer.vocab_size, dtype=backend.token_model.dtype)
    start = time.perf_counter()
    Constraint(tokenizer, tools).mask(logits)  # the first mask in the process: warms it
    first = time.perf_counter() - start
    imported = subprocess.run([sys.executable, "-c", IMPORT], capture_output=True, text=True)
    print(f"\nllguidance tokenizer built in {built:.2f} s; first mask in the process {first:.2f} s")
    seconds = float(imported.stdout or "nan")
    print(f"(of which importing llguidance.torch, in a new process after torch: {seconds:.2f} s)")
    words = Tokenizer.from_str(backend.tokenizer_json())
    columns = ("tokens", "median", "p90", "max", "build")
    print(f"\n{'mask + consume ms, auto grammar':31} " + " ".join(f"{c:>7}" for c in columns))
    every: list[float] = []
    for label, text in MASKED.items():
        start = time.perf_counter()
        constraint = Constraint(tokenizer, tools)
        build = (time.perf_counter() - start) * 1000
        times = []
        for token in [*words.encode(text, add_special_tokens=False).ids, min(backend.end_ids)]:
            start = time.perf_counter()
            constraint.mask(logits)
            constraint.consume(token)
            times.append((time.perf_counter() - start) * 1000)
        every += times
        p90 = sorted(times)[round(0.9 * (len(times) - 1))]
        median = statistics.median(times)
        print(f"{label:31} {len(times):7} {median:7.3f} {p90:7.3f} {max(times):7.3f} {build:7.2f}")
    median = statistics.median(every)
    print(f"{'all':31} {len(every):7} {median:7.3f}: {median / decode:.1%} of a decode step")
    value = f"{median:.3f} ms, {median / decode:.1%} of decode"
    targets.append(("mask + consume, median", value, None))


def evaluate_all(backend: Any, ways: list[str], queries: list[Query]) -> dict[str, Tally]:
    """Every way over every query, in a temporary working folder holding ``FILES``."""
    config = GenerationConfig(temperature=0, max_new_tokens=160)
    home = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="minichat-bench-") as tmp:
        for folder in FOLDERS:
            (Path(tmp) / folder).mkdir(exist_ok=True)
            (Path(tmp) / folder / "index.txt").write_text(f"What {folder} holds.\n")
        for name, text in FILES.items():
            (Path(tmp) / name).write_text(text)
        os.chdir(tmp)
        try:
            return {way: evaluate_way(backend, way, queries, config) for way in ways}
        finally:
            os.chdir(home)


def report(tallies: dict[str, Tally], targets: list[Target]) -> None:
    columns = ("valid calls", "right tool", "right args", "false calls")
    print(f"\n{'way':20} " + " ".join(f"{c:>12}" for c in columns) + f" {'tokens':>7} {'s':>5}")
    for way, t in tallies.items():
        false_calls = share(0, 0) if way == "required" else share(t.false_calls, t.no_tool)
        print(
            f"{WAYS[way]:20} {share(t.valid, t.attempts)} {share(t.right_tool, t.needing)} "
            f"{share(t.right_args, t.needing)} {false_calls} {t.tokens:7} {t.seconds:5.0f}"
        )
    for way, t in tallies.items():
        reasons = sorted({why for why, _, _ in t.failures})
        counts = ", ".join(f"{sum(why == r for why, _, _ in t.failures)} {r}" for r in reasons)
        print(f"\n{WAYS[way]}, failures: {counts or 'none'}")
        shown = [next(f for f in t.failures if f[0] == r) for r in reasons]
        shown += [f for f in t.failures if f not in shown][: max(0, 5 - len(shown))]
        for why, text, output in shown:
            print(f"  {why:15} {text[:40]!r:44} -> {output[:80]!r}")
    for way in ("auto", "required"):
        if way in tallies:
            t = tallies[way]
            value = f"{share(t.valid, t.attempts).strip()}, {t.cut_off} cut off"
            met = t.valid == t.attempts if t.attempts else None
            targets.append((f"{WAYS[way]}: valid calls 100%", value, met))
    for way, t in tallies.items():
        name = f"{WAYS[way]}: right-tool rate (adapter aims > 90%)"
        targets.append((name, share(t.right_tool, t.needing).strip(), None))


def adapter_targets(adapter: str, tallies: dict[str, Tally], targets: list[Target]) -> None:
    """With a tool-use adapter: right tool >= 90% and false calls <= 10% (auto grammar)."""
    t = tallies.get("auto")
    if t is None or not t.needing:
        return
    right, false = t.right_tool / t.needing, t.false_calls / max(1, t.no_tool)
    targets.append((f"{adapter}, auto: right tool >= 90%", f"{right:.0%}", right >= 0.9))
    targets.append((f"{adapter}, auto: false calls <= 10%", f"{false:.0%}", false <= 0.1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four queries per tool, five without")
    parser.add_argument("--ways", nargs="+", choices=list(WAYS), default=list(WAYS))
    parser.add_argument(
        "--adapters", nargs="+", default=["none"], help="none, a shipped name or a folder each"
    )
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"commit {commit.stdout.strip()}, {cpu()}; load average {os.getloadavg()[0]:.2f}")
    queries = quick(make_queries()) if args.quick else make_queries()
    needing = sum(q.tool is not None for q in queries)
    print(f"{len(queries)} queries: {needing} need a tool, {len(queries) - needing} need none")
    targets: list[Target] = []
    for n, adapter in enumerate(args.adapters):
        backend = load_backend(
            "smollm2", device="cpu", adapter=None if adapter == "none" else adapter
        )
        print(f"\n== adapter {adapter}: {backend.describe()}")
        if n == 0:
            decode_ms(backend, None, 1)  # warm-up
            plain = decode_ms(backend, None)
            print(f"\ndecode without tools: {plain:.2f} ms/token ({1000 / plain:.1f} tok/s)")
            mask_cost(backend, plain, targets)
            prompt, grammar = decode_ms(backend, "hermes"), decode_ms(backend, "auto")
            print(f"\ndecode, tools in the prompt: {prompt:.2f} ms/token without a mask, ", end="")
            print(f"{grammar:.2f} with the auto grammar ({grammar / prompt - 1:+.1%})")
        tallies = evaluate_all(backend, args.ways, queries)
        report(tallies, targets if adapter == "none" else [])
        if adapter != "none":
            adapter_targets(adapter, tallies, targets)
        backend.close()
    print(f"\ntargets (load average {os.getloadavg()[0]:.2f})")
    for name, value, met in targets:
        verdict = "recorded" if met is None else ("met" if met else "MISSED")
        print(f"{name:52} {value:>24}  {verdict}")


if __name__ == "__main__":
    main()
