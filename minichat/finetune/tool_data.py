"""Training conversations that teach the default model to call the built-in tools.

SmolLM2-135M-Instruct often calls the wrong tool, or none, on ``bench/tools.py``'s
queries; a LoRA adapter trained on these conversations is meant to fix that. Each
conversation comes from ``tool_templates``: a question, the call the model should
write, what the real built-in tool returns (run here, in a temporary working folder
of made-up files, with a made-up clock), and an answer that quotes that result. About
a third need no tool: the model itself answers those, greedy and with no tools in the
prompt, so the adapter learns when to call without changing the model's voice. A
fifth offer only some of the tools, and a question whose tool is missing is answered
by saying so. Written as JSONL, one conversation a line, in OpenAI's chat format with
a ``tools`` key::

    python -m minichat.finetune.tool_data OUT.jsonl [--n 400] [--seed 0] [--answers-from MODEL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any

from minichat.backend import ChatBackend, Message, ToolCall
from minichat.config import GenerationConfig
from minichat.errors import MinichatError
from minichat.files import write_atomically
from minichat.finetune import tool_templates as T
from minichat.loading.choices import DEFAULT_MODEL
from minichat.loading.registry import load_backend
from minichat.tools import builtin
from minichat.tools.base import ToolError
from minichat.tools.builtin import BUILTIN

Answer = Callable[[list[str]], list[str]]  # questions in, the model's replies out
Conversation = dict[str, Any]
Pending = list[tuple[dict[str, Any], str]]  # replies the model is yet to write, and to what
NAMES = tuple(BUILTIN)
SHARES = {"calculator": 0.28, "now": 0.12, "read_file": 0.16, "list_dir": 0.12, None: 0.32}
SUBSET = 0.2  # of conversations offer only some of the tools
FOLLOW_UP = 0.1  # of conversations with a tool go on to a second question
MISSING = 0.1  # of file and folder questions name one that is not there: the tool's error
HERE = 0.3  # of folder questions are about the working folder itself
REPLY = GenerationConfig(temperature=0, max_new_tokens=96)
FOLDERS = sorted({str(PurePosixPath(p).parent) for p in T.FILES} - {"."} | {*T.EMPTY_FOLDERS})
CLOCK = re.compile(r"(?P<weekday>\w+) (?P<day>\d+) (?P<month>\w+) (?P<year>\d+), "
                   r"(?P<clock>\d\d:\d\d) \((?P<zone>[^)]+)\)")  # fmt: skip
# a sentence ends at . ! or ? (maybe closed by a quote, bracket or bold) before a space
SENTENCE_END = re.compile(r"[.!?][\"')\]*]*(?=\s|$)")


@dataclass(frozen=True)
class Turn:
    """A question and how it is answered: by calling ``tool``, or (None) by the model."""

    query: str
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    answer: Callable[[str], str] = str  # the reply that quotes the tool's result
    cannot: str = ""  # the reply when ``tool`` is not offered
    moment: datetime | None = None  # what the clock says, for ``now``


def dealt(rng: random.Random, cards: list[str]) -> Iterator[str]:
    """``cards`` in shuffled rounds, each once a round: as many different questions for
    the model to answer as there are turns, up to all of them."""
    while True:
        yield from rng.sample(cards, len(cards))


def numbers(rng: random.Random) -> dict[str, Any]:
    """The values a calculation template is filled with."""
    values: dict[str, Any] = {k: rng.randint(*span) for k, span in T.INTEGERS.items()}
    values |= {k: rng.choice(options) for k, options in T.CHOICES.items()}
    values |= {
        k: f"{rng.randint(1, 60)}.{rng.choice(T.CENTS)}" for k in ("price", "price2", "price3")
    }
    values["bill"] = f"{rng.randint(24, 380)}.{rng.choice(['00', '20', '40', '50', '80'])}"
    values["part"] = rng.randint(1, values["y"] - 1)
    values["sq"] = rng.randint(41, 99) ** 2 if rng.random() < 0.7 else rng.randint(2, 300)
    return values


def shown(result: str) -> str:
    """A calculator result as an answer quotes it: a long decimal rounded, and said to be."""
    decimals = result.partition(".")[2]
    if len(decimals) <= 2 or not decimals.isdigit():
        return result
    return "about " + f"{float(result):.2f}".rstrip("0").rstrip(".")


def calculation(rng: random.Random) -> Turn:
    question, expression, reply = rng.choice(T.CALCULATIONS)
    values = numbers(rng)
    arithmetic = expression.format(**values)
    return Turn(
        question.format(**values),
        "calculator",
        {"expression": arithmetic},
        lambda result: reply.format(**values, r=shown(result)),
        T.CANNOT["calculator"].format(expression=arithmetic),
    )


def clock_question(rng: random.Random) -> Turn:
    kind, query = rng.choice([(kind, query) for kind, asked in T.NOW.items() for query in asked])
    reply = rng.choice(T.NOW_ANSWERS[kind])
    zone = timezone(timedelta(hours=rng.choice(T.ZONES)))
    start = datetime(rng.randint(2024, 2028), 1, 1, tzinfo=zone)
    moment = start + timedelta(days=rng.randrange(365), minutes=rng.randrange(24 * 60))

    def answer(result: str) -> str:
        parts = CLOCK.fullmatch(result)
        if parts is None:
            raise ValueError(f"the clock's wording changed: {result!r}")
        return reply.format(**parts.groupdict())

    return Turn(query, "now", {}, answer, T.CANNOT["now"], moment)


def file_question(rng: random.Random) -> Turn:
    path = rng.choice(T.MISSING_FILES if rng.random() < MISSING else list(T.FILES))
    reply = rng.choice(T.READ_ANSWERS)

    def answer(result: str) -> str:
        if result.startswith("error:"):
            return f"There is no file called {path} in the working folder."
        lines = result.splitlines()
        first = next(line for line in lines if line.strip())
        count = f"{len(lines)} line{'s' * (len(lines) != 1)}"
        heading = re.sub(r"^#+\s+", "", first)  # a Markdown title, not its markup
        return reply.format(path=path, first=heading, lines=count, text=result.rstrip("\n"))

    cannot = T.CANNOT["read_file"].format(path=path)
    return Turn(rng.choice(T.READS).format(path), "read_file", {"path": path}, answer, cannot)


def folder_question(rng: random.Random) -> Turn:
    roll = rng.random()
    if roll < HERE:
        path, query, where = ".", rng.choice(T.HERE), "the working folder"
    else:
        path = rng.choice(T.MISSING_FOLDERS if roll > 1 - MISSING else FOLDERS)
        query, where = rng.choice(T.LISTS).format(path), f"the {path} folder"
    reply = rng.choice(T.LIST_ANSWERS)

    def answer(result: str) -> str:
        if result.startswith("error:"):
            return f"There is no folder called {path} in the working folder."
        if result == "(the folder is empty)":
            return capital(f"{where} is empty.")
        entries = result.splitlines()
        count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
        return capital(reply.format(where=where, items=listed(entries), count=count))

    cannot = T.CANNOT["list_dir"].format(where=where)
    return Turn(query, "list_dir", {"path": path}, answer, cannot)


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def chat_queries() -> list[str]:
    """Every question in the tables that needs no tool."""
    out = list(T.CHAT)
    for template, fills in T.CHAT_TEMPLATES:
        out += [template.format(*f) if isinstance(f, tuple) else template.format(f) for f in fills]
    return out


MAKERS = {
    "calculator": calculation,
    "now": clock_question,
    "read_file": file_question,
    "list_dir": folder_question,
}


def run(turn: Turn) -> str:
    """What the real tool returns; its error as the chat reports it (``chat.tooling``)."""
    assert turn.tool is not None
    if turn.tool == "now" and turn.moment is not None:  # the tool's words for a made-up moment
        return builtin.describe_time(turn.moment)
    try:
        return BUILTIN[turn.tool].run(dict(turn.arguments))
    except ToolError as error:
        return f"error: {error}"


def exchange(turn: Turn, offered: list[str], call_id: str, pending: Pending) -> list[Any]:
    """The messages of one turn; a reply the model will write is added to ``pending``."""
    asked = Message("user", turn.query).to_dict()
    if turn.tool is None:
        reply = Message("assistant", "").to_dict()
        pending.append((reply, turn.query))
        return [asked, reply]
    if turn.tool not in offered:
        return [asked, Message("assistant", turn.cannot).to_dict()]
    call = ToolCall(call_id, turn.tool, json.dumps(turn.arguments))
    result = run(turn)
    return [
        asked,
        Message("assistant", "", tool_calls=(call,)).to_dict(),
        Message("tool", result, tool_call_id=call_id).to_dict(),
        Message("assistant", turn.answer(result)).to_dict(),
    ]


def offer(rng: random.Random) -> list[str]:
    """The tools a conversation offers: all of them, or (``SUBSET``) only some."""
    if rng.random() >= SUBSET:
        return list(NAMES)
    chosen = set(rng.sample(NAMES, rng.randint(1, len(NAMES) - 1)))
    return [name for name in NAMES if name in chosen]


def conversation(
    kind: str | None, rng: random.Random, deck: Iterator[str], pending: Pending
) -> Conversation:
    offered = offer(rng)
    turns = [MAKERS[kind](rng) if kind else Turn(next(deck))]
    if kind is not None and rng.random() < FOLLOW_UP:
        then = rng.choice([other for other in SHARES if other != kind])
        turns.append(MAKERS[then](rng) if then else Turn(next(deck)))
    messages: list[dict[str, Any]] = []
    for number, turn in enumerate(turns, 1):
        messages += exchange(turn, offered, f"call_{number}", pending)
    return {"tools": [BUILTIN[name].tool.to_dict() for name in offered], "messages": messages}


def kinds(n: int, rng: random.Random) -> list[str | None]:
    """What each of ``n`` conversations first asks for, in ``SHARES``' proportions."""
    counts = {kind: round(share * n) for kind, share in SHARES.items()}
    counts["calculator"] += n - sum(counts.values())  # the commonest takes the rounding
    order = [kind for kind, count in counts.items() for _ in range(count)]
    rng.shuffle(order)
    return order


@contextmanager
def working_folder() -> Iterator[Path]:
    """A temporary folder of ``FILES``, current while inside; the old one after."""
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="minichat-tool-data-") as name:
        root = Path(name)
        for folder in T.EMPTY_FOLDERS:
            (root / folder).mkdir()
        for path, text in T.FILES.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(home)


def generate(n: int, seed: int, answer: Answer) -> list[Conversation]:
    """``n`` conversations, the same for the same ``seed``; ``answer`` writes the replies
    to the questions that need no tool (all of them in one call)."""
    rng = random.Random(seed)
    deck = dealt(rng, chat_queries())
    pending: Pending = []
    with working_folder():
        conversations = [conversation(kind, rng, deck, pending) for kind in kinds(n, rng)]
    asked = list(dict.fromkeys(query for _, query in pending))
    replies = dict(zip(asked, answer(asked), strict=True))
    for message, query in pending:
        message["content"] = replies[query]
    return conversations


def whole_sentences(text: str) -> str:
    """``text`` up to the end of its last full sentence (all of it if it has none)."""
    ends = [found.end() for found in SENTENCE_END.finditer(text)]
    if not ends:
        return text.strip()
    return re.sub(r"\n\s*\d+\.$", "", text[: ends[-1]]).rstrip()  # "2." opens an item


def default_model() -> ChatBackend:
    return load_backend(DEFAULT_MODEL)


def answer_directly(
    queries: list[str], load: Callable[[], ChatBackend] = default_model
) -> list[str]:
    """The model's own greedy replies, without tools; one that ran out of tokens is cut
    at its last full sentence."""
    if not queries:
        return []  # no model to load
    backend = load()
    try:
        replies = []
        for query in queries:
            stream = backend.stream([Message("user", query)], REPLY)
            text = "".join(stream).strip()
            replies.append(whole_sentences(text) if stream.finish_reason == "length" else text)
        return replies
    finally:
        backend.close()


def summary(conversations: list[Conversation]) -> str:
    """How many calls each tool got, and how many replies called none."""
    counts: Counter[str] = Counter()
    for messages in (c["messages"] for c in conversations):
        for before, message in pairwise(messages):
            calls = message.get("tool_calls", [])
            counts.update(call["function"]["name"] for call in calls)
            answered = (before["role"], message["role"]) == ("user", "assistant")
            counts["no tool"] += answered and not calls
    follow = sum(sum(m["role"] == "user" for m in c["messages"]) > 1 for c in conversations)
    tally = ", ".join(f"{name} {counts[name]}" for name in [*NAMES, "no tool"])
    return f"{len(conversations)} conversations, {follow} with a follow-up; replies: {tally}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m minichat.finetune.tool_data", description=__doc__.splitlines()[0]
    )
    parser.add_argument("out", type=Path, metavar="OUT.jsonl")
    parser.add_argument("--n", type=int, default=400, help="conversations (default 400)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--answers-from", default=DEFAULT_MODEL, metavar="MODEL",
        help=f"the model that answers the questions needing no tool (default {DEFAULT_MODEL})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be 1 or more")
    start = time.perf_counter()
    answer = partial(answer_directly, load=partial(load_backend, args.answers_from))
    try:
        conversations = generate(args.n, args.seed, answer)
    except MinichatError as error:
        sys.exit(f"error: {error}")
    lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations)
    write_atomically(args.out, lines)
    seconds = time.perf_counter() - start
    print(f"{summary(conversations)}; {seconds:.1f} s, to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
