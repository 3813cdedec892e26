"""The tool-use training data: calls a model can learn from (offered tools, valid
arguments, the results the real tools give), the same for the same seed, in the
planned proportions, and never one of ``bench/tools.py``'s held-out questions."""

from __future__ import annotations

import ast
import json
import os
import random
import re
import subprocess
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest

from minichat import load_backend
from minichat.tools.builtin import BUILTIN, MONTHS, WEEKDAYS
from minichat.tools.calculator import evaluate
from recipes import tool_templates, tool_words
from recipes.tool_data import (
    answer_directly,
    file_question,
    folder_question,
    generate,
    run,
    whole_sentences,
    working_folder,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "tools.py"
MODEL = "(the model) "
NAMES = (*WEEKDAYS, *MONTHS)
BENCH_TABLES = ("CALCULATIONS", "NOW", "READS", "LISTS", "HERE", "NO_TOOL", "NO_TOOL_TEMPLATES")
MISSING = (*tool_templates.MISSING_FILES, *tool_templates.MISSING_FOLDERS)


def model(queries: list[str]) -> list[str]:
    """A stand-in for the model's own answers: marked, so a test can tell them apart."""
    return [MODEL + query for query in queries]


@pytest.fixture(scope="module")
def conversations() -> list[dict[str, Any]]:
    return [c for seed in range(3) for c in generate(400, seed, model)]


def calls_and_results(conversations: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Every call as (conversation, the question, the call, its arguments, its result, the
    reply after it)."""
    found = []
    for c in conversations:
        messages = c["messages"]
        for n, message in enumerate(messages):
            for call in message.get("tool_calls", []):
                question = next(m for m in reversed(messages[:n]) if m["role"] == "user")
                arguments = json.loads(call["function"]["arguments"])
                result, reply = messages[n + 1]["content"], messages[n + 2]["content"]
                found.append((c, question["content"], call, arguments, result, reply))
    return found


def paths(conversations: list[dict[str, Any]], tool: str) -> list[str]:
    """The path of every call to ``tool`` (read_file or list_dir)."""
    return [
        arguments["path"]
        for _, _, call, arguments, _, _ in calls_and_results(conversations)
        if call["function"]["name"] == tool
    ]


def bench_tables(names: tuple[str, ...]) -> dict[str, Any]:
    """Tables of bench/tools.py, read with ``ast`` (importing it would import torch and
    llguidance)."""
    tables: dict[str, Any] = {}
    for node in ast.parse(BENCH.read_text(encoding="utf-8")).body:
        name = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(node, ast.Assign) and isinstance(name, ast.Name) and name.id in names:
            tables[name.id] = ast.literal_eval(node.value)
    assert sorted(tables) == sorted(names)
    return tables


def bench_templates() -> list[str]:
    """Every query template of bench/tools.py."""
    tables = bench_tables(BENCH_TABLES)
    return [
        *(question for question, _ in tables["CALCULATIONS"]),
        *(template for template, _, _ in tables["NO_TOOL_TEMPLATES"]),
        *(text for name in ("NOW", "READS", "LISTS", "HERE", "NO_TOOL") for text in tables[name]),
    ]


def pattern(template: str) -> re.Pattern[str]:
    """Any query ``template`` can make, whatever fills its blanks, in any case."""
    return re.compile(".+".join(map(re.escape, re.split(r"\{\w*\}", template))), re.IGNORECASE)


def test_every_call_names_an_offered_tool_and_its_arguments_fit_the_schema(
    conversations: list[dict[str, Any]],
) -> None:
    found = calls_and_results(conversations)
    assert {call["function"]["name"] for _, _, call, _, _, _ in found} == set(BUILTIN)
    for c, _, call, arguments, _, _ in found:
        offered = {t["function"]["name"]: t["function"] for t in c["tools"]}
        assert call["function"]["name"] in offered
        jsonschema.validate(arguments, offered[call["function"]["name"]]["parameters"])
        # what the model itself writes: json.dumps with its default separators
        assert call["function"]["arguments"] == json.dumps(arguments)


def test_every_tool_result_follows_its_call(conversations: list[dict[str, Any]]) -> None:
    for c in conversations:
        waiting: list[str] = []
        for message in c["messages"]:
            if message["role"] == "tool":
                assert message["tool_call_id"] == waiting.pop(0)
            else:
                assert waiting == [], "a call went unanswered"
                waiting = [call["id"] for call in message.get("tool_calls", [])]
        assert waiting == []
        assert c["messages"][-1]["role"] == "assistant"
        assert c["messages"][-1]["content"]


def test_the_tools_results_are_what_the_tools_return(conversations: list[dict[str, Any]]) -> None:
    clock = re.compile(r"\w+day \d{1,2} \w+ \d{4}, \d\d:\d\d \(UTC[+-]\d\d:\d\d\)")
    for _, question, call, arguments, result, reply in calls_and_results(conversations):
        name = call["function"]["name"]
        if name == "calculator":
            assert result == evaluate(arguments["expression"])
            assert result in reply or "about" in reply
        elif name == "now":
            assert arguments == {}
            assert clock.fullmatch(result)
            said = re.findall(rf"\d\d:\d\d|UTC[+-]\d\d:\d\d|\d{{4}}|{'|'.join(NAMES)}", reply)
            assert said and all(fact in result for fact in said), (reply, result)
        elif name == "read_file":
            assert arguments["path"] in question
            expected = tool_templates.FILES.get(arguments["path"])
            if expected:
                assert result == expected
            elif not result.startswith("error: "):  # a file made for the question
                assert result.strip() and result.splitlines()[0].strip()
        else:
            path = arguments["path"]
            assert path in question if path != "." else question in tool_templates.HERE
            if not result.startswith(("error: ", "(the folder")):
                assert all(entry in reply for entry in result.splitlines())


def test_a_tool_not_offered_is_not_called(conversations: list[dict[str, Any]]) -> None:
    cannot = [
        c
        for c in conversations
        for m in c["messages"]
        if m["role"] == "assistant" and m["content"].startswith(("I can't", "I don't have"))
    ]
    assert len(cannot) > 20
    for c in cannot:
        assert len(c["tools"]) < len(BUILTIN)
    # a few, not so many that a refusal is learnt too eagerly
    assert 0.03 <= len({id(c) for c in cannot}) / len(conversations) <= 0.07


def test_the_shares_are_as_planned(conversations: list[dict[str, Any]]) -> None:
    firsts = [c["messages"][1] for c in conversations]
    no_tool = sum(m["content"].startswith(MODEL) for m in firsts) / len(conversations)
    assert 0.28 <= no_tool <= 0.34
    every = sum(len(c["tools"]) == len(BUILTIN) for c in conversations) / len(conversations)
    assert 0.74 <= every <= 0.86
    for c in conversations:
        names = [t["function"]["name"] for t in c["tools"]]
        assert names and names == [name for name in BUILTIN if name in names]
    with_tool = [c for c, m in zip(conversations, firsts, strict=True) if "tool_calls" in m]
    follow_ups = [c for c in with_tool if sum(m["role"] == "user" for m in c["messages"]) == 2]
    assert 0.05 <= len(follow_ups) / len(with_tool) <= 0.15


def test_the_model_answers_what_needs_no_tool(conversations: list[dict[str, Any]]) -> None:
    for c in conversations:
        messages = c["messages"]
        for asked, reply in pairwise(messages):
            if reply["content"].startswith(MODEL):
                assert asked["role"] == "user" and "tool_calls" not in reply
                assert reply["content"] == MODEL + asked["content"]


def test_the_same_seed_gives_the_same_data() -> None:
    home = os.getcwd()
    first = generate(120, 7, model)
    assert os.getcwd() == home  # the temporary working folder is left
    assert json.dumps(generate(120, 7, model)) == json.dumps(first)
    assert json.dumps(generate(120, 8, model)) != json.dumps(first)


def test_no_question_is_one_of_the_benchmarks(conversations: list[dict[str, Any]]) -> None:
    templates = bench_templates()
    patterns = [pattern(template) for template in templates]
    # the patterns do catch the benchmark's own queries, however their blanks are filled
    for template, caught in zip(templates, patterns, strict=True):
        assert caught.fullmatch(re.sub(r"\{\w*\}", "17", template))
    fixed = [t.lower() for t in templates if "{" not in t]
    questions = {
        " ".join(m["content"].split())
        for c in conversations
        for m in c["messages"]
        if m["role"] == "user"
    }
    assert len(questions) > 500
    for question in questions:
        assert not any(p.fullmatch(question) for p in patterns), question
        assert not any(text in question.lower() for text in fixed), question


def test_the_paths_asked_about_are_new_almost_every_time(
    conversations: list[dict[str, Any]],
) -> None:
    reads, lists = paths(conversations, "read_file"), paths(conversations, "list_dir")
    assert len(set(reads)) >= 150 and len(set(lists)) >= 100
    first = paths(conversations[:400], "read_file")  # one run of the default size
    assert len(set(first)) >= 0.7 * len(first)
    assert Counter(reads).most_common(1)[0][1] <= 0.04 * len(reads)
    fresh = [p for p in reads if p not in tool_templates.FILES and p not in MISSING]
    assert 0.6 <= len(fresh) / len(reads) <= 0.9
    names = [PurePosixPath(p).name for p in fresh]
    assert len({PurePosixPath(p).suffix for p in fresh}) >= 15  # "" among them
    assert {p.count("/") for p in fresh} == {0, 1, 2}  # in no folder, one or two
    stems = [name.partition(".")[0] for name in names]
    for kind in (str.isupper, lambda n: n[:1].isupper() and not n.isupper()):
        assert sum(map(kind, stems)) >= 0.05 * len(stems)  # LICENSE, NEWS_2024; Garden_plan
    for mark in "_-0123456789":
        assert any(mark in n for n in names)
    listed = [p for p in lists if p != "." and p not in MISSING]
    assert sum("/" in p for p in listed) >= 0.1 * len(listed)


def test_no_path_is_one_of_the_benchmarks(conversations: list[dict[str, Any]]) -> None:
    bench = bench_tables(("FILES", "FOLDERS"))
    asked = set(paths(conversations, "read_file") + paths(conversations, "list_dir"))
    assert not asked & {*bench["FILES"], *bench["FOLDERS"]}
    # nor are the benchmark's names (nor the missing ones) among the words names are made of
    theirs = {"index"} | {
        Path(name).stem.lower() for path in bench["FILES"] for name in Path(path).parts
    }
    theirs |= {*bench["FOLDERS"], *(Path(p).stem for p in MISSING)}
    ours = {w.lower() for w in tool_words.STEMS + tool_words.FOLDERS + tool_words.CAPITALS}
    assert len(tool_words.STEMS) >= 200 and len(tool_words.FOLDERS) >= 100
    assert not ours & theirs


def test_only_the_missing_files_and_folders_give_errors() -> None:
    rng = random.Random(0)
    with working_folder() as root:
        before = sorted(root.rglob("*"))
        for make in (file_question, folder_question):
            for _ in range(300):
                turn = make(rng)
                result = run(turn)
                assert result.startswith("error: ") == turn.missing, (turn.query, result)
                assert not turn.missing or result.endswith("does not exist in the working folder")
                assert sorted(root.rglob("*")) == before  # what was made for it is gone


def test_file_and_folder_errors_are_few_and_only_missing_ones(
    conversations: list[dict[str, Any]],
) -> None:
    found = [
        (call["function"]["name"], result)
        for _, _, call, _, result, _ in calls_and_results(conversations)
        if call["function"]["name"] in ("read_file", "list_dir")
    ]
    errors = [result for _, result in found if result.startswith("error: ")]
    assert 0.05 * len(found) <= len(errors) <= 0.15 * len(found)
    assert all(error.endswith("does not exist in the working folder") for error in errors)


def test_arithmetic_is_reordered_and_copied(conversations: list[dict[str, Any]]) -> None:
    number = r"(\d+(?:\.\d+)?)"
    subtract = re.compile(rf"(?:subtract|take|deduct|remove) {number} (?:away )?from {number}")
    percent = re.compile(rf"{number}(?:%| percent| per cent) of {number}")
    seen: Counter[str] = Counter()
    for _, question, call, arguments, _, _ in calls_and_results(conversations):
        if call["function"]["name"] != "calculator":
            continue
        expression = arguments["expression"]
        if found := subtract.search(question.lower()):
            assert expression == f"{found[2]} - {found[1]}", question
            seen["subtract"] += 1
        if (found := percent.search(question.lower())) and "off" not in question:
            assert expression in (
                f"{found[1]} * {found[2]} / 100",
                f"{found[2]} * {found[1]} / 100",
            )
            seen["percent"] += 1
        if "(" in expression and expression in question:
            seen["written"] += 1
        if re.fullmatch(r"[\d.]+( \+ [\d.]+){2,3}", expression):
            seen["sum"] += 1
        seen["five digits"] += bool(re.search(r"\d{5}", expression))
        seen["decimals"] += bool(re.search(r"\d\.\d", expression))
    assert min(seen.values()) >= 10 and len(seen) == 6, seen


def test_a_reply_cut_off_ends_at_its_last_full_sentence() -> None:
    assert whole_sentences("One. Two! Three is cut") == "One. Two!"
    assert whole_sentences('He said "yes." Then the') == 'He said "yes."'
    assert whole_sentences("Steps:\n1. Mix it.\n2.") == "Steps:\n1. Mix it."
    assert whole_sentences("no sentence ends here") == "no sentence ends here"
    assert whole_sentences("It costs 3.50 dollars. And") == "It costs 3.50 dollars."


def test_answer_directly_streams_the_model_without_tools() -> None:
    long = "A short sentence here. " * 40  # the echo model repeats it: past 96 tokens
    replies = answer_directly(["Hello there.", long], load=lambda: load_backend("echo"))
    assert replies[0] == "You said: Hello there."
    assert replies[1].startswith("You said: A short") and replies[1].endswith("here.")
    assert len(replies[1].split()) <= 96
    assert answer_directly([], load=lambda: pytest.fail("no model is needed")) == []


def test_the_command_writes_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "tools.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "recipes.tool_data",
            str(out),
            *("--n", "40", "--seed", "3"),
            *("--answers-from", "echo"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40
    for line in lines:
        data = json.loads(line)
        assert set(data) == {"tools", "messages"}
    assert any('"content": "You said: ' in line for line in lines)
    assert "40 conversations" in done.stderr and "no tool" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["tools.jsonl"]  # no temporary file left
