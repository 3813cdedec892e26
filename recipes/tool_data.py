"""Training conversations that teach the default model to call the built-in tools.

SmolLM2-135M-Instruct often calls the wrong tool, or none, on ``bench/tools.py``'s
queries; a LoRA adapter trained on these conversations is meant to fix that. Each
conversation comes from ``tool_templates``: a question, the call the model should
write, what the real built-in tool returns (run here, in a temporary working folder
of made-up files, with a made-up clock), and an answer that quotes that result. Most
files and folders asked about are made afresh for their question, named from
``tool_words`` (a new name nearly every time, so the adapter learns to copy the
user's path, not a list of names), and removed once the tool has run. Numbers range
from one digit to five, with decimals now and then, for the same reason. About a
third need no tool: the model itself answers those, greedy and with no tools in the
prompt, so the adapter learns when to call without changing the model's voice. A
fifth offer only some of the tools; in about one conversation in twenty the tool a
question needs is not among them, and the answer says so. Written as JSONL, one
conversation a line, in OpenAI's chat format with a ``tools`` key::

    python -m recipes.tool_data OUT.jsonl [--n 400] [--seed 0] [--answers-from MODEL]
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

from minichat.backend import ChatBackend, Message
from minichat.catalog import load_backend
from minichat.config import GenerationConfig
from minichat.errors import MinichatError
from minichat.loading.choices import DEFAULT_MODEL
from minichat.safety.files import write_atomically
from minichat.tools import builtin
from minichat.tools.base import ToolError
from minichat.tools.builtin import BUILTIN
from minichat.tools.spec import ToolCall
from recipes import tool_templates as T
from recipes import tool_words as W

Answer = Callable[[list[str]], list[str]]  # questions in, the model's replies out
Conversation = dict[str, Any]
Made = tuple[tuple[str, str | None], ...]  # files (path, text) and folders (path, None)
EMPTY: Made = ()
Pending = list[tuple[dict[str, Any], str]]  # replies the model is yet to write, and to what
NAMES = tuple(BUILTIN)
SHARES = {"calculator": 0.26, "now": 0.12, "read_file": 0.19, "list_dir": 0.13, None: 0.30}
SUBSET = 0.2  # of conversations offer only some of the tools ...
LEFT_OUT = 1 / 3  # ... and of those, this many leave out the tool the question needs
FOLLOW_UP = 0.1  # of conversations with a tool go on to a second question
MISSING = 0.1  # of file and folder questions name one that is not there: the tool's error
FRESH = 0.8  # of the other files and folders asked about are made afresh for the question
HERE = 0.2  # of folder questions are about the working folder itself
HERE_FRESH = 0.5  # of those find some files made afresh in it
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
    makes: Made = ()  # made in the working folder for the call, and removed after it
    missing: bool = False  # the file or folder asked about is not there


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
    values |= {k: wide(rng) for k in ("a", "b", "c", "d", "n")}
    values["lo"], values["hi"] = sorted((wide(rng), wide(rng)), key=float)
    while values["lo"] == values["hi"]:
        values["hi"] = wide(rng)
        values["lo"], values["hi"] = sorted((values["lo"], values["hi"]), key=float)
    values["pc"] = rng.choice([*range(1, 101), 12.5, 2.5, 7.5, 0.5, 150, 200])
    values["k"] = rng.randint(2, 12)  # people sharing
    values["s"], values["t"] = rng.randint(2, 9999), rng.randint(2, 999)
    values["root"] = rng.randint(2, 999) ** 2 if rng.random() < 0.7 else wide(rng)
    values["p"], values["pk"] = rng.randint(2, 40), rng.randint(2, 9)
    return values


def wide(rng: random.Random) -> str:
    """A number of one to five digits, now and then with decimals."""
    digits = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))
    whole = rng.randint(10 ** (digits - 1), 10**digits - 1)
    return f"{whole}.{rng.choice(T.DECIMALS)}" if rng.random() < 0.15 else str(whole)


def shown(result: str) -> str:
    """A calculator result as an answer quotes it: a long decimal rounded, and said to be
    (the calculator marks a rounded result with "≈ ")."""
    number = result.removeprefix("≈ ")
    decimals = number.partition(".")[2]
    if len(decimals) <= 2 or not decimals.isdigit():
        return number if number == result else f"about {number}"
    return "about " + f"{float(number):.2f}".rstrip("0").rstrip(".")


def calculation(rng: random.Random) -> Turn:
    values = numbers(rng)
    if rng.random() < T.WRITTEN:  # the arithmetic written out, copied as it is
        values["e"] = rng.choice(T.EXPRESSIONS).format(**values)
        question, expression, reply = rng.choice(T.ASKED), "{e}", "{e} = {r}."
    else:
        question, expression, reply = rng.choice(T.CALCULATIONS)
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
        hour = int(parts["clock"][:2])
        part = next(name for start, name in T.PARTS if hour >= start)
        week = T.WEEK.get(parts["weekday"], "a weekday")
        return reply.format(**parts.groupdict(), part=part, week=week)

    return Turn(query, "now", {}, answer, T.CANNOT["now"], moment)


def file_question(rng: random.Random) -> Turn:
    roll, makes = rng.random(), EMPTY
    if roll < MISSING:  # a name that is not there (one made afresh, half the time)
        path = rng.choice(T.MISSING_FILES) if rng.random() < 0.5 else free(rng, file_path)
    elif roll < MISSING + FRESH * (1 - MISSING):
        path = free(rng, file_path)
        makes = ((path, contents(rng, path)),)
    else:
        path = rng.choice(list(T.FILES))
    reply = rng.choice(T.READ_ANSWERS)

    def answer(result: str) -> str:
        if result.startswith("error:"):
            return f"There is no file called {path} in the working folder."
        lines = result.splitlines()
        first = next(line for line in lines if line.strip())
        count = f"{len(lines)} line{'s' * (len(lines) != 1)}"
        heading = re.sub(r"^#+\s+", "", first)  # a Markdown title, not its markup
        return reply.format(path=path, first=heading, lines=count, text=result.rstrip("\n"))

    query, cannot = rng.choice(T.READS).format(path), T.CANNOT["read_file"].format(path=path)
    missing = roll < MISSING
    return Turn(query, "read_file", {"path": path}, answer, cannot, makes=makes, missing=missing)


def folder_question(rng: random.Random) -> Turn:
    makes, missing = EMPTY, False
    if rng.random() < HERE:
        path, query, where = ".", rng.choice(T.HERE), "the working folder"
        if rng.random() < HERE_FRESH:
            makes = entries(rng, ".")
    else:
        roll = rng.random()
        if roll < MISSING:  # as for files
            missing = True
            path = rng.choice(T.MISSING_FOLDERS) if rng.random() < 0.5 else free(rng, folder_path)
        elif roll < MISSING + FRESH * (1 - MISSING):
            path = free(rng, folder_path)
            makes = ((path, None), *entries(rng, path))
        else:
            path = rng.choice(FOLDERS)
        query, where = rng.choice(T.LISTS).format(path), f"the {path} folder"
    reply = rng.choice(T.LIST_ANSWERS)

    def answer(result: str) -> str:
        if result.startswith("error:"):
            return f"There is no folder called {path} in the working folder."
        if result == "(the folder is empty)":
            return capital(f"{where} is empty.")
        listing = result.splitlines()
        count = f"{len(listing)} entr{'y' if len(listing) == 1 else 'ies'}"
        return capital(reply.format(where=where, items=listed(listing), count=count))

    cannot = T.CANNOT["list_dir"].format(where=where)
    return Turn(query, "list_dir", {"path": path}, answer, cannot, makes=makes, missing=missing)


def word_name(rng: random.Random, words: list[str]) -> str:
    """One of ``words``, or two joined by _ or -; now and then numbered, capitalised or
    in capitals."""
    name = rng.choice(words)
    if rng.random() < 0.35:
        name += rng.choice("_-") + rng.choice(words + W.STEMS)
    if rng.random() < 0.25:
        year, number = rng.randint(2019, 2027), rng.randint(1, 12)
        name += rng.choice([f"_{year}", f"-{year}", f"_v{number}", f"-v{number}", str(number)])
    style = rng.random()
    if style < 0.08:
        return name.upper()
    if style < 0.16:  # Garden_plan, or GardenPlan
        return re.sub(r"(?:^|[_-])([a-z])", lambda m: m[1].upper(), name)
    if style < 0.22:
        return name.capitalize()
    return name


def file_name(rng: random.Random) -> str:
    if rng.random() < 0.06:  # LICENSE, CHANGES.md
        return rng.choice(W.CAPITALS) + rng.choice(["", "", ".md", ".txt"])
    return word_name(rng, W.STEMS) + rng.choice(T.EXTENSIONS)


def file_path(rng: random.Random) -> str:
    """A file's name, in no folder, one or (now and then) two."""
    levels = rng.choices((0, 1, 2), (0.55, 0.35, 0.1))[0]
    folders = [rng.choice(FOLDERS) if rng.random() < 0.2 else word_name(rng, W.FOLDERS)]
    folders += [word_name(rng, W.FOLDERS) for _ in range(levels - 1)]
    return str(PurePosixPath(*folders[:levels], file_name(rng)))


def folder_path(rng: random.Random) -> str:
    """A folder's name, now and then inside another folder."""
    name = word_name(rng, W.FOLDERS)
    if rng.random() < 0.25:
        parent = rng.choice(FOLDERS) if rng.random() < 0.3 else word_name(rng, W.FOLDERS)
        return f"{parent}/{name}"
    return name


def free(rng: random.Random, make: Callable[[random.Random], str], inside: str = ".") -> str:
    """A path ``make`` writes that nothing in the working folder (nor a missing name) has:
    not there itself, and not under a file."""
    while True:
        path = str(PurePosixPath(inside, make(rng)))
        taken = Path(path).exists() or any(p.is_file() for p in Path(path).parents)
        if not taken and path not in T.MISSING_FILES + T.MISSING_FOLDERS:
            return path


def entries(rng: random.Random, folder: str) -> Made:
    """One to five new files and folders in ``folder``, with their contents."""
    made: dict[str, str | None] = {}
    for _ in range(rng.randint(1, 5)):
        if rng.random() < 0.25:
            made[free(rng, partial(word_name, words=W.FOLDERS), folder)] = None
        else:
            path = free(rng, file_name, folder)
            made[path] = contents(rng, path)
    return tuple(made.items())


def contents(rng: random.Random, path: str) -> str:
    """A short text of the kind ``path``'s extension says, filled with made-up words."""
    name = PurePosixPath(path).name
    stem, dot, extension = name.partition(".")
    kind = "LICENSE" if stem == "LICENSE" else (dot + extension if dot else "")
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", stem) if len(w) > 1]
    word, word2, word3 = (rng.choice(W.STEMS) for _ in range(3))
    return rng.choice(T.CONTENTS.get(kind, T.CONTENTS[".txt"])).format(
        word=word, word2=word2, word3=word3, Word2=word2.capitalize(), WORD=word.upper(),
        Title=" ".join(words or [word]).capitalize(), name=rng.choice(W.NAMES),
        adjective=rng.choice(W.ADJECTIVES), weekday=rng.choice(builtin.WEEKDAYS),
        month=rng.choice(builtin.MONTHS), hour=rng.randint(8, 18), year=rng.randint(2019, 2027),
        mm=f"{rng.randint(1, 12):02d}", dd=f"{rng.randint(1, 28):02d}",
        min=f"{rng.randint(0, 59):02d}", n=rng.randint(1, 500), n2=rng.randint(1, 99),
    )  # fmt: skip


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
    """What the real tool returns; its error as the chat reports it (``tools.toolbox``)."""
    assert turn.tool is not None
    if turn.tool == "now" and turn.moment is not None:  # the tool's words for a made-up moment
        return builtin.describe_time(turn.moment)
    with made(turn.makes):
        try:
            return BUILTIN[turn.tool].run(dict(turn.arguments))
        except ToolError as error:
            return f"error: {error}"


@contextmanager
def made(things: Made) -> Iterator[None]:
    """``things`` made in the current folder while inside, each folder on the way too;
    all of it removed after, so each question finds only what it made."""
    created: list[Path] = []
    try:
        for name, text in things:
            path = Path(name)
            for folder in [*reversed(path.parents), *([path] if text is None else [])]:
                if not folder.exists():
                    folder.mkdir()
                    created.append(folder)
            if text is not None:
                path.write_text(text, encoding="utf-8")
                created.append(path)
        yield
    finally:
        for path in reversed(created):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()


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


def offer(rng: random.Random, needed: str | None) -> list[str]:
    """The tools a conversation offers: all of them, or (``SUBSET``) only some, which
    leave out the ``needed`` one ``LEFT_OUT`` of the time."""
    if rng.random() >= SUBSET:
        return list(NAMES)
    if needed is None:
        chosen = set(rng.sample(NAMES, rng.randint(1, len(NAMES) - 1)))
    else:
        others = [name for name in NAMES if name != needed]
        if rng.random() < LEFT_OUT:
            chosen = set(rng.sample(others, rng.randint(1, len(others))))
        else:
            chosen = {needed, *rng.sample(others, rng.randint(0, len(others) - 1))}
    return [name for name in NAMES if name in chosen]


def conversation(
    kind: str | None, rng: random.Random, deck: Iterator[str], pending: Pending
) -> Conversation:
    offered = offer(rng, kind)
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
        prog="python -m recipes.tool_data", description=__doc__.splitlines()[0]
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
