"""Grounded answers: does a reply state the fact its documents hold, and what the
repetition penalty's reach does to that and to plain chat.

Run as ``.venv/bin/python bench/grounded.py`` from the repository root (``--quick``
asks 12 questions and 12 openers instead of 40 and 40). The default model answers,
greedily (so two runs agree), with the default repetition penalty and a 64-token
reply limit, two ways in the same run:

- ``prompt``: the penalty counts the last 64 tokens of the prompt too, as minichat
  did before (and as llama.cpp's ``repeat_last_n`` and transformers' processor do);
- ``reply``: it counts the reply's own tokens only, minichat's default now.

Printed, after the CPU and the load average:

- documents: the 40 questions of ``tests/docs_corpus.py`` asked with the corpus as
  ``--docs``: how many replies contain the fact's value (case and spacing aside),
  per question kind;
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

WAYS = {"prompt": 64, "reply": 0}  # the prompt's tokens the penalty counts


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


def main() -> None:
    from minichat.chat.session import ChatSession
    from minichat.engine import decode
    from minichat.loading.registry import load_backend
    from minichat.settings import load_settings
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
        for way, prompt_tokens in WAYS.items():
            decode.PROMPT_PENALISED = prompt_tokens
            start = time.perf_counter()
            right: Counter[str] = Counter()
            for question in questions:
                session = ChatSession.start(backend, settings)
                session.use_documents(str(Path(folder) / "corpus"))
                reply = session.send(question.text).reply
                right[question.kind] += contains(reply, question.answer)
            plain = [ChatSession.start(backend, settings).send(text).reply for text in chats]
            replies[way] = plain
            kinds = ", ".join(f"{kind} {right[kind]}" for kind in sorted(right))
            print(
                f"{way:>6}: documents {sum(right.values())} of {len(questions)} facts stated "
                f"({kinds}); plain chat {sum(map(loops, plain))} of {len(plain)} replies loop, "
                f"distinct word pairs {sum(map(distinct_pairs, plain)) / len(plain):.3f} "
                f"({time.perf_counter() - start:.0f} s)"
            )
        alike = sum(a == b for a, b in zip(replies["prompt"], replies["reply"], strict=True))
        print(f"plain chat replies written alike both ways: {alike} of {len(chats)}")


if __name__ == "__main__":
    main()
