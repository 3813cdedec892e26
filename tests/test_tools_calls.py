"""Tool calls: the Hermes format written and read, the grammar that keeps a local model's
calls valid (any schema, a random model), the chat's rounds of calls, and the errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minichat import load_backend
from minichat.backend import ChatBackend, Message, Outcome
from minichat.chat.events import Done, ToolResult
from minichat.chat.session import ChatSession
from minichat.config import GenerationConfig
from minichat.errors import ConfigError
from minichat.settings.layered import load_settings
from minichat.tools.base import ToolFunction
from minichat.tools.builtin import builtin
from minichat.tools.hermes import CallFilter, parse_calls, prepare, render_call
from minichat.tools.spec import Tool, ToolCall, Tools
from minichat.tools.toolbox import Toolbox, toolbox

CALC = builtin(["calculator"])[0]


def test_calls_are_written_and_read_back() -> None:
    call = ToolCall("call_1", "calculator", '{"expression": "2+2"}')
    text = f"Let me see.\n{render_call(call)}"
    [read] = parse_calls(text)
    assert (read.name, json.loads(read.arguments)) == ("calculator", {"expression": "2+2"})
    assert parse_calls('<tool_call>{"name": 3}</tool_call> <tool_call>{oops</tool_call>') == []


def test_the_filter_keeps_call_markup_out_of_the_text() -> None:
    calls = CallFilter()
    pieces = [
        "The answer",
        " needs <to",
        "ol_",
        'call>\n{"name": "x"',
        ', "arguments": {}}\n</tool_call>',
    ]
    shown = "".join(calls.push(p) for p in pieces) + calls.flush()
    assert shown == "The answer needs "
    assert calls.calls_text.startswith("<tool_call>") and parse_calls(calls.calls_text)
    plain = CallFilter()
    assert plain.push("a < b and <tool") + plain.flush() == "a < b and <tool"


def test_prepare_describes_the_tools_and_writes_results_as_responses() -> None:
    tools = Tools((CALC.tool,))
    call = ToolCall("c1", "calculator", '{"expression": "6*7"}')
    messages = [
        Message("system", "Be brief."),
        Message("user", "6 times 7?"),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", "42", tool_call_id="c1"),
    ]
    system, user, assistant, response = prepare(messages, tools)
    assert system.content.startswith("Be brief.\n\nYou can call these tools:\n<tools>\n")
    assert '"name": "calculator"' in system.content
    assert user == messages[1]
    assert assistant.content == render_call(call) and not assistant.tool_calls
    assert response == Message("user", "<tool_response>\n42\n</tool_response>")


def test_a_later_question_has_the_tools_described_just_before_it() -> None:
    """After earlier turns of prose the tools come in a system turn of their own right
    before the question, and stay there while its calls' results come back; training
    renders them at the top, where every reply of a conversation sees them."""
    tools = Tools((CALC.tool,))
    call = ToolCall("c1", "calculator", '{"expression": "6*7"}')
    earlier = [
        Message("system", "Be brief."),
        Message("user", "Hi!"),
        Message("assistant", "Hello."),
    ]
    asked = [*earlier, Message("user", "6 times 7?")]
    first, *middle, block, question = prepare(asked, tools)
    assert first == earlier[0] and middle == earlier[1:]  # the earlier turns as they were
    assert block.role == "system" and block.content.startswith("You can call these tools:")
    assert question == asked[-1]
    answered = [*asked, Message("assistant", "", tool_calls=(call,)), Message("tool", "42")]
    assert prepare(answered, tools)[:5] == [first, *middle, block, question]
    top = prepare(asked, tools, near=False)
    assert top[0].content.startswith("Be brief.\n\nYou can call these tools:")
    assert top[1:] == asked[1:]


def test_a_backend_without_tools_says_so() -> None:
    echo = load_backend("echo")
    with pytest.raises(ConfigError, match="cannot call tools"):
        echo.stream([Message("user", "hi")], GenerationConfig(), tools=Tools((CALC.tool,)))


def test_a_tool_choice_that_names_no_tool_is_refused() -> None:
    with pytest.raises(ConfigError, match="tool_choice must be auto, required, none or"):
        Tools((CALC.tool,), "calc")


LEAVES = st.sampled_from(
    [
        {"type": "integer", "minimum": -50, "maximum": 50},
        {"type": "boolean"},
        {"enum": ["red", "green", "blue"]},
        {"type": "string", "maxLength": 6},
        {"type": "array", "items": {"type": "boolean"}, "maxItems": 3},
    ]
)
NAMES = st.sampled_from(["a", "count", "colour", "flag", "items", "city"])


@st.composite
def schemas(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    keys = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    values = schemas(depth + 1) if depth < 1 else LEAVES
    properties = {key: draw(st.one_of(LEAVES, values)) for key in keys}
    required = draw(st.lists(st.sampled_from(keys), unique=True))
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ChatBackend:
    """A random TinyGPT with room for the tools' description and a deep schema's call
    (its context: 4096; at 2048 a random pair of nested schemas could leave no room)."""
    import torch

    from minichat.tinygpt.model import GPTConfig
    from minichat.tinygpt.tokenizer import save_tokenizer, train_tokenizer
    from minichat.tinygpt.train import new_model
    from minichat.tinygpt.weights import save_llama
    from tests.conftest import TINY_SHAPE, arithmetic_chats

    folder = tmp_path_factory.mktemp("tinygpt-tools")
    tokenizer = train_tokenizer([m.content for c in arithmetic_chats(50) for m in c], 512)
    shape = {**TINY_SHAPE, "vocab_size": tokenizer.get_vocab_size(), "context_length": 4096}
    config = GPTConfig(**shape, tie_embeddings=False)  # type: ignore[arg-type]
    save_tokenizer(tokenizer, folder, config.context_length)
    save_llama(new_model(config, seed=0), folder, torch.float32, {})
    return load_backend(f"tiny:{folder}")


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schema=schemas(), other=schemas(), seed=st.integers(0, 10_000))
def test_every_constrained_call_parses_and_fits_its_schema(
    tiny: ChatBackend, schema: dict[str, Any], other: dict[str, Any], seed: int
) -> None:
    """A random model, sampling freely, under the grammar: whatever it writes is a call.
    (Where a copy and the grammar disagree the grammar wins: test_tools_copying.py.)"""
    tools = Tools((Tool("pick", "Pick values.", schema), Tool("other", "More.", other)), "required")
    config = GenerationConfig(temperature=1.0, top_k=0, top_p=1.0, seed=seed, max_new_tokens=400)
    stream = tiny.stream([Message("user", "go")], config, tools=tools)
    assert "".join(stream) == ""  # a call is not text
    assert stream.finish_reason == "tool_calls", stream.finish_reason
    for call in stream.tool_calls:
        chosen = tools.named(call.name)
        assert chosen is not None
        jsonschema.validate(json.loads(call.arguments), chosen.parameters)


class Caller(ChatBackend):
    """Replies from a script: a list of calls makes a tool-call reply, text a plain one."""

    name: ClassVar[str] = "caller"

    def __init__(
        self, script: list[str | list[tuple[str, dict[str, Any]]]] | None = None, after: str = ""
    ):
        self.model_id, self.context_length = "caller", 4096
        self.script = script if script is not None else []
        self.after = after or None  # the reply once the script is done (none: an error)
        self.offered: list[str] = []
        self.seen: list[list[Message]] = []

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.prompt_text.split()) + 4 for m in messages)

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        yield "unused"
        return Outcome("end_turn", 0, 1)

    def generate_with_tools(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event,
        tools: Tools,
    ) -> Generator[str, None, Outcome]:
        self.offered.append(tools.choice)
        self.seen.append(list(messages))
        step = self.after if not self.script and self.after is not None else self.script.pop(0)
        if isinstance(step, str):
            yield step
            return Outcome("end_turn", 0, 1)
        calls = tuple(
            ToolCall(f"call_{i}", name, json.dumps(args)) for i, (name, args) in enumerate(step)
        )
        return Outcome("tool_calls", 0, 1, tool_calls=calls)
        yield ""  # a generator


def chat_with(backend: ChatBackend, functions: list[ToolFunction], **options: Any) -> ChatSession:
    session = ChatSession.start(backend, load_settings({}, environ={}))
    session.toolbox = toolbox(functions, **options)
    return session


def test_a_call_runs_and_the_model_answers_from_its_result() -> None:
    backend = Caller([[("calculator", {"expression": "1234*5678"})], "It is 7006652."])
    session = chat_with(backend, [CALC], choice="required")
    events = list(session.turn("What is 1234 times 5678?"))
    shown = [event.ran.line() for event in events if isinstance(event, ToolResult)]
    assert isinstance(events[-1], Done)
    exchange = events[-1].exchange
    assert exchange.reply == "It is 7006652."
    assert [r.result for r in exchange.tools_ran] == ["7006652"]
    assert shown[0].startswith('calculator({"expression": "1234*5678"}) → 7006652 (')
    assert backend.offered == ["required", "auto"]  # the user's choice first, then the model's
    roles = [m.role for m in session.conversation.messages]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert session.conversation.messages[2].tool_call_id == "call_0"
    assert session.undo() and session.conversation.messages == []  # the rounds go together


def test_errors_go_back_to_the_model_as_results() -> None:
    def broken(arguments: dict[str, Any]) -> str:
        raise ValueError("the disk is on fire")

    def slow(arguments: dict[str, Any]) -> str:
        time.sleep(5)
        return "late"

    tools = [
        CALC,
        ToolFunction(Tool("broken", "d", {"type": "object"}), broken),
        ToolFunction(Tool("slow", "d", {"type": "object"}), slow),
    ]
    backend = Caller(
        [[("calculator", {"expression": "1/0"}), ("broken", {}), ("slow", {}), ("gone", {})], "ok"]
    )
    session = chat_with(backend, tools)
    session.toolbox.timeout = 0.2  # type: ignore[union-attr]
    exchange = session.send("try them")
    results = [r.result for r in exchange.tools_ran]
    assert results[0] == "error: division by zero"
    assert results[1] == "error: broken failed: ValueError: the disk is on fire"
    assert results[2] == "error: slow took longer than 0.2 s and was given up"
    assert results[3].startswith("error: there is no tool 'gone'; the tools are calculator")
    assert all(r.failed for r in exchange.tools_ran) and exchange.reply == "ok"


def test_the_last_round_offers_no_tools() -> None:
    again = [("calculator", {"expression": "1+1"})]
    backend = Caller([again, again, "done"])
    session = chat_with(backend, [CALC], max_rounds=2)
    exchange = session.send("loop")
    assert backend.offered == ["auto", "auto", "none"] and exchange.reply == "done"
    assert len(exchange.tools_ran) == 2


def test_a_failed_round_leaves_the_conversation_as_it_was() -> None:
    backend = Caller([[("calculator", {"expression": "2+2"})]])  # no second reply: it fails
    session = chat_with(backend, [CALC])
    with pytest.raises(IndexError):
        session.send("2+2?")
    assert session.conversation.messages == []


def test_a_saved_chat_keeps_its_calls(tmp_path: Path) -> None:
    backend = Caller([[("calculator", {"expression": "6*7"})], "42"])
    session = chat_with(backend, [CALC])
    session.send("6*7?")
    path = session.save(tmp_path / "chat.json")
    again = ChatSession.start(load_backend("echo"), load_settings({}, environ={}))
    again.load(path)
    assert again.conversation.messages == session.conversation.messages


def test_use_tools_by_name_and_unknown_names() -> None:
    with pytest.raises(ConfigError, match="echo \\(echo\\) cannot call tools"):
        ChatSession.start(load_backend("echo"), load_settings({}, environ={})).use_tools(["now"])
    session = ChatSession.start(Caller([]), load_settings({}, environ={}))
    session.use_tools(["calculator", "now"], "--tools", "required")
    assert isinstance(session.toolbox, Toolbox) and session.toolbox.names == ["calculator", "now"]
    assert ("tools", "calculator, now", "--tools") in session.parameters()
    with pytest.raises(ConfigError, match="unknown tool 'calc'"):
        session.use_tools(["calc"])
    assert session.toolbox.names == ["calculator", "now"]  # a refusal changes nothing
    session.use_tools(None)
    assert session.toolbox is None


def test_search_docs_without_documents_tells_the_model() -> None:
    session = ChatSession.start(Caller([]), load_settings({}, environ={}))
    session.use_tools(["search_docs"])
    assert session.toolbox is not None
    ran = session.toolbox.run(ToolCall("c", "search_docs", '{"query": "x"}'))
    assert ran.failed and "no documents are open" in ran.result


def test_the_command_line_refuses_what_cannot_work(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    def minichat(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "minichat", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "MINICHAT_DATA_DIR": str(tmp_path)},
        )

    unknown = minichat("ask", "-m", "echo", "--tools", "calc", "hi")
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1
    assert "unknown tool 'calc'; the built-in tools are calculator" in unknown.stderr
    echo = minichat("ask", "-m", "echo", "--tools", "calculator", "hi")
    assert echo.returncode == 1 and "echo (echo) cannot call tools" in echo.stderr
    choice = minichat("ask", "-m", "echo", "--tools", "now", "--tool-choice", "calc", "hi")
    assert choice.returncode == 1 and "--tool-choice must be auto, required, none" in choice.stderr
    web = minichat("web", "-m", "echo", "--tools", "calculator")
    assert web.returncode == 1 and "echo (echo) cannot call tools" in web.stderr
    alone = minichat("ask", "-m", "echo", "--tool-choice", "required", "hi")
    assert alone.returncode == 1 and "--tool-choice goes with --tools" in alone.stderr


def test_tools_in_the_repl() -> None:
    import io

    from rich.console import Console

    from minichat.repl.loop import Repl, line_reader

    backend = Caller([[("calculator", {"expression": "6*7"})], "It is 42."])
    session = ChatSession.start(backend, load_settings({}, environ={}))
    out = io.StringIO()
    repl = Repl(session, Console(file=out, width=200, color_system=None), plain=True)
    lines = "/tools\n/tools on calculator now\n/tools rm now\n6 times 7?\n/tools off\n/tools\n"
    repl.run(line_reader(io.StringIO(lines).readline))
    shown = out.getvalue()
    every = "the tools: calculator, now, read_file, list_dir, search_docs"
    assert f"tools on: none; {every}" in shown
    assert "tools on: calculator, now;" in shown and "tools on: calculator;" in shown
    assert 'tool calculator({"expression": "6*7"}) → 42 (' in shown
    assert "It is 42." in shown
    assert shown.rstrip().endswith(
        "tools on: none; the tools: calculator, now, read_file, list_dir, search_docs"
    )


def test_a_long_result_is_cut_to_fit_and_says_so() -> None:
    def big(arguments: dict[str, Any]) -> str:
        return "word " * 5000

    backend = Caller([[("big", {})], "read it"])
    backend.context_length = 600
    session = chat_with(backend, [ToolFunction(Tool("big", "d", {"type": "object"}), big)])
    session.set_parameters("test", max_new_tokens=64)
    exchange = session.send("read the big thing")
    result = session.conversation.messages[2].content
    assert "[cut to fit the context: " in result and "of 25000 characters]" in result
    assert exchange.reply == "read it" and exchange.tools_ran[0].result == "word " * 5000


def test_sources_stay_with_an_answer_that_called_tools(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Relay\n\nThe relay listens on port 48213.\n")
    backend = Caller([[("calculator", {"expression": "48213+1"})], "48214"])
    session = chat_with(backend, [CALC])
    session.use_documents(str(tmp_path))
    exchange = session.send("What is the relay port plus one?")
    assert exchange.source_labels == ("[1] notes.md:3 (Relay)",) and exchange.sources


def test_tools_on_and_rm_keep_the_choice() -> None:
    from minichat.repl.commands import dispatch

    backend = Caller([])
    session = chat_with(backend, [CALC], choice="required", max_rounds=3)

    class Shell:
        def __init__(self) -> None:
            self.session = session
            self.said: list[str] = []

        def note(self, text: str) -> None:
            self.said.append(text)

        warn = note

    shell = Shell()
    dispatch(shell, "/tools on now")  # type: ignore[arg-type]
    assert session.toolbox is not None and session.toolbox.names == ["calculator", "now"]
    assert (session.toolbox.choice, session.toolbox.max_rounds) == ("required", 3)


def test_tool_messages_render_for_any_template_with_tools_on_or_off(tiny: ChatBackend) -> None:
    call = ToolCall("c1", "calculator", '{"expression": "6*7"}')
    messages = [
        Message("user", "6 times 7?"),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", "42", tool_call_id="c1"),
        Message("user", "thanks"),
    ]
    from minichat.tools.hermes import history

    assert tiny.count_tokens(messages) == tiny.count_tokens(history(messages))
    assert [m.role for m in history(messages)] == ["user", "assistant", "user", "user"]


CALCULATOR_SPEC = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate arithmetic.",
        "parameters": CALC.tool.parameters,
    },
}


def test_the_server_takes_tools_and_returns_calls_to_the_official_client() -> None:
    import openai

    from tests.test_server import serving

    backend = Caller(
        [
            [("calculator", {"expression": "6*7"})],
            [("calculator", {"expression": "6*7"})],
            "It is 42.",
        ]
    )
    backend.model_id = "caller"
    with serving(backend) as url:
        client = openai.OpenAI(base_url=url, api_key="none")
        ask = [{"role": "user", "content": "6 times 7?"}]
        first = client.chat.completions.create(
            model="caller", messages=ask, tools=[CALCULATOR_SPEC], tool_choice="required"
        )
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        [call] = choice.message.tool_calls
        assert call.function.name == "calculator"
        assert json.loads(call.function.arguments) == {"expression": "6*7"}

        streamed = client.chat.completions.create(
            model="caller", messages=ask, tools=[CALCULATOR_SPEC], stream=True
        )
        parts: dict[int, dict[str, str]] = {}
        finish = None
        for chunk in streamed:
            if not chunk.choices:
                continue
            for delta in chunk.choices[0].delta.tool_calls or []:
                part = parts.setdefault(delta.index, {"name": "", "arguments": ""})
                part["name"] += delta.function.name or ""
                part["arguments"] += delta.function.arguments or ""
            finish = chunk.choices[0].finish_reason or finish
        assert finish == "tool_calls"
        assert parts == {0: {"name": "calculator", "arguments": '{"expression": "6*7"}'}}

        answered = client.chat.completions.create(
            model="caller",
            messages=[
                *ask,
                {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": "42"},
            ],
            tools=[CALCULATOR_SPEC],
            tool_choice="none",
        )
        assert answered.choices[0].message.content == "It is 42."
        assert backend.offered == ["required", "auto", "none"]
        seen = backend.seen[-1]
        assert seen[1].tool_calls[0].name == "calculator"
        assert (seen[2].role, seen[2].content, seen[2].tool_call_id) == ("tool", "42", call.id)


def test_the_server_refuses_bad_tools_in_words() -> None:
    import openai

    from tests.test_server import serving

    backend = Caller([])
    backend.model_id = "caller"
    bad_schema = {"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}
    with serving(backend) as url:
        client = openai.OpenAI(base_url=url, api_key="none")
        ask = [{"role": "user", "content": "hi"}]
        with pytest.raises(openai.BadRequestError, match="is not a JSON Schema"):
            client.chat.completions.create(model="caller", messages=ask, tools=[bad_schema])
        with pytest.raises(openai.BadRequestError, match="tool_choice must be auto, required"):
            client.chat.completions.create(
                model="caller",
                messages=ask,
                tools=[CALCULATOR_SPEC],
                tool_choice={"type": "function", "function": {"name": "nosuch"}},
            )
    with serving(load_backend("echo")) as url:
        client = openai.OpenAI(base_url=url, api_key="none")
        with pytest.raises(openai.BadRequestError, match="echo cannot call tools"):
            client.chat.completions.create(model="echo", messages=ask, tools=[CALCULATOR_SPEC])


def test_the_server_constrains_a_local_model(tiny: ChatBackend) -> None:
    import openai

    from tests.test_server import serving

    colour = {
        "type": "object",
        "properties": {"colour": {"enum": ["red", "green"]}, "n": {"type": "integer"}},
        "required": ["colour", "n"],
        "additionalProperties": False,
    }
    spec = {"type": "function", "function": {"name": "paint", "parameters": colour}}
    with serving(tiny) as url:
        client = openai.OpenAI(base_url=url, api_key="none")
        reply = client.chat.completions.create(
            model=tiny.model_id,
            messages=[{"role": "user", "content": "go"}],
            tools=[spec],
            tool_choice="required",
            temperature=1.0,
            seed=3,
            max_tokens=600,
        )
        [call] = reply.choices[0].message.tool_calls or []
        assert call.function.name == "paint"
        jsonschema.validate(json.loads(call.function.arguments), colour)


def test_an_openai_backend_calls_tools_through_the_same_loop() -> None:
    """minichat serve with a scripted model, and an ``openai:`` backend talking to it: the
    calls come back over the wire, run here, and their results go back."""
    from minichat.backends.remote import OpenAIBackend
    from tests.test_server import serving

    backend = Caller([[("calculator", {"expression": "1234*5678"})], "It is 7006652."])
    backend.model_id = "caller"
    with serving(backend) as url:
        remote = OpenAIBackend("caller", url)
        session = ChatSession.start(remote, load_settings({}, environ={}))
        session.use_tools(["calculator"], "test", "required")
        exchange = session.send("What is 1234 times 5678?")
        remote.close()
    assert exchange.reply == "It is 7006652."
    assert [r.result for r in exchange.tools_ran] == ["7006652"]
    assert backend.offered == ["required", "auto"]
    assert backend.seen[-1][-1].role == "tool" and backend.seen[-1][-1].content == "7006652"


def test_the_web_page_turns_tools_on_and_shows_the_calls() -> None:
    from minichat.web.handlers import WebChat

    backend = Caller([[("calculator", {"expression": "6*7"})], "It is 42."])
    chat = WebChat(ChatSession.start(backend, load_settings({}, environ={})))
    assert chat.controls().tools == []
    assert chat.set_tools(["calculator", "nosuch"])[1].startswith("error: unknown tool 'nosuch'")
    assert chat.set_tools(["calculator"]) == (["calculator"], "tools on: calculator")
    *_, final = chat.send("6 times 7?")
    bubbles = final.messages
    assert [b["role"] for b in bubbles] == ["user", "assistant"]
    assert bubbles[1]["content"] == 'tool `calculator({"expression": "6*7"})`\n→ `42`\n\nIt is 42.'
    assert chat.controls().tools == ["calculator"]


FUNCTIONS = '''
from typing import Literal, Optional


def paint(colour: Literal["red", "green"], coats: int = 1, note: Optional[str] = None) -> str:
    """Paint the fence.

    More words that stay out of the description.
    """
    return f"painted {colour} x{coats}"


def total(values: list[float], rounded: bool) -> float:
    return round(sum(values)) if rounded else sum(values)


def _hidden() -> None:
    pass
'''


def test_functions_from_a_file_become_tools_that_ask_first(tmp_path: Path) -> None:
    from minichat.tools.functions import load_functions

    (tmp_path / "mine.py").write_text(FUNCTIONS)
    paint, total = load_functions(tmp_path / "mine.py")
    assert (paint.name, paint.tool.description, paint.changes) == (
        "paint",
        "Paint the fence.",
        True,
    )
    assert paint.tool.parameters == {
        "type": "object",
        "properties": {
            "colour": {"enum": ["red", "green"]},
            "coats": {"type": "integer"},
            "note": {"type": ["string", "null"]},  # Optional: a model may say null
        },
        "required": ["colour"],
        "additionalProperties": False,
    }
    assert total.tool.parameters["properties"]["values"] == {
        "type": "array",
        "items": {"type": "number"},
    }
    call = ToolCall("c", "paint", '{"colour": "red", "coats": 2}')
    for approve, result in [
        (None, "error: paint may change things and was not run: nobody was there to allow it"),
        (
            lambda c: False,
            "error: paint may change things and was not run: the user did not allow it",
        ),
        (lambda c: True, "painted red x2"),
    ]:
        assert toolbox([paint]).run(call, approve).result == result  # type: ignore[arg-type]
    session = ChatSession.start(Caller([]), load_settings({}, environ={}))
    assert session.add_functions(tmp_path / "mine.py") == ["paint", "total"]
    session.use_tools(["calculator", "paint"], "--functions", "paint")
    assert session.toolbox is not None and session.toolbox.names == ["calculator", "paint"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("import nosuchmodule_xyz\n", "does not import (ModuleNotFoundError"),
        ("x = 1\n", "defines no public function"),
        ("def f(:\n", "does not import (SyntaxError"),
    ],
)
def test_a_functions_file_that_cannot_be_used_is_one_line(
    tmp_path: Path, text: str, words: str
) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "mine.py").write_text(text)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "minichat",
            "ask",
            "-m",
            "echo",
            "--functions",
            str(tmp_path / "mine.py"),
            "hi",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MINICHAT_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr


TOOLS_TEMPLATE = (  # the shape of Qwen2.5's: tools in the system turn, calls in Hermes tags
    "{% if tools %}<|im_start|>system\nTools:{% for t in tools %} {{ t['function']['name'] }}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] or '' }}"
    "{% for c in m.get('tool_calls', []) %}<call>{{ c['function']['name'] }} "
    "{{ c['function']['arguments']['expression'] }}</call>{% endfor %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_a_template_that_knows_tools_describes_them_itself(tmp_path: Path) -> None:
    from minichat.backends.hf import HFBackend
    from tests.conftest import build_byte_tokenizer, build_tiny_llama

    tokenizer = build_byte_tokenizer(TOOLS_TEMPLATE)
    backend = HFBackend(build_tiny_llama(len(tokenizer), context=2048), tokenizer, "tiny-tools")
    tools = Tools((CALC.tool,), "required")
    call = ToolCall("c1", "calculator", '{"expression": "6*7"}')
    messages = [
        Message("user", "6 times 7?"),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", "42", tool_call_id="c1"),
    ]
    prompt = tokenizer.decode(backend.encode_with_tools(messages, tools))
    assert prompt.startswith("<|im_start|>system\nTools: calculator<|im_end|>")
    assert "<call>calculator 6*7</call>" in prompt  # the template's own way, arguments an object
    assert "You can call these tools" not in prompt
    assert backend.count_tokens_with_tools(messages, tools) == len(
        backend.encode_with_tools(messages, tools)
    )
    stream = backend.stream(
        [Message("user", "go")], GenerationConfig(temperature=0, max_new_tokens=300), tools=tools
    )
    "".join(stream)
    assert stream.finish_reason == "tool_calls"
    jsonschema.validate(json.loads(stream.tool_calls[0].arguments), CALC.tool.parameters)


def test_a_calls_time_is_the_tools_not_the_users(monkeypatch: pytest.MonkeyPatch) -> None:
    from minichat.tools.functions import as_tool

    def quick() -> str:
        return "done"

    clock = iter([0.0, 30.0, 31.5])  # asked, allowed 30 s later, done 1.5 s after that
    monkeypatch.setattr("minichat.tools.toolbox.perf_counter", lambda: next(clock))
    ran = toolbox([as_tool(quick)]).run(ToolCall("c", "quick", "{}"), lambda call: True)
    assert (ran.result, ran.seconds) == ("done", 1.5)


def test_the_mask_says_when_a_call_is_under_way(tiny: ChatBackend) -> None:
    """Free text under ``auto`` until ``<tool_call>``; restricted from there on, where the
    engine lifts the repetition penalty so a call may copy the user's words."""
    import torch

    from minichat.tools.grammar import Constraint, llg_tokenizer

    local: Any = tiny
    words = llg_tokenizer(local.tokenizer_json(), local.end_ids)
    logits = torch.zeros(local.token_model.model.config.vocab_size)
    tools = Tools((builtin(["calculator"])[0].tool,), "auto")
    constraint = Constraint(words, tools)
    for token in local.format.tokenizer.encode("hello ", add_special_tokens=False).ids:
        constraint.mask(logits)
        assert not constraint.calling
        constraint.consume(token)
    for token in local.format.tokenizer.encode("<tool_call>\n", add_special_tokens=False).ids:
        constraint.mask(logits)
        constraint.consume(token)
    assert constraint.calling
    assert Constraint(words, Tools(tools.tools, "required")).calling


def test_required_allows_several_calls_one_a_line(tiny: ChatBackend) -> None:
    """OpenAI's ``required`` lets a reply make parallel calls: the grammar takes a second
    call after the first, and the turn may end after either; a named tool, one call."""
    from minichat.tools.grammar import Constraint, llg_tokenizer
    from minichat.tools.hermes import parse_calls

    local: Any = tiny
    words = llg_tokenizer(local.tokenizer_json(), local.end_ids)
    tools = Tools((builtin(["calculator"])[0].tool, builtin(["now"])[0].tool), "required")
    first = '<tool_call>\n{"name": "calculator", "arguments": {"expression": "2+2"}}\n</tool_call>'
    second = '<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>'
    encode = local.format.tokenizer.encode
    for choice, text, ends in (
        ("required", first, True),
        ("required", f"{first}\n{second}", True),
        ("calculator", first, True),
    ):
        constraint = Constraint(words, Tools(tools.tools, choice))
        for token in encode(text, add_special_tokens=False).ids:
            constraint.consume(token)  # raises where the grammar refuses the token
        assert constraint.matcher.is_accepting() is ends
    assert [call.name for call in parse_calls(f"{first}\n{second}")] == ["calculator", "now"]
    named = Constraint(words, Tools(tools.tools, "calculator"))
    with pytest.raises(RuntimeError, match="breaks the tool grammar"):
        for token in encode(f"{first}\n{second}", add_special_tokens=False).ids:
            named.consume(token)


def test_several_calls_in_one_reply_cross_the_wire_and_all_run() -> None:
    """Parallel calls end to end: minichat serve returns two calls in one reply, an
    ``openai:`` backend joins them, the chat core runs both in order and sends both
    results back before the model answers."""
    from minichat.backends.remote import OpenAIBackend
    from tests.test_server import serving

    two = [("calculator", {"expression": "6*7"}), ("calculator", {"expression": "2+2"})]
    backend = Caller([two, "42 and 4."])
    with serving(backend) as url:
        remote = OpenAIBackend("caller", url)
        session = ChatSession.start(remote, load_settings({}, environ={}))
        session.use_tools(["calculator"], "test")
        exchange = session.send("What are 6*7 and 2+2?")
        remote.close()
    assert [r.result for r in exchange.tools_ran] == ["42", "4"]
    assert exchange.reply == "42 and 4."
    results = [m for m in backend.seen[-1] if m.role == "tool"]
    assert [m.content for m in results] == ["42", "4"]
