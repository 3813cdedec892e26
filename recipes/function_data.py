"""Training conversations that teach the default model to call any function a user brings.

``tool_data`` teaches the five built-in tools; this teaches the skill under them, on
functions made up here: read the offered signatures, pick the one the question
needs (or none), and copy the question's values into the right arguments. Each
conversation offers functions from ``function_families`` under names written at
random in snake_case, camelCase or a dotted namespace, with parameter names and
descriptions drawn from their variants, and asks in one of four ways:

- one function offered, one call needed;
- several offered, look-alikes of the same family among them, one call needed;
- two or three calls needed in one reply (the same function for two values, or
  two questions at once), all written before any result comes back;
- no offered function fits: a request only another function could do (the reply
  says none of the tools does that), or a question for the model itself (its own
  answer, taken from ``tool_data``'s conversations, so its voice is kept).

About a third go on from earlier turns: prose exchanges or another function's
call, so the right call still comes later in a chat. Values are stated as a
person would ("three nights", "14 March 2027" for a YYYY-MM-DD parameter,
"7:30 pm" for HH:MM), and every answer after a result states the result's values
exactly as the function returned them. Mixed with ``tool_data``'s conversations
(``--builtin FILE``) so the built-ins' figures hold::

    python -m recipes.function_data OUT.jsonl [--n 1000] [--seed 0] [--builtin tools800.jsonl]
        [--builtin-n 400]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minichat.backend import Message
from minichat.safety.files import write_atomically
from minichat.tools.spec import Tool, ToolCall
from recipes.function_families import FAMILIES, Fn, P
from recipes.function_words import SLOTS, said

Conversation = dict[str, Any]
# a third need several calls at once: with a fifth, the model still stopped after the first
SHARES = {"one": 0.2, "several": 0.25, "parallel": 0.33, "unfit": 0.1, "chat": 0.12}
EARLIER = 0.33  # of conversations start with one to three earlier exchanges
FOLLOW_UP = 0.1  # of those with calls go on to a second question that calls again
OPTIONAL = 0.35  # of questions also set an optional parameter
FAILS = 0.05  # of calls come back with an error
INTEGERS = {
    "year",
    "hour",
    "tiny_int",
    "small_int",
    "medium_int",
    "party",
    "bpm",
    "pot_cm",
    "body_kg",
    "price_value",
    "percent",
    "temperature",
    "minutes",
    "pixels",
    "port",
    "volume_ml",
}
NUMBERS = {
    "boat_m",
    "pet_kg",
    "parcel_kg",
    "molarity",
    "decimal",
    "small_number",
    "price",
    "small_price",
    "ph",
    "signed",
    "consumption",
    "fuel_price",
}
JOINS = (
    "{0} Also, {1}",
    "{0} And {1}",
    "{0} Then {1}",
    "{0} Plus, {1}",
    "{0} {1}",
)  # the last: as asked
LEADS = ("", "", "Here's what I found: ", "Done. ", "Here you go: ", "OK: ")
ALL = [(family, fn) for family, fns in FAMILIES.items() for fn in fns]


@dataclass(frozen=True)
class Offered:
    """One function as a conversation offers it: its name and its parameters' names."""

    fn: Fn
    family: str
    name: str
    names: dict[str, str]  # parameter key -> the name this signature gives it
    tool: dict[str, Any]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def schema_type(param: P) -> dict[str, Any]:
    if param.enum:
        return {"type": "string", "enum": list(param.enum)}
    if param.slot == "bool":
        return {"type": "boolean"}
    if param.slot in INTEGERS:
        return {"type": "integer"}
    if param.slot in NUMBERS:
        return {"type": "number"}
    if param.slot == "numbers":
        return {"type": "array", "items": {"type": "number"}}
    if param.slot in ("options", "rhymes"):
        return {"type": "array", "items": {"type": "string"}}
    return {"type": "string"}


def offered(family: str, fn: Fn, rng: random.Random) -> Offered:
    """``fn`` under one of its names, with parameter names and descriptions drawn."""
    name = rng.choice(fn.names)
    camelled = "_" not in name and any(c.isupper() for c in name) and rng.random() < 0.8
    names = {
        p.key: (camel if camelled else str)(rng.choice(p.keys)) for p in fn.params + fn.optional
    }
    properties: dict[str, Any] = {}
    for param in fn.params + fn.optional:
        prop = schema_type(param)
        if rng.random() < 0.85:
            prop["description"] = param.description
        if param in fn.optional:
            prop["default"] = param.default if param.slot != "bool" else False
        properties[names[param.key]] = prop
    required = [names[p.key] for p in fn.params]
    parameters: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if rng.random() < 0.3:
        parameters["additionalProperties"] = False
    description = rng.choice(fn.descriptions)
    return Offered(fn, family, name, names, Tool(name, description, parameters).to_dict())


def value(param: P, rng: random.Random) -> tuple[Any, str]:
    if param.enum:
        chosen = rng.choice(param.enum)
        return chosen, chosen
    if param.slot == "bool":
        return True, ""
    raw, words = SLOTS[param.slot](rng)
    if param.slot in INTEGERS:
        return int(raw), words
    return raw, words


def with_mention(question: str, mention: str) -> str:
    """``mention`` put before the question's closing mark."""
    body = question.rstrip()
    end = body[-1] if body[-1] in ".?!" else ""
    return f"{body[: len(body) - len(end)]}{mention}{end or '.'}"


def ask(
    chosen: Offered, rng: random.Random, fixed: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """A question for one call to ``chosen``, and the call's arguments."""
    fills: dict[str, str] = {}
    arguments: dict[str, Any] = {}
    for param in chosen.fn.params:
        taken, words = fixed[param.key] if fixed and param.key in fixed else value(param, rng)
        fills[param.key] = words
        arguments[chosen.names[param.key]] = taken
    question = rng.choice(chosen.fn.asks).format(**fills)
    for param in chosen.fn.optional:
        if rng.random() < OPTIONAL:
            taken, words = value(param, rng)
            question = with_mention(question, param.mention.format(**{param.key: words}))
            arguments[chosen.names[param.key]] = taken
    return question, arguments


def pair(chosen: Offered, rng: random.Random) -> tuple[str, list[dict[str, Any]]]:
    """A question for two calls to ``chosen`` that differ in its first parameter."""
    first = chosen.fn.params[0]
    values = [value(first, rng) for _ in range(2)]
    while values[1][0] == values[0][0]:
        values[1] = value(first, rng)
    shared = {p.key: value(p, rng) for p in chosen.fn.params[1:]}
    fills = {p: words for p, (_, words) in shared.items()}
    fills[first.key], fills[first.key + "2"] = values[0][1], values[1][1]
    question = rng.choice(chosen.fn.pairs).format(**fills)
    calls = []
    for taken, _ in values:
        arguments = {chosen.names[first.key]: taken}
        arguments |= {chosen.names[k]: v for k, (v, _) in shared.items()}
        calls.append(arguments)
    return question, calls


def lowered(question: str) -> str:
    return question[:1].lower() + question[1:] if not question[:2].isupper() else question


def result(chosen: Offered, rng: random.Random) -> dict[str, Any]:
    if rng.random() < FAILS:
        return {"error": rng.choice(("not found", "service unavailable, try later", "no match"))}
    return {field: SLOTS[slot](rng)[0] for field, slot in chosen.fn.returns}


def facts(returned: dict[str, Any]) -> str:
    """The result's values in words, each exactly as returned."""
    if "error" in returned:
        return f"that didn't work: {returned['error']}"
    parts = []
    for field, got in returned.items():
        shown = said([str(v) for v in got]) if isinstance(got, list) else str(got)
        parts.append(f"{field.replace('_', ' ')} is {shown}")
    return said(parts)


def answer(results: list[tuple[dict[str, Any], dict[str, Any]]], rng: random.Random) -> str:
    """The reply after the results: each call's facts, for its first argument when several."""
    if len(results) == 1:
        text = facts(results[0][1])
        return rng.choice(LEADS) + text[:1].upper() + text[1:] + "."
    lines = []
    for arguments, returned in results:
        first = next(iter(arguments.values()), "")
        about = said([str(v) for v in first]) if isinstance(first, list) else first
        lines.append(f"For {about}: {facts(returned)}.")
    return "\n".join(lines)


class Builder:
    """Conversations of one kind at a time, sharing the random source and the chat deck."""

    def __init__(self, rng: random.Random, chats: list[tuple[str, str]]):
        self.rng = rng
        self.chats = chats  # (question, the model's own answer), from tool_data
        self.deck = self._dealt()
        self.calls = 0

    def _dealt(self) -> Iterator[tuple[str, str]]:
        while True:
            yield from self.rng.sample(self.chats, len(self.chats))

    def call_id(self) -> str:
        self.calls += 1
        return f"call_{self.calls}"

    def exchange(
        self, question: str, calls: list[tuple[Offered, dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        made = [
            ToolCall(self.call_id(), o.name, json.dumps(a, ensure_ascii=False)) for o, a in calls
        ]
        messages = [
            Message("user", question).to_dict(),
            Message("assistant", "", tool_calls=tuple(made)).to_dict(),
        ]
        results = []
        for call, (chosen, arguments) in zip(made, calls, strict=True):
            returned = result(chosen, self.rng)
            results.append((arguments, returned))
            text = json.dumps(returned, ensure_ascii=False)
            messages.append(Message("tool", text, tool_call_id=call.id).to_dict())
        messages.append(Message("assistant", answer(results, self.rng)).to_dict())
        return messages

    def functions(
        self,
        needed: tuple[str, Fn] | None,
        look_alikes: int,
        others: int,
        leave_out: Fn | None = None,
    ) -> list[Offered]:
        """``needed`` (if any), some of its family's other functions and some of others'
        (never ``leave_out``)."""
        rng = self.rng
        chosen: list[tuple[str, Fn]] = [needed] if needed else []
        if needed:
            family = [(needed[0], fn) for fn in FAMILIES[needed[0]] if fn is not needed[1]]
            chosen += rng.sample(family, min(look_alikes, len(family)))
        pool = [
            item
            for item in ALL
            if item not in chosen
            and (not needed or item[0] != needed[0])
            and item[1] is not leave_out
        ]
        chosen += rng.sample(pool, others)
        rng.shuffle(chosen)
        return [offered(family, fn, rng) for family, fn in chosen]

    def conversation(self, kind: str) -> Conversation:
        rng = self.rng
        needed = rng.choice(ALL)
        messages: list[dict[str, Any]] = []
        if kind == "one":
            tools = self.functions(needed, 0, 0)
        elif kind in ("several", "parallel"):
            tools = self.functions(needed, rng.randint(0, 2), rng.randint(1, 3))
        elif kind == "unfit":
            tools = [t for t in self.functions(None, 0, rng.randint(1, 4)) if t.fn is not needed[1]]
            tools = tools or self.functions(None, 0, 1, leave_out=needed[1])
            if rng.random() < 0.4:  # a look-alike of the same family, which does not fit either
                there = {t.fn.names for t in tools}
                sibling = [
                    fn
                    for fn in FAMILIES[needed[0]]
                    if fn is not needed[1] and fn.names not in there
                ]
                if sibling:
                    tools.insert(
                        rng.randrange(len(tools) + 1), offered(needed[0], rng.choice(sibling), rng)
                    )
        else:
            tools = self.functions(None, 0, rng.randint(1, 4))
        target = next((t for t in tools if t.fn is needed[1]), None)
        if rng.random() < EARLIER:
            messages += self.earlier(tools, target)
        messages += self.turn(kind, tools, target, needed)
        if kind in ("one", "several") and rng.random() < FOLLOW_UP and target is not None:
            question, arguments = ask(target, rng)
            messages += self.exchange(question, [(target, arguments)])
        return {"tools": [t.tool for t in tools], "messages": messages}

    def earlier(self, tools: list[Offered], target: Offered | None) -> list[dict[str, Any]]:
        """One to three turns before the question: prose, or a call to another function."""
        messages: list[dict[str, Any]] = []
        for _ in range(self.rng.randint(1, 3)):
            others = [t for t in tools if t is not target]
            if others and self.rng.random() < 0.3:
                chosen = self.rng.choice(others)
                question, arguments = ask(chosen, self.rng)
                messages += self.exchange(question, [(chosen, arguments)])
            else:
                question, reply = next(self.deck)
                messages += [
                    Message("user", question).to_dict(),
                    Message("assistant", reply).to_dict(),
                ]
        return messages

    def turn(
        self, kind: str, tools: list[Offered], target: Offered | None, needed: tuple[str, Fn]
    ) -> list[dict[str, Any]]:
        rng = self.rng
        if kind == "chat":
            question, reply = next(self.deck)
            return [Message("user", question).to_dict(), Message("assistant", reply).to_dict()]
        if kind == "unfit":
            fake = offered(needed[0], needed[1], rng)
            question, _ = ask(fake, rng)
            names = said([t.name for t in tools])
            verb = "is" if len(tools) == 1 else "are"
            reply = rng.choice(  # several wordings, each naming the tools: none is learnt by rote
                (
                    f"None of the tools I have ({names}) can do that, so I can't help with it.",
                    f"Sorry, there's no tool for that here: I only have {names}.",
                    f"I can't do that with {names}; {'it' if verb == 'is' else 'they'} {verb} "
                    "for other things.",
                    f"That isn't something {names} can do, and I have no other tools.",
                    f"I don't have a tool for that request. The tools offered are {names}.",
                )
            )
            return [Message("user", question).to_dict(), Message("assistant", reply).to_dict()]
        assert target is not None
        if kind in ("one", "several"):
            question, arguments = ask(target, rng)
            return self.exchange(question, [(target, arguments)])
        if target.fn.pairs and rng.random() < 0.5:
            question, both = pair(target, rng)
            return self.exchange(question, [(target, a) for a in both])
        count = 3 if rng.random() < 0.3 else 2
        parts, calls = [], []
        for number in range(count):
            chosen = target if number == 0 or rng.random() < 0.4 else rng.choice(tools)
            question, arguments = ask(chosen, rng)
            parts.append(question)
            calls.append((chosen, arguments))
        joined = parts[0]
        for part in parts[1:]:
            join = rng.choice(JOINS)
            joined = join.format(joined, part if join.endswith("} {1}") else lowered(part))
        return self.exchange(joined, calls)


def kinds(n: int, rng: random.Random) -> list[str]:
    counts = {kind: round(share * n) for kind, share in SHARES.items()}
    counts["several"] += n - sum(counts.values())
    order = [kind for kind, count in counts.items() for _ in range(count)]
    rng.shuffle(order)
    return order


def chats_from(builtin: list[Conversation]) -> list[tuple[str, str]]:
    """The questions ``tool_data``'s conversations answer in the model's own words."""
    found = {}
    for conversation in builtin:
        messages = conversation["messages"]
        for asked, reply in itertools.pairwise(messages):
            if (
                asked["role"] == "user"
                and reply["role"] == "assistant"
                and not reply.get("tool_calls")
            ):
                text = reply["content"]
                if text and not re.search(r"\btool|can't|cannot", text, re.I) and "<" not in text:
                    found[asked["content"]] = text
    return sorted(found.items())


def generate(n: int, seed: int, builtin: list[Conversation]) -> list[Conversation]:
    rng = random.Random(seed)
    chats = chats_from(builtin)
    if not chats:  # the "chat" group and earlier turns draw the model's own answers
        raise ValueError("the built-ins' conversations hold no plain answers to draw from")
    builder = Builder(rng, chats)
    made = [builder.conversation(kind) for kind in kinds(n, rng)]
    mixed = made + builtin
    rng.shuffle(mixed)
    return mixed


def summary(conversations: list[Conversation]) -> str:
    counts: Counter[str] = Counter()
    for conversation in conversations:
        for message in conversation["messages"]:
            calls = message.get("tool_calls") or []
            if len(calls) > 1:
                counts["replies with several calls"] += 1
            counts["calls"] += len(calls)
    return f"{len(conversations)} conversations; " + ", ".join(
        f"{k} {v}" for k, v in counts.items()
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m recipes.function_data", description=__doc__.splitlines()[0]
    )
    parser.add_argument("out", type=Path, metavar="OUT.jsonl")
    parser.add_argument(
        "--n", type=int, default=1000, help="conversations with functions (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--builtin", type=Path, metavar="FILE", help="tool_data's conversations, mixed in"
    )
    parser.add_argument(
        "--builtin-n", type=int, metavar="N", help="mix in only N of them, drawn with --seed"
    )
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be 1 or more")
    if args.builtin_n is not None and (args.builtin is None or args.builtin_n < 1):
        parser.error("--builtin-n needs --builtin FILE and must be 1 or more")
    builtin = []
    if args.builtin:
        lines = args.builtin.read_text(encoding="utf-8").splitlines()
        if args.builtin_n is not None:
            random.Random(args.seed).shuffle(lines)
            lines = lines[: args.builtin_n]
        builtin = [json.loads(line) for line in lines]
    try:
        conversations = generate(args.n, args.seed, builtin)
    except ValueError as error:
        parser.error(f"{error}: give --builtin FILE, tool_data's conversations")
    write_atomically(
        args.out, "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations)
    )
    print(f"{summary(conversations)}; to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
