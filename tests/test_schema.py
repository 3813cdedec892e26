"""Answers in a JSON Schema's shape: the schema read (JSON, a file, the concise form),
the grammar that holds a reply to it (alone and beside tools), the chat core, the
command line, the REPL and the server through the official client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minichat import ChatBackend, GenerationConfig, Message
from minichat.backends.echo import EchoBackend
from minichat.chat.conversation import offer
from minichat.chat.events import Done, Text
from minichat.chat.session import ChatSession
from minichat.errors import ConfigError
from minichat.tools.builtin import builtin
from minichat.tools.grammar import Constraint, grammar, llg_tokenizer
from minichat.tools.hermes import prepare
from minichat.tools.schema import answer_problem, concise, many, read_schema
from minichat.tools.spec import Tools
from minichat.tools.toolbox import toolbox
from tests.test_cli import assert_one_error_line, minichat
from tests.test_tools_calls import schemas, tiny  # noqa: F401 - tiny is a fixture

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_the_concise_form_is_llms() -> None:
    assert concise("name, age int, bio: one line") == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "bio": {"type": "string", "description": "one line"},
        },
        "required": ["name", "age", "bio"],
        "additionalProperties": False,
    }
    # one field a line when there are lines: a description may then hold commas
    lines = concise("score float: from 0, the worst, to 1\nok bool\n")
    assert lines["properties"]["score"] == {
        "type": "number",
        "description": "from 0, the worst, to 1",
    }
    assert lines["properties"]["ok"] == {"type": "boolean"}
    assert many(PERSON)["properties"]["items"] == {"type": "array", "items": PERSON}


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("", "is empty"),
        ("name, age integer", "type 'integer' is not one of str, int, float, bool"),
        ("two words here", "is not 'name [type][: description]'"),
        ("{not json", "--schema is not valid JSON"),
        ('{"type": 5}', "--schema is not a JSON Schema"),
        ('{"type": "string", "minLength": 5, "maxLength": 2}', "allow no value"),
        ("[1, 2]", "is not 'name [type]"),
    ],
)
def test_a_schema_that_cannot_be_used_is_refused_in_words(given: str, words: str) -> None:
    with pytest.raises(ConfigError, match=None) as refused:
        read_schema(given)
    assert words in str(refused.value)


def test_a_schema_file_is_read_within_bounds(tmp_path: Path) -> None:
    path = tmp_path / "person.json"
    path.write_text(json.dumps(PERSON))
    assert read_schema(str(path)) == PERSON
    assert read_schema(str(path), multi=True) == many(PERSON)
    with pytest.raises(ConfigError, match="not a regular file"):
        read_schema(str(tmp_path))
    with pytest.raises(ConfigError, match="no file at"):
        read_schema(str(tmp_path / "missing.json"))
    big = tmp_path / "big.json"
    big.write_text(" " * 300_000 + "{}")
    with pytest.raises(ConfigError, match="KiB; give a JSON Schema file"):
        read_schema(str(big))


def test_the_model_is_told_the_shape_beside_the_tools() -> None:
    calculator = builtin(["calculator"])[0].tool
    system = prepare([Message("user", "hi")], Tools((calculator,), "auto", PERSON))[0].content
    assert "<tools>" in system and json.dumps(PERSON) in system
    assert system.index("<tools>") < system.index("JSON Schema")
    alone = prepare([Message("user", "hi")], Tools((), "none", PERSON))[0].content
    assert "<tools>" not in alone and json.dumps(PERSON) in alone


def test_answer_problem_says_what_is_wrong() -> None:
    assert answer_problem('{"name": "Ann", "age": 3}', PERSON) is None
    assert "cut short" in str(answer_problem('{"name": "An', PERSON))
    assert "'age' is a required property" in str(answer_problem('{"name": "Ann"}', PERSON))


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schema=schemas(), seed=st.integers(0, 10_000))
def test_every_shaped_answer_parses_and_fits_its_schema(
    tiny: ChatBackend,  # noqa: F811
    schema: dict[str, Any],
    seed: int,
) -> None:
    """A random model, sampled hot: whatever it writes under the grammar is JSON in the
    schema's shape, and the end of the turn comes only once the JSON is whole."""
    config = GenerationConfig(temperature=1.5, seed=seed, max_new_tokens=400)
    stream = tiny.stream([Message("user", "go")], config, tools=Tools((), "none", schema))
    text = "".join(stream)
    if stream.finish_reason == "length":  # only the reply limit may cut it
        return
    assert stream.finish_reason in ("stop", "end_turn")
    jsonschema.validate(json.loads(text), schema)


def test_under_auto_the_reply_is_calls_or_the_shaped_answer(tiny: ChatBackend) -> None:  # noqa: F811
    local: Any = tiny
    words = llg_tokenizer(local.tokenizer_json(), local.end_ids)
    calculator = builtin(["calculator"])[0].tool
    tools = Tools((calculator,), "auto", PERSON)
    assert "start: answer | call" in grammar(tools)
    encode = local.format.tokenizer.encode
    call = '<tool_call>\n{"name": "calculator", "arguments": {"expression": "2+2"}}\n</tool_call>'
    for text in ('{"name": "Ann", "age": 3}', call):
        constraint = Constraint(words, tools)
        for token in encode(text, add_special_tokens=False).ids:
            constraint.consume(token)  # raises where the grammar refuses a token
        assert constraint.matcher.is_accepting()
    constraint = Constraint(words, tools)
    with pytest.raises(RuntimeError, match="breaks the tool grammar"):
        for token in encode("Hello there", add_special_tokens=False).ids:
            constraint.consume(token)


def test_with_a_schema_the_round_after_the_calls_answers() -> None:
    box = toolbox(builtin(["calculator"]), "required")
    first, second = offer(box, 0, PERSON), offer(box, 1, PERSON)
    assert first is not None and second is not None
    assert (first.choice, first.schema) == ("required", PERSON)
    assert (second.choice, second.schema) == ("none", PERSON)
    assert offer(None, 0, PERSON) == Tools((), "none", PERSON)
    assert offer(box, 1, None) == box.offer(1)


def test_the_chat_core_holds_answers_to_the_schema(
    tiny: ChatBackend,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    temperatures: list[float] = []
    original = type(tiny).generate_with_tools

    def spy(self: Any, messages: Any, config: GenerationConfig, *rest: Any) -> Any:
        temperatures.append(config.temperature)
        return original(self, messages, config, *rest)

    monkeypatch.setattr(type(tiny), "generate_with_tools", spy)
    session = ChatSession(tiny, GenerationConfig(max_new_tokens=300, seed=1, temperature=0.7))
    session.use_schema("name, age int")
    assert ("schema", json.dumps(session.schema), "/schema") in session.parameters()
    events = list(session.turn("Ann is 3."))
    done = events[-1]
    assert isinstance(done, Done)
    text = "".join(e.text for e in events if isinstance(e, Text))
    if done.exchange.finish_reason != "length":
        jsonschema.validate(json.loads(text), session.schema)
    session.sources["temperature"] = "/temp"
    list(session.turn("Bo is 4."))
    assert temperatures == [0.0, 0.7]  # greedy while the temperature is the default's
    session.use_schema(None)
    assert session.schema is None


def test_a_model_that_cannot_shape_answers_says_so() -> None:
    session = ChatSession(EchoBackend(), GenerationConfig())
    with pytest.raises(ConfigError, match="cannot hold its answers to a schema"):
        session.use_schema("name")
    assert session.schema is None


def test_the_command_line_refuses_what_cannot_work(tmp_path: Path) -> None:
    assert_one_error_line(minichat("ask", "--schema", '{"type": 5}', "hi"), "not a JSON Schema")
    assert_one_error_line(minichat("ask", "--schema", "a", "--schema-multi", "b", "hi"), "not both")
    assert_one_error_line(minichat("--schema", "a", "models"), "--schema goes with a chat")
    assert_one_error_line(
        minichat("ask", "--model", "echo", "--schema", "a", "hi"), "cannot hold its answers"
    )


def test_the_repl_sets_and_shows_the_schema(tiny: ChatBackend) -> None:  # noqa: F811
    import io

    from rich.console import Console

    from minichat.repl.loop import Repl, line_reader

    session = ChatSession(tiny, GenerationConfig(max_new_tokens=40, seed=0))
    out = io.StringIO()
    lines = "/schema\n/schema name, age int\n/schema nope nope nope\n/schema off\n"
    Repl(session, Console(file=out, width=200)).run(line_reader(io.StringIO(lines).readline))
    shown = out.getvalue()
    assert "answers are free text" in shown
    assert '"age": {"type": "integer"}' in shown
    assert "is not 'name [type][: description]'" in shown
    assert session.schema is None


def test_the_server_takes_response_format_from_the_official_client(
    tiny: ChatBackend,  # noqa: F811
) -> None:
    """``json_schema`` and ``json_object``, streamed or not; with tools the call comes
    first and the answer after the result is in the shape; a bad schema is a 400 that
    names the field."""
    import openai

    from tests.test_server import serving

    shape = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}
    ask = [{"role": "user", "content": "Ann is 3."}]
    calculator = builtin(["calculator"])[0].tool.to_dict()
    with serving(tiny) as url:
        client = openai.OpenAI(base_url=url, api_key="none")
        options: dict[str, Any] = {"model": tiny.model_id, "max_tokens": 300, "seed": 5}
        reply = client.chat.completions.create(messages=ask, response_format=shape, **options)  # type: ignore[arg-type]
        jsonschema.validate(json.loads(reply.choices[0].message.content or ""), PERSON)
        streamed = client.chat.completions.create(
            messages=ask,  # type: ignore[arg-type]
            response_format={"type": "json_object"},
            stream=True,
            **options,
        )
        text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
        assert isinstance(json.loads(text), dict)

        first = client.chat.completions.create(
            messages=ask,  # type: ignore[arg-type]
            tools=[calculator],  # type: ignore[list-item]
            tool_choice="required",
            response_format=shape,  # type: ignore[arg-type]
            **options,
        )
        [call] = first.choices[0].message.tool_calls or []
        answered = client.chat.completions.create(
            messages=[  # type: ignore[list-item]
                *ask,
                {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": "4"},
            ],
            tools=[calculator],  # type: ignore[list-item]
            tool_choice="none",
            response_format=shape,  # type: ignore[arg-type]
            **options,
        )
        jsonschema.validate(json.loads(answered.choices[0].message.content or ""), PERSON)

        bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 5}}}
        with pytest.raises(openai.BadRequestError, match="response_format.json_schema.schema"):
            client.chat.completions.create(messages=ask, response_format=bad, **options)  # type: ignore[arg-type]
        with pytest.raises(openai.BadRequestError, match="needs its schema"):
            client.chat.completions.create(
                messages=ask,  # type: ignore[arg-type]
                response_format={"type": "json_schema", "json_schema": {"name": "x"}},  # type: ignore[typeddict-item]
                **options,
            )


def test_the_default_model_answers_in_the_shape_and_calls_first(tmp_path: Path) -> None:
    """The real default model: a sentence's facts extracted, and a sum computed by the
    calculator and then given in the schema's shape, with default settings."""
    env = {"MINICHAT_CACHE_DIR": str(tmp_path)}
    sentence = "Alice is a 31 year old engineer living in Lyon."
    result = run("ask", "--schema", "name, age int, city", sentence, env=env)
    assert json.loads(result) == {"name": "Alice", "age": 31, "city": "Lyon"}
    result = run(
        "ask", "--tools", "calculator", "--schema", "result int", "What is 1234 * 5678?", env=env
    )
    assert json.loads(result) == {"result": 7006652}


def run(*args: str, env: dict[str, str]) -> str:
    import os

    done = subprocess.run(
        [sys.executable, "-m", "minichat", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


test_the_default_model_answers_in_the_shape_and_calls_first = pytest.mark.slow(
    test_the_default_model_answers_in_the_shape_and_calls_first
)


def test_the_web_page_sets_the_schema_from_json_or_fields_never_a_file(
    tiny: ChatBackend,  # noqa: F811
    tmp_path: Path,
) -> None:
    from minichat.web.handlers import WebChat

    page = WebChat(ChatSession(tiny, GenerationConfig()))
    shown, notice = page.set_schema("name, age int")
    assert json.loads(shown)["required"] == ["name", "age"] and notice.startswith("answers follow")
    path = tmp_path / "s.json"
    path.write_text(json.dumps(PERSON))
    kept, refused = page.set_schema(str(path))  # read as fields: a path is no field name
    assert kept == shown and refused.startswith("error:")
    assert page.set_schema("") == ("", "answers are free text")
