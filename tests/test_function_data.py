"""The any-function training data: every call names an offered function with arguments
its schema takes, the values come from the question, each group is there in its
share, the same seed gives the same data, and nothing of the held-out set
(``bench/tool_functions.py``, ``bench/tool_cases.py``) is in it."""

from __future__ import annotations

import importlib.util
import itertools
import json
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

from recipes.function_data import generate, main

ROOT = Path(__file__).resolve().parent.parent


def bench_module(name: str) -> ModuleType:
    """A module of ``bench/``, read without putting that folder on ``sys.path`` (its
    ``kernels.py`` would hide the package of that name from transformers)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = bench_module("tool_cases").CASES
FUNCTIONS = bench_module("tool_functions").FUNCTIONS
CHATS = [
    {
        "tools": [],
        "messages": [
            {"role": "user", "content": f"Tell me about rivers, part {n}."},
            {"role": "assistant", "content": f"Rivers run to the sea ({n})."},
        ],
    }
    for n in range(40)
]


@pytest.fixture(scope="module")
def made() -> list[dict[str, Any]]:
    return [c for c in generate(600, 1, CHATS) if c not in CHATS]


def test_every_call_is_to_an_offered_function_with_valid_arguments(made: list[Any]) -> None:
    calls = 0
    for conversation in made:
        offered = {t["function"]["name"]: t["function"] for t in conversation["tools"]}
        assert len(offered) == len(conversation["tools"])  # no two share a name
        for message in conversation["messages"]:
            for call in message.get("tool_calls") or []:
                function = offered[call["function"]["name"]]
                arguments = json.loads(call["function"]["arguments"])
                jsonschema.validate(arguments, function["parameters"])
                calls += 1
    assert calls > 600


def test_string_values_come_from_the_question(made: list[Any]) -> None:
    """A call copies what the question says; dates and times may be reworded."""
    checked = 0
    for conversation in made:
        messages = conversation["messages"]
        for asked, reply in itertools.pairwise(messages):
            for call in reply.get("tool_calls") or []:
                for value in json.loads(call["function"]["arguments"]).values():
                    if isinstance(value, str) and not value[:1].isdigit():
                        assert value.lower() in asked["content"].lower(), (value, asked)
                        checked += 1
    assert checked > 300


def test_the_groups_are_all_there(made: list[Any]) -> None:
    replies: Counter[str] = Counter()
    for conversation in made:
        messages = conversation["messages"]
        for asked, reply in itertools.pairwise(messages):
            if asked["role"] != "user":
                continue
            calls = reply.get("tool_calls") or []
            replies["several calls" if len(calls) > 1 else "one call" if calls else "words"] += 1
    assert replies["several calls"] > 80 and replies["one call"] > 250 and replies["words"] > 120
    later = [c for c in made if sum(m["role"] == "user" for m in c["messages"]) > 1]
    assert len(later) > 150  # questions after earlier turns
    styles = {name for c in made for t in c["tools"] for name in [t["function"]["name"]]}
    assert any("." in n for n in styles) and any("_" in n for n in styles)
    assert any(n != n.lower() for n in styles)  # camelCase


def test_the_same_seed_gives_the_same_data(tmp_path: Path) -> None:
    builtin = tmp_path / "builtin.jsonl"
    builtin.write_text("".join(json.dumps(c) + "\n" for c in CHATS))
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    main([str(first), "--n", "50", "--seed", "3", "--builtin", str(builtin)])
    main([str(second), "--n", "50", "--seed", "3", "--builtin", str(builtin)])
    assert first.read_bytes() == second.read_bytes()
    assert len(first.read_text().splitlines()) == 50 + len(CHATS)


def test_nothing_of_the_held_out_set_is_in_it(made: list[Any]) -> None:
    held_out = {f["name"] for f in FUNCTIONS}
    questions = {c["question"].lower() for c in CASES}
    for conversation in made:
        assert not {t["function"]["name"] for t in conversation["tools"]} & held_out
        for message in conversation["messages"]:
            if message["role"] == "user":
                assert message["content"].lower() not in questions
