"""Training conversations that teach the default model to answer from its documents.

SmolLM2-135M-Instruct, given the right passage, still invents names, flags and
numbers instead of saying the ones the passage holds. A LoRA adapter trained on these
conversations is meant to fix that. Each conversation is one question about a made-up
program's manual, asked exactly as ``--docs`` asks it: the manual is written to a
temporary folder as real files (Markdown, reStructuredText, HTML, plain text and
Python source), indexed and searched by minichat's own chunker and retrieval, and the
four passages found are put before the question by ``docs.context``. The answer is a
short sentence that copies the value (a default, a flag, a command, a version) from
the passage that holds it and cites that passage's number; when no passage found
holds it (the question is about something the manual never mentions, or retrieval
missed it), the answer is "The documents don't say." and nothing else. Questions come
in three kinds: in the passage's own words (keyword), in other words (paraphrase),
and asking for a flag or a command (value). Programs, values and the manual's layout
are drawn afresh for each manual, so the adapter learns to copy, not to remember.
Written as JSONL, one conversation a line, in OpenAI's chat format::

    python -m recipes.docs_data OUT.jsonl [--n 700] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minichat.errors import MinichatError
from minichat.retrieval import context
from minichat.retrieval.collection import Collection
from minichat.retrieval.embedder import Embedder
from minichat.retrieval.embedder import shared as shared_embedder
from minichat.retrieval.search import TOP_K
from minichat.safety.files import write_atomically
from recipes import docs_pages as pages
from recipes.docs_pages import Item, Manual

NOT_SAID = "The documents don't say."
KINDS = ("keyword", "paraphrase", "value")
UNANSWERED = 0.08  # of the questions a manual is asked are about what it never mentions
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`])")
PER_MANUAL = 13  # questions asked of each manual
# of the prompts show the passages in a random order, not retrieval's: in a manual this
# small the passage holding the answer is nearly always [1], and a model must not learn
# to copy from [1] whatever it says
SHUFFLED = 0.35


@dataclass(frozen=True)
class Question:
    text: str
    kind: str  # keyword, paraphrase or value; "absent" when the manual never says it
    item: Item | None  # what answers it; None when nothing in the manual does


def ask(rng: random.Random, item: Item, manual: Manual) -> Question:
    kind = rng.choice([k for k in KINDS if item.questions.get(k)])
    return Question(rng.choice(item.questions[kind]), kind, item)


def questions(rng: random.Random, manual: Manual) -> list[Question]:
    absent = round(PER_MANUAL * UNANSWERED)
    told = rng.sample(manual.items, min(PER_MANUAL - absent, len(manual.items)))
    asked = [ask(rng, item, manual) for item in told]
    for item in rng.sample(manual.unsaid, min(absent, len(manual.unsaid))):
        asked.append(Question(ask(rng, item, manual).text, "absent", None))
    rng.shuffle(asked)
    return asked


def answer(question: Question, hits: list[Any]) -> str:
    """The answer the passages allow: the sentences that state the fact, copied from
    the first passage holding them, and its number."""
    if question.item is not None:
        for number, hit in enumerate(hits, 1):
            if question.item.said_in(hit.chunk.text):
                return f"{quote(hit.chunk.text, question.item.evidence)} [{number}]"
    return NOT_SAID


def sentences(text: str) -> list[str]:
    """A passage's lines, each cut into sentences (a list item's dash left off)."""
    found = []
    for line in text.splitlines():
        line = line.strip().removeprefix("- ")
        found += [piece for piece in SENTENCE.split(line) if piece]
    return found


def quote(text: str, evidence: tuple[str, ...]) -> str:
    """The fewest consecutive sentences of ``text`` that hold all of ``evidence``."""
    pieces = sentences(text)
    best: tuple[int, int] | None = None
    for first in range(len(pieces)):
        for last in range(first, len(pieces)):
            window = pages.squash(" ".join(pieces[first : last + 1]))
            if all(pages.squash(part) in window for part in evidence):
                if best is None or last - first < best[1] - best[0]:
                    best = (first, last)
                break
    assert best is not None, "asked only of a passage that holds the evidence"
    return " ".join(pieces[best[0] : best[1] + 1])


def conversations_of(
    manual: Manual, rng: random.Random, folder: Path, embedder: Embedder
) -> list[dict[str, Any]]:
    """Write ``manual`` under ``folder``, index it, and ask it its questions."""
    root = folder / manual.names["tool"]
    for path, text in manual.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    collection = Collection(folder / ".index" / manual.names["tool"], manual.names["tool"])
    collection.build([root], embedder)
    index = collection.load(embedder)
    found = []
    for question in questions(rng, manual):
        hits = index.search(question.text, TOP_K)
        if rng.random() < SHUFFLED:
            rng.shuffle(hits)
        prompt = f"{context.render(hits, root)}\n{question.text}"
        reply = answer(question, hits)
        found.append(
            {
                "messages": [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": reply},
                ],
                "kind": question.kind if reply != NOT_SAID else f"{question.kind}, not said",
            }
        )
    return found


def generate(n: int, seed: int, embedder: Embedder | None = None) -> list[dict[str, Any]]:
    """``n`` conversations (about PER_MANUAL per manual), the same for the same ``seed``."""
    rng = random.Random(seed)
    embedder = embedder or shared_embedder()
    found: list[dict[str, Any]] = []
    used: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="minichat-docs-data-") as name:
        while len(found) < n:
            manual = pages.manual(rng, used)
            found += conversations_of(manual, rng, Path(name), embedder)
    return found[:n]


def summary(conversations: list[dict[str, Any]]) -> str:
    kinds = Counter(c["kind"] for c in conversations)
    said = sum(c["messages"][-1]["content"] != NOT_SAID for c in conversations)
    shown = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    return f"{len(conversations)} conversations, {said} answered from a passage ({shown})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m recipes.docs_data", description=__doc__.splitlines()[0]
    )
    parser.add_argument("out", type=Path, metavar="OUT.jsonl")
    parser.add_argument("--n", type=int, default=700, help="conversations (default 700)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be 1 or more")
    start = time.perf_counter()
    try:
        conversations = generate(args.n, args.seed)
    except MinichatError as error:
        sys.exit(f"error: {error}")
    lines = "".join(
        json.dumps({"messages": c["messages"]}, ensure_ascii=False) + "\n" for c in conversations
    )
    write_atomically(args.out, lines)
    seconds = time.perf_counter() - start
    print(f"{summary(conversations)}; {seconds:.1f} s, to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
