"""Grounded answers: does a reply state the fact its documents hold, and what the
repetition penalty's reach does to that and to plain chat.

Run as ``.venv/bin/python bench/grounded.py`` from the repository root (``--quick``
asks 12 questions and 12 openers instead of 40 and 40). The default model answers,
greedily (so two runs agree), with the default repetition penalty and a 64-token
reply limit, two ways in the same run:

- ``prompt``: the penalty counts the last 64 tokens of the prompt too, as minichat
  did before (and as llama.cpp's ``repeat_last_n`` and transformers' processor do);
- ``reply``: it counts the reply's own tokens only;
- ``reply, numbers exempt``: and never a token that is a number (a reply that wrote
  "1234" must still be free to write the 2 of "7006652"), minichat's default now.

Printed, after the CPU and the load average:

- documents: the 40 questions of ``tests/docs_corpus.py`` asked with the corpus as
  ``--docs``: how many replies contain the fact's value (case and spacing aside),
  per question kind;
- tools: questions of ``bench/tools.py`` whose answer is a whole number, asked with
  the calculator on (the shipped tool adapter): replies that state the tool's result;
- plain chat: the first user message of 40 ``chitchat-dataset`` conversations, no
  documents: replies that loop (a 3-word run three times or more), the mean share of
  distinct word pairs, and how many replies the two ways write alike.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# the repository instead of bench/ first on the path: for tests.docs_corpus, and so
# that bench/kernels.py does not stand in for the `kernels` package transformers imports
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# how the penalty is applied: the prompt's tokens it counts, and whether numbers count
WAYS = {"prompt": (64, False), "reply": (0, False), "reply, numbers exempt": (0, True)}


def cpu() -> str:
    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    model = next((line.split(":", 1)[1].strip() for line in info if "model name" in line), "?")
    return f"{model}, {os.cpu_count()} CPUs, load average " + " ".join(
        f"{x:.2f}" for x in os.getloadavg()
    )


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def contains(reply: str, fact: str) -> bool:
    return " ".join(words(fact)) in " ".join(words(reply))


def loops(reply: str) -> bool:
    tokens = words(reply)
    runs = Counter(tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2))
    return any(count >= 3 for count in runs.values())


def distinct_pairs(reply: str) -> float:
    tokens = words(reply)
    pairs = list(itertools.pairwise(tokens))
    return len(set(pairs)) / len(pairs) if pairs else 1.0


def openers(count: int) -> list[str]:
    from minichat.tinygpt.data import chitchat_chats

    found = []
    for chat in chitchat_chats():
        first = chat[0].content.strip()
        if chat[0].role == "user" and 3 <= len(first.split()) <= 30:
            found.append(first)
        if len(found) == count:
            break
    return found


def arithmetic(count: int) -> list[tuple[str, str]]:
    """Questions bench/tools.py asks of the calculator whose answer is a whole number, and
    that number: the answer should state it exactly, as the tool gave it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_tools", Path(__file__).parent / "tools.py")
    assert spec is not None and spec.loader is not None
    tools = importlib.util.module_from_spec(spec)
    sys.modules["bench_tools"] = tools  # its dataclasses look their module up
    spec.loader.exec_module(tools)
    wanted = [q for q in tools.make_queries() if q.tool == "calculator"]
    return [(q.text, str(int(q.expected))) for q in wanted if q.expected == int(q.expected)][:count]


def main() -> None:
    from minichat.catalog import load_backend
    from minichat.chat.session import ChatSession
    from minichat.engine import decode
    from minichat.settings.layered import load_settings
    from minichat.tools.builtin import builtin
    from minichat.tools.toolbox import toolbox
    from tests.docs_corpus import make_corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="12 questions and 12 openers")
    args = parser.parse_args()
    count = 12 if args.quick else 40
    print(cpu())
    backend = load_backend("smollm2")
    settings = load_settings({"temperature": "0", "max_new_tokens": "64"}, environ={})
    print(
        f"{backend.describe()}; greedy, repetition penalty {settings.generation.repetition_penalty}"
    )
    with tempfile.TemporaryDirectory() as folder:
        questions = make_corpus(Path(folder) / "corpus")[:count]
        chats = openers(count)
        replies: dict[str, list[str]] = {}
        sums = arithmetic(count)
        tools_backend = load_backend("smollm2", adapter="smollm2-tools")
        for way, (prompt_tokens, exempt) in WAYS.items():
            decode.PROMPT_PENALISED, decode.EXEMPT_NUMBERS = prompt_tokens, exempt
            start = time.perf_counter()
            right: Counter[str] = Counter()
            for question in questions:
                session = ChatSession.start(backend, settings)
                session.use_documents(str(Path(folder) / "corpus"))
                reply = session.send(question.text).reply
                right[question.kind] += contains(reply, question.answer)
            plain = [ChatSession.start(backend, settings).send(text).reply for text in chats]
            copied = 0
            for text, value in sums:
                session = ChatSession.start(tools_backend, settings)
                session.toolbox = toolbox(builtin(["calculator"]))
                copied += value in session.send(text).reply.replace(",", "")
            replies[way] = plain
            kinds = ", ".join(f"{kind} {right[kind]}" for kind in sorted(right))
            print(
                f"{way:>6}: documents {sum(right.values())} of {len(questions)} facts stated "
                f"({kinds}); calculator results stated {copied} of {len(sums)}; "
                f"plain chat {sum(map(loops, plain))} of {len(plain)} replies loop, "
                f"distinct word pairs {sum(map(distinct_pairs, plain)) / len(plain):.3f} "
                f"({time.perf_counter() - start:.0f} s)"
            )
        alike = sum(a == b for a, b in zip(replies["prompt"], replies["reply"], strict=True))
        print(f"plain chat replies written alike both ways: {alike} of {len(chats)}")


if __name__ == "__main__":
    main()
