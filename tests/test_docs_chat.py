"""Documents in every surface: the chat core fits passages to the context by whole
passages, keeps them with their question (so the KV cache stays valid), and the REPL,
one-shot, web page and server show where answers came from."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Generator, Sequence
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from minichat import load_backend
from minichat.backend import Message, Outcome
from minichat.backends.echo import EchoBackend
from minichat.chat.session import ChatSession
from minichat.config import GenerationConfig
from minichat.prompt.budget import ensure_fits
from minichat.repl.loop import Repl, line_reader
from minichat.retrieval.collection import Collection
from minichat.retrieval.embedder import shared as embedder
from minichat.settings.layered import load_settings
from minichat.tools.spec import Tools
from minichat.web.handlers import WebChat

FACTS = {
    "lighthouse.md": "# Vellmora lighthouse\n\n## Keepers\n\nThe keeper's cat is named "
    "Quorvane-17.\n\n## Visits\n\nVisitors climb the tower on Sundays.\n",
    "relay.md": "# Brisk relay\n\nThe default port of the Brisk relay daemon is 48213.\n",
    "garden.txt": "The orchard has eleven pear trees and a fig.\n",
}


@pytest.fixture
def notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(tmp_path / "cache"))  # path collections
    root = tmp_path / "notes"
    root.mkdir()
    for name, text in FACTS.items():
        (root / name).write_text(text)
    return root


def session(context_length: int = 4096, **flags: str) -> ChatSession:
    backend = EchoBackend(context_length=context_length)
    return ChatSession.start(backend, load_settings(flags, environ={}), load_backend)


def test_passages_go_with_the_question_and_stay_there(notes: Path) -> None:
    chat = session()
    chat.use_documents(str(notes))
    first = chat.send("What is the cat called?")
    assert "Quorvane-17" in first.reply  # echo repeats what the model read
    assert first.source_labels[0].startswith("[1] lighthouse.md:")
    question = chat.conversation.messages[0]
    assert question.content == "What is the cat called?" and "Quorvane-17" in question.context
    prompt = chat.conversation.prompt()
    chat.send("And the port?")
    # the earlier turn is sent exactly as before: its KV cache stays valid
    assert chat.conversation.prompt()[: len(prompt)] == prompt
    assert "48213" in chat.conversation.messages[2].context


def test_passages_are_left_out_whole_and_said(notes: Path) -> None:
    chat = session(context_length=160, max_new_tokens="16")
    chat.use_documents(str(notes))
    exchange = chat.send("What is the cat called?")
    found = len(exchange.sources) + exchange.sources_left_out
    assert exchange.sources_left_out > 0 and found == 4
    for hit in exchange.sources:  # never cut mid-passage
        assert hit.chunk.text.strip() in chat.conversation.messages[0].context
    notice = " ".join(n.text for n in chat.take_notices())
    assert f"{exchange.sources_left_out} of the {found} passages" in notice


def test_docs_off_and_unknown_targets(notes: Path) -> None:
    from minichat.errors import ConfigError

    chat = session()
    with pytest.raises(ConfigError, match="neither a collection nor a file"):
        chat.use_documents("no-such-thing")
    assert chat.documents is None
    chat.use_documents(str(notes))
    chat.use_documents(None)
    assert chat.send("hello").sources == []
    assert ("docs", None, "/docs") in chat.parameters()


def test_a_saved_chat_keeps_its_passages(notes: Path, tmp_path: Path) -> None:
    chat = session()
    chat.use_documents(str(notes))
    chat.send("What is the cat called?")
    path = chat.save(tmp_path / "chat.json")
    again = session()
    again.load(path)
    assert again.conversation.messages == chat.conversation.messages


def repl_transcript(chat: ChatSession, lines: str) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False, color_system=None)
    Repl(chat, console, plain=True).run(line_reader(io.StringIO(lines).readline))
    return out.getvalue()


def test_the_repl_shows_sources_under_every_answer(notes: Path) -> None:
    Collection.named("notes").build([notes], embedder())
    chat = session()
    shown = repl_transcript(
        chat,
        "/docs\n/docs notes\nWhat is the port of the relay?\n/sources\n/docs off\nhi\n/sources\n",
    )
    assert "replies read no documents; collections: notes" in shown
    assert "replies read notes (4 passages)" in shown
    assert "Sources:\n[1] relay.md:3 (Brisk relay)" in shown
    assert "The default port of the Brisk relay daemon is 48213.\n" in shown  # /sources
    assert "replies no longer read documents" in shown
    assert "the last reply read no documents" in shown


def test_the_web_page_picks_a_collection_and_shows_sources(notes: Path) -> None:
    Collection.named("notes").build([notes], embedder())
    chat = WebChat(session())
    assert chat.controls().collections == ["off", "notes"]
    view = chat.use_documents("notes")
    assert "replies read notes" in view.notice
    *_, final = chat.send("What is the port of the relay?")
    assert "**Sources:** `[1] relay.md:3 (Brisk relay)`" in final.messages[-1]["content"]
    assert chat.controls().docs == "notes"
    assert "neither a collection" in chat.use_documents("/no/such/path").notice
    assert chat.session.documents is not None  # a failure keeps what was in use


def test_a_page_others_reach_picks_only_collections(notes: Path) -> None:
    Collection.named("notes").build([notes], embedder())
    chat = WebChat(session(), pick_paths=False)
    assert "picks only collections" in chat.use_documents(str(notes)).notice
    assert chat.session.documents is None
    assert "replies read notes" in chat.use_documents("notes").notice


def minichat(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minichat", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
    )


def test_ask_with_docs_prints_sources_and_json(notes: Path, tmp_path: Path) -> None:
    env = {"MINICHAT_CACHE_DIR": str(tmp_path / "cache"), "MINICHAT_DATA_DIR": str(tmp_path)}
    result = minichat("ask", "-m", "echo", "--docs", str(notes), "the relay port?", env=env)
    assert result.returncode == 0, result.stderr
    assert "48213" in result.stdout
    assert "\nSources:\n[1] relay.md:3 (Brisk relay)\n" in result.stdout
    result = minichat("ask", "-m", "echo", "--docs", str(notes), "--json", "port?", env=env)
    data = json.loads(result.stdout)
    first = data["sources"][0]
    assert first["path"] == str(notes / "relay.md") and (first["start"], first["end"]) == (3, 3)
    assert first["score"] > 0 and data["sources_left_out"] == 0
    result = minichat("ask", "-m", "echo", "--docs", "nothing-here", "q", env=env)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "neither a collection nor a file or folder" in result.stderr


def test_the_docs_commands(notes: Path, tmp_path: Path) -> None:
    env = {"MINICHAT_CACHE_DIR": str(tmp_path / "cache"), "MINICHAT_DATA_DIR": str(tmp_path)}
    added = minichat("docs", "add", "notes", str(notes), env=env)
    assert added.returncode == 0, added.stderr
    assert "notes: 3 files, 4 chunks: embedded 4 chunks from 3 new or changed" in added.stdout
    again = minichat("docs", "update", "notes", env=env)
    assert "no file changed" in again.stdout
    listed = json.loads(minichat("docs", "ls", "--json", env=env).stdout)
    assert [(c["name"], c["files"], c["chunks"]) for c in listed] == [("notes", 3, 4)]
    found = json.loads(minichat("docs", "search", "notes", "pear trees", "--json", env=env).stdout)
    assert found[0]["path"].endswith("garden.txt") and len(found) == 4
    gone = minichat("docs", "rm", "notes", env=env)
    assert gone.returncode == 0
    missing = minichat("docs", "search", "notes", "x", env=env)
    assert missing.returncode == 1 and "neither a collection" in missing.stderr
    bad = minichat("docs", "add", "bad/name", str(notes), env=env)
    assert bad.returncode == 1 and "not a collection name" in bad.stderr


def test_the_server_embeds_with_the_official_client(notes: Path) -> None:
    import openai

    from tests.test_server import serving

    with serving(load_backend("echo")) as url:
        client = openai.OpenAI(base_url=url, api_key="none")
        floats = client.embeddings.create(
            model="all-MiniLM-L6-v2", input=["a cat", "a feline"], encoding_format="float"
        )
        packed = client.embeddings.create(model="all-MiniLM-L6-v2", input="a cat")  # base64
        assert len(floats.data) == 2 and len(floats.data[0].embedding) == 384
        assert np.allclose(floats.data[0].embedding, packed.data[0].embedding, atol=1e-6)
        counted = embedder().count_tokens("a cat") + embedder().count_tokens("a feline")
        assert floats.usage.prompt_tokens == counted
        with pytest.raises(openai.BadRequestError, match="reads at most 256"):
            client.embeddings.create(model="all-MiniLM-L6-v2", input="word " * 600)
        with pytest.raises(openai.BadRequestError, match="an empty string"):
            client.embeddings.create(model="all-MiniLM-L6-v2", input=[""])
        with pytest.raises(openai.BadRequestError, match="at most 2048"):
            client.embeddings.create(model="all-MiniLM-L6-v2", input=["x"] * 2049)
        with pytest.raises(openai.BadRequestError, match="unknown embedding model"):
            client.embeddings.create(model="ada", input="x")
        ids = [m.id for m in client.models.list().data]
        assert "all-MiniLM-L6-v2" in ids


class Adapted(EchoBackend):
    """The default model's name with an adapter, repeating what it reads."""

    def __init__(self, adapter: str | None):
        super().__init__()
        self.model_id, self.adapter = "smollm2", adapter

    @property
    def supports_tools(self) -> bool:
        return True


@pytest.mark.parametrize("both", ["smollm2-both", None])
def test_documents_bring_the_models_grounding_adapter_and_take_it_away(
    notes: Path, monkeypatch: pytest.MonkeyPatch, both: str | None
) -> None:
    """With --adapter auto, documents on load the model's grounding adapter; tools on
    as well load the one made for both (else the tool adapter: a call must be right);
    each off takes its part away."""
    from minichat import catalog as registry

    monkeypatch.setattr(registry, "DOCS_ADAPTERS", {"smollm2": "smollm2-docs"})
    monkeypatch.setattr(registry, "BOTH_ADAPTERS", {"smollm2": both} if both else {})
    shipped = ["smollm2-tools", "smollm2-docs", *([both] if both else [])]
    monkeypatch.setattr(registry, "shipped_adapters", lambda: shipped)
    loads: list[str | None] = []

    def load(name: str, adapter: str | None = None) -> Adapted:
        loads.append(adapter)
        return Adapted(adapter)

    chat = ChatSession.start(Adapted(None), load_settings({}, environ={}), load)
    chat.use_documents(str(notes))
    assert chat.backend.adapter == "smollm2-docs"
    assert "48213" in chat.send("What is the relay's port?").reply  # it reads as before
    chat.use_tools(["calculator"])
    assert chat.backend.adapter == (both or "smollm2-tools")
    chat.use_tools(None)
    assert chat.backend.adapter == "smollm2-docs"
    chat.use_documents(None)
    assert chat.backend.adapter is None
    assert len(chat.conversation.messages) == 2  # the chat went on throughout
    chat.use_adapter("off")
    chat.use_documents(str(notes))
    assert chat.backend.adapter is None and loads[-1] is None  # off stays off


def test_a_chat_that_cannot_load_keeps_its_model_with_documents(notes: Path) -> None:
    chat = ChatSession.start(Adapted(None), load_settings({}, environ={}))  # no loader
    chat.use_documents(str(notes))
    assert chat.backend.adapter is None and chat.documents is not None


class Described(EchoBackend):
    """Echo that calls no tool but reads their description, as a local model does: the
    prompt it is sent must fit with it."""

    def generate_with_tools(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event,
        tools: Tools,
    ) -> Generator[str, None, Outcome]:  # fmt: skip
        prompt = self.count_tokens_with_tools(messages, tools)
        ensure_fits(prompt, config.max_new_tokens, self.context_length)
        yield "read"
        return Outcome("end_turn", prompt, 1)


def test_a_first_turn_with_documents_and_tools_counts_the_tools(notes: Path) -> None:
    """The passages were fitted as if the tools' description took no room, so a first turn
    with both could be sent a prompt longer than the context."""
    roomy = ChatSession.start(Described(), load_settings({"max_new_tokens": "16"}, environ={}))
    roomy.use_documents(str(notes))
    roomy.use_tools(["calculator"])
    tools = roomy.toolbox.offer(0)  # type: ignore[union-attr]
    everything = roomy.send("What is the cat called?")
    assert everything.sources_left_out == 0 and len(everything.sources) == 4
    with_tools = roomy.backend.count_tokens_with_tools(everything.fitted.messages, tools)
    described = with_tools - roomy.backend.count_tokens(everything.fitted.messages)
    # room for all the passages, but not for them and the tools' description
    context = with_tools + 16 - described // 2
    chat = ChatSession.start(
        Described(context_length=context), load_settings({"max_new_tokens": "16"}, environ={})
    )
    chat.use_documents(str(notes))
    chat.use_tools(["calculator"])
    exchange = chat.send("What is the cat called?")
    assert exchange.reply == "read" and exchange.sources_left_out > 0
    sent = chat.backend.count_tokens_with_tools(exchange.fitted.messages, tools)
    assert exchange.fitted.prompt_tokens == sent <= context - 16


def test_a_turn_yields_its_events_in_order(notes: Path) -> None:
    """Sources, the text, each call's result, the next round's text, notices, Done: what
    every surface shows, sends or keeps."""
    from minichat.chat import events
    from minichat.tools.builtin import builtin
    from tests.test_tools_calls import Caller, chat_with

    backend = Caller([[("calculator", {"expression": "6*7"})], "It is 42."])
    chat = chat_with(backend, builtin(["calculator"]))
    chat.use_documents(str(notes))
    seen = list(chat.turn("What is six times seven?"))
    kinds = [type(event).__name__ for event in seen]
    assert kinds == ["Sources", "ToolResult", "Text", "Done"], kinds
    sources, ran, text, done = seen
    assert isinstance(sources, events.Sources) and len(sources.hits) == 4
    assert sources.labels[0].startswith("[1] ") and sources.left_out == 0
    assert isinstance(ran, events.ToolResult) and ran.ran.result == "42"
    assert isinstance(text, events.Text) and text.text == "It is 42."
    assert isinstance(done, events.Done) and done.exchange.reply == "It is 42."
    assert done.exchange.tools_ran == [ran.ran] and chat.last is done.exchange


def test_a_turn_closed_before_its_end_leaves_the_chat_as_it_was(notes: Path) -> None:
    chat = session()
    chat.send("first")
    before = list(chat.conversation.messages)
    turn = chat.turn("second question here")
    assert type(next(turn)).__name__ == "Text"
    turn.close()  # the reader went away without asking the reply to stop
    assert chat.conversation.messages == before and chat.totals.turns == 1
    chat.send("third")  # and the chat goes on
    assert chat.conversation.messages[-1].content == "You said: third"


def test_a_call_that_changes_things_runs_only_when_the_turn_approves_it() -> None:
    from minichat.chat.events import finish
    from minichat.tools.base import ToolFunction
    from minichat.tools.spec import Tool
    from tests.test_tools_calls import Caller, chat_with

    painted: list[str] = []
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    paint = ToolFunction(
        Tool("paint", "Paint the wall.", schema), lambda args: painted.append("wall") or "done",
        changes=True,
    )  # fmt: skip
    for approve, runs in [(None, False), (lambda call: False, False), (lambda call: True, True)]:
        chat = chat_with(Caller([[("paint", {})], "ok"]), [paint])
        exchange = finish(chat.turn("paint it", approve=approve))  # type: ignore[arg-type]
        assert bool(painted) == runs, exchange.tools_ran
        assert exchange.tools_ran[0].failed != runs
        painted.clear()
