"""The grounded-answer training data: asked as ``--docs`` asks, answered only from what
the passages in the prompt hold, and never from the material the benchmarks ask."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from minichat.retrieval.context import INSTRUCTION
from recipes import docs_pages, docs_words
from recipes.docs_data import NOT_SAID, generate, main

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def conversations() -> list[dict[str, Any]]:
    return generate(40, seed=3)


def passages(prompt: str) -> dict[int, str]:
    """The prompt's passages by number."""
    parts = re.split(r"^\[(\d+)\] .*$", prompt, flags=re.MULTILINE)
    return {int(n): text for n, text in zip(parts[1::2], parts[2::2], strict=True)}


def test_each_answer_copies_its_fact_from_the_passage_it_cites(
    conversations: list[dict[str, Any]],
) -> None:
    cited = 0
    for c in conversations:
        prompt, reply = (m["content"] for m in c["messages"])
        assert prompt.startswith(INSTRUCTION) and "\nQuestion:\n" in prompt
        if reply == NOT_SAID:
            continue
        number = int(re.search(r" \[(\d)\]$", reply).group(1))  # type: ignore[union-attr]
        # the answer is the passage's own sentences, copied: names, flags and numbers too
        said = reply.removesuffix(f" [{number}]")
        assert docs_pages.squash(said) in docs_pages.squash(passages(prompt)[number])
        assert len(said) < len(passages(prompt)[number])  # the sentences, not the passage
        cited += 1
    assert 20 <= cited < len(conversations)  # most are answered, some are not


def test_questions_come_in_every_kind_and_some_go_unanswered(
    conversations: list[dict[str, Any]],
) -> None:
    kinds = {c["kind"] for c in conversations}
    assert {"keyword", "paraphrase", "value"} <= kinds
    assert any("not said" in kind for kind in kinds)


def test_manuals_are_written_in_every_format_the_extractor_reads() -> None:
    rng, used = random.Random(0), set[str]()
    suffixes = set()
    for _ in range(12):
        made = docs_pages.manual(rng, used)
        suffixes |= {Path(path).suffix for path in made.files}
    assert {".md", ".rst", ".html", ".txt", ".py", ""} <= suffixes
    assert len(used) == 12  # a new program every time


def test_nothing_is_taken_from_what_the_benchmarks_ask() -> None:
    from tests.docs_corpus import _FACTS

    manual = json.loads(Path("bench/manual_questions.json").read_text(encoding="utf-8"))
    asked = [q["question"] for q in manual["questions"]] + manual["unanswered"]
    asked += [f.question for f in _FACTS]
    written = repr((docs_words.SETTINGS, docs_words.COMMANDS, docs_words.FACTS)).lower()
    for question in asked:
        assert question.lower() not in written
    for word in ("sqlite", "lighthouse", "vellmora", "ferry"):
        assert word not in written


def test_the_same_seed_writes_the_same_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    main([str(first), "--n", "5", "--seed", "1"])
    main([str(second), "--n", "5", "--seed", "1"])
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5 and all(set(json.loads(line)) == {"messages"} for line in lines)
