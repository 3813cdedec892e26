"""The table of decoding parameters and every surface agree: each parameter has a flag
(by its full name too), an env variable, a config key, a slash command, a web control
where one makes sense and a server field, and each refuses the same values."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from rich.console import Console

from minichat import GenerationConfig
from minichat.backends.echo import EchoBackend
from minichat.chat.session import ChatSession
from minichat.cli.app import app
from minichat.errors import ConfigError
from minichat.repl.commands import BY_NAME as COMMANDS
from minichat.repl.loop import Repl
from minichat.repl.prompt import SlashCompleter
from minichat.server.schema import ChatRequest
from minichat.settings.layered import env_name, load_settings
from minichat.settings.params import PARAMS, Param
from minichat.web.handlers import WebChat

NUMBERS = [p for p in PARAMS if p.kind in (int, float)]
SAMPLE = {  # a valid value other than the default, as typed and as parsed
    "max_new_tokens": ("80", 80),
    "temperature": ("0.25", 0.25),
    "top_p": ("0.5", 0.5),
    "top_k": ("7", 7),
    "repetition_penalty": ("1.3", 1.3),
    "stop": ("END", ("END",)),
    "seed": ("42", 42),
}


def outside(param: Param) -> Any:
    """A value just past the top of the range (or below an open bottom)."""
    return param.high + 1 if param.kind is int else param.high + 0.5


def test_the_table_is_generation_config() -> None:
    defaults = GenerationConfig().to_dict()
    assert list(defaults) == [p.name for p in PARAMS] == list(SAMPLE)
    for param in PARAMS:
        assert param.check(param.default) == GenerationConfig().__getattribute__(param.name)


def test_every_parameter_has_a_flag_by_each_of_its_names() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name in ("ask", "chat", "serve", "web"):
        options = {opt for p in commands[name].params for opt in p.opts}
        for param in PARAMS:
            assert set(param.flag_names) <= options, (name, param.name)
            assert f"--{param.name.replace('_', '-')}" in options


@pytest.mark.parametrize("param", PARAMS, ids=lambda p: p.name)
def test_flag_env_and_config_file_set_it(param: Param, tmp_path: Path) -> None:
    typed, value = SAMPLE[param.name]
    flag = load_settings({param.name: (typed,) if param.kind is str else typed}, environ={})
    env = load_settings(environ={env_name(param.name): typed})
    config = tmp_path / "config.yaml"
    config.write_text(f"{param.name}: {typed}\n")
    file = load_settings(config_file=config, environ={})
    for settings, source in ((flag, "flag --"), (env, "env MINICHAT_"), (file, "config file")):
        assert getattr(settings.generation, param.name) == value
        assert settings.sources[param.name].startswith(source)


@pytest.mark.parametrize("param", PARAMS, ids=lambda p: p.name)
def test_slash_commands_set_it_by_short_and_full_name(param: Param) -> None:
    typed, value = SAMPLE[param.name]
    session = ChatSession.start(EchoBackend(), load_settings({}, environ={}))
    repl = Repl(session, Console(file=io.StringIO()))
    command = COMMANDS[param.command]
    assert param.help in command.help or param.name == "stop"
    if param.name != "stop":
        assert COMMANDS[param.name] is command
        command.run(repl, typed)
        assert getattr(session.config, param.name) == value
        assert session.source(param.name) == f"/{param.command}"
    session.set_from_text("/set", {param.name: typed})
    assert getattr(session.config, param.name) == value
    completions = SlashCompleter().get_completions(
        Document(f"/set {param.name[:5]}"), CompleteEvent()
    )
    assert f"{param.name}=" in [c.text for c in completions]


@pytest.mark.parametrize("param", PARAMS, ids=lambda p: p.name)
def test_the_server_reads_it_by_its_full_and_openai_names(param: Param) -> None:
    _, value = SAMPLE[param.name]
    for name in (param.name, *param.api):
        request = ChatRequest.model_validate(
            {"model": "m", "messages": [{"role": "user", "content": "hi"}], name: value}
        )
        assert getattr(request.generation(GenerationConfig()), param.name) == value


def test_the_web_page_has_a_control_for_each() -> None:
    pytest.importorskip("gradio")
    from minichat.web.app import SLIDERS

    assert set(SLIDERS) | {"seed", "stop"} == {p.name for p in PARAMS}
    for param in PARAMS:
        if param.slider is not None:
            low, high, _ = param.slider
            assert param.check(param.kind(low)) is not None  # the slider stays in range
            assert param.check(param.kind(high)) is not None


@pytest.mark.parametrize("param", NUMBERS, ids=lambda p: p.name)
def test_every_surface_refuses_the_same_values(param: Param) -> None:
    bad = outside(param)
    with pytest.raises(ConfigError) as direct:
        GenerationConfig(**{param.name: bad})
    words = re.escape(str(direct.value)[:20])
    with pytest.raises(ConfigError, match=f"flag --[a-z-]+: {words}"):
        load_settings({param.name: str(bad)}, environ={})
    with pytest.raises(ConfigError, match=f"env {env_name(param.name)}: {words}"):
        load_settings(environ={env_name(param.name): str(bad)})
    session = ChatSession.start(EchoBackend(), load_settings({}, environ={}))
    with pytest.raises(ConfigError, match=words):
        session.set_from_text("/set", {param.name: str(bad)})
    web = WebChat(ChatSession.start(EchoBackend(), load_settings({}, environ={})))
    kept, notice = web.set_parameter(param.name, bad)
    assert kept == param.default and notice.startswith("error: " + str(direct.value))
    request = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], param.name: bad}
    )
    with pytest.raises(ConfigError, match=words):
        request.generation(GenerationConfig())
