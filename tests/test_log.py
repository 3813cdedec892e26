"""The chat log: every exchange kept in SQLite by the chat core, searched and shown by
``minichat logs``, continued with ``--continue``; several writers at once, a locked
database and a damaged one lose no reply."""

from __future__ import annotations

import io
import json
import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest
from rich.console import Console

from minichat import GenerationConfig
from minichat.backends.echo import EchoBackend
from minichat.chat import transcript
from minichat.chat.events import Done, Notice
from minichat.chat.session import ChatSession
from minichat.errors import ConfigError
from minichat.log import store
from minichat.log.store import ChatLog, LogError, Record
from minichat.settings.layered import load_settings
from tests.test_cli import assert_one_error_line, minichat
from tests.test_tools_calls import CALC, Caller, chat_with


def record(prompt: str = "hi", **changes: object) -> Record:
    values: dict[str, object] = {
        "model": "echo",
        "adapter": None,
        "system": None,
        "settings": GenerationConfig().to_dict(),
        "surface": "test",
        "prompt": prompt,
        "reply": f"You said: {prompt}",
        "finish": "end_turn",
        "cut_off": False,
        "prompt_tokens": 5,
        "new_tokens": 4,
        "first_token_s": 0.01,
        "total_s": 0.02,
        "messages": [{"role": "user", "content": prompt}],
    }
    values.update(changes)
    return Record(**values)  # type: ignore[arg-type]


def session(log: ChatLog) -> ChatSession:
    chat = ChatSession.start(EchoBackend(), load_settings({}, environ={}))
    chat.keep_log(log, "test")
    return chat


def test_the_store_keeps_searches_filters_and_removes(tmp_path: Path) -> None:
    log = ChatLog(tmp_path / "logs.db")
    log.record("a1", record("the relay port is 48213"))
    log.record("a1", record("and the cat?", tools=[{"name": "calculator", "result": "4"}]))
    log.record("b2", record("pear trees", model="other", docs="notes"))
    rows = log.conversations()
    assert [(r["id"], r["exchanges"]) for r in rows] == [("b2", 1), ("a1", 2)]
    assert rows[1]["first"] == "the relay port is 48213"
    [hit] = log.conversations(query="relay port")
    assert hit["id"] == "a1" and "[relay] [port]" in hit["snippet"]
    assert log.conversations(query='"port" OR *') == []  # words, never FTS5's syntax
    assert [r["id"] for r in log.conversations(model="other")] == ["b2"]
    assert [r["id"] for r in log.conversations(tool="calculator")] == ["a1"]
    assert [r["id"] for r in log.conversations(docs="notes")] == ["b2"]
    assert log.conversations(since="2999-01-01") == []
    assert log.find("a") == "a1" and log.latest() == "b2"
    with pytest.raises(LogError, match="no logged conversation has an id starting 'zz'"):
        log.find("zz")
    assert log.remove("a1") == 1
    assert log.conversations(query="relay") == []  # the search index follows
    assert log.remove_before("2999-01-01") == 1 and log.conversations() == []


def test_every_turn_is_logged_by_the_chat_core(tmp_path: Path) -> None:
    log = ChatLog(tmp_path / "logs.db")
    chat = session(log)
    chat.set_system("Be brief.", "/system")
    chat.send("first")
    chat.send("second")
    first = chat.log_id
    kept = log.conversation(first or "")
    assert [e["prompt"] for e in kept["exchanges"]] == ["first", "second"]
    assert kept["system"] == "Be brief." and kept["surface"] == "test"
    assert [m["role"] for m in kept["messages"]] == ["user", "assistant"] * 2
    assert kept["exchanges"][0]["new_tokens"] > 0 and kept["exchanges"][0]["total_s"] > 0
    chat.clear()
    chat.send("third")
    assert chat.log_id != first and len(log.conversations()) == 2


def test_a_reply_cut_by_ctrl_c_is_logged_as_cut(tmp_path: Path) -> None:
    log = ChatLog(tmp_path / "logs.db")
    chat = session(log)
    stop = threading.Event()
    stop.set()  # before the first token
    exchange = chat.send("stop at once", cancel=stop)
    assert exchange.cut_off
    [row] = log.conversation(chat.log_id or "")["exchanges"]
    assert (row["cut_off"], row["finish"]) == (1, "cancelled")


def test_calls_and_sources_are_logged(tmp_path: Path) -> None:
    log = ChatLog(tmp_path / "logs.db")
    backend = Caller([[("calculator", {"expression": "6*7"})], "It is 42."])
    chat = chat_with(backend, [CALC], choice="required")
    chat.keep_log(log, "test")
    chat.send("6 times 7?")
    [row] = log.conversation(chat.log_id or "")["exchanges"]
    assert [(t["name"], t["result"]) for t in row["tools"]] == [("calculator", "42")]
    assert row["reply"] == "It is 42."


def test_continue_brings_back_the_conversation_as_it_was(tmp_path: Path) -> None:
    log = ChatLog(tmp_path / "logs.db")
    chat = session(log)
    chat.set_system("Be brief.", "/system")
    chat.set_parameters("/temp", temperature=0.2)
    chat.send("remember 48213")
    other = session(log)
    found = other.continue_logged("latest")
    assert found == chat.log_id
    assert other.conversation.system == "Be brief." and other.config.temperature == 0.2
    assert other.conversation.messages[0].content == "remember 48213"
    other.send("and now?")  # the same conversation goes on
    assert len(log.conversation(found)["exchanges"]) == 2
    with pytest.raises(ConfigError, match="chat log is off"):
        ChatSession.start(EchoBackend(), load_settings({}, environ={})).continue_logged("latest")


def _write(path: str, worker: int, count: int) -> None:
    log = ChatLog(Path(path))
    for n in range(count):
        log.record(f"w{worker}", record(f"worker {worker} message {n}"))


def test_several_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "logs.db")
    ChatLog(Path(path)).conversations()  # made once, as the first minichat would
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write, args=(path, w, 25)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM exchanges").fetchone()[0] == 100
        assert db.execute("SELECT count(*) FROM conversations").fetchone()[0] == 4


def test_a_locked_log_loses_the_line_never_the_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "BUSY_MS", 100)
    log = ChatLog(tmp_path / "logs.db")
    log.conversations()
    holder = sqlite3.connect(tmp_path / "logs.db")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        events = list(session(log).turn("still answered?"))
    finally:
        holder.rollback()
        holder.close()
    done = events[-1]
    assert isinstance(done, Done) and done.exchange.reply == "You said: still answered?"
    [notice] = [e for e in events if isinstance(e, Notice)]
    assert "the chat log is busy" in notice.text and "this exchange was not logged" in notice.text


def test_a_damaged_log_is_set_aside_and_a_new_one_started(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    path.write_bytes(b"this is no database" * 100)
    events = list(session(ChatLog(path)).turn("hello"))
    [notice] = [e for e in events if isinstance(e, Notice)]
    assert "could not be read" in notice.text and "set aside as" in notice.text
    [aside] = list(tmp_path.glob("logs.db.damaged-*"))
    assert aside.read_bytes().startswith(b"this is no database")  # kept, never deleted
    assert ChatLog(path).conversations()[0]["first"] == "hello"


def test_the_repl_lists_and_resumes_logged_chats(tmp_path: Path) -> None:
    from minichat.repl.loop import Repl, line_reader

    log = ChatLog(tmp_path / "logs.db")
    earlier = session(log)
    earlier.send("the cat is Quorvane")
    chat = session(log)
    out = io.StringIO()
    lines = f"/history\n/resume {earlier.log_id}\n/resume nosuch\n"
    Repl(chat, Console(file=out, width=200), plain=True).run(
        line_reader(io.StringIO(lines).readline)
    )
    shown = out.getvalue()
    assert (
        "the cat is Quorvane" in shown
        and f"continued logged conversation {earlier.log_id}" in shown
    )
    assert "no logged conversation has an id starting 'nosuch'" in shown
    assert chat.log_id == earlier.log_id


def test_the_command_line_logs_continues_searches_and_exports(tmp_path: Path) -> None:
    env = {"MINICHAT_DATA_DIR": str(tmp_path)}
    assert minichat("ask", "-m", "echo", "the relay port is 48213", env=env).returncode == 0
    continued = minichat("ask", "-m", "echo", "--continue", "and then?", env=env)
    assert continued.returncode == 0, continued.stderr
    assert minichat("ask", "-m", "echo", "--no-log", "not kept", env=env).returncode == 0
    assert (
        minichat(
            "ask", "-m", "echo", "not kept either", env={**env, "MINICHAT_LOG": "0"}
        ).returncode
        == 0
    )
    listed = json.loads(minichat("logs", "--json", env=env).stdout)
    assert [r["exchanges"] for r in listed] == [2]
    cid = listed[0]["id"]
    found = minichat("logs", "-q", "relay", env=env).stdout
    assert cid in found and "[relay]" in found
    exported_md = minichat("logs", "--markdown", env=env).stdout
    assert exported_md.startswith(f"# Conversation {cid}") and "and then?" in exported_md
    shown = minichat("logs", "show", cid[:15], env=env).stdout
    assert "the relay port is 48213" in shown and "and then?" in shown
    exported = tmp_path / "chat.json"
    exported.write_text(minichat("logs", "show", cid, "--json", env=env).stdout)
    loaded = transcript.load(exported)  # the /save format: /load and --resume read it
    assert [m.content for m in loaded.messages][-1] == "You said: and then?"
    assert "1 conversation(s), 2 exchange(s)" in minichat("logs", "status", env=env).stdout
    assert "is off" in minichat("logs", "off", env=env).stdout
    minichat("ask", "-m", "echo", "while off", env=env)
    assert json.loads(minichat("logs", "--json", env=env).stdout)[0]["exchanges"] == 2
    minichat("logs", "on", env=env)
    assert "removed 1" in minichat("logs", "rm", cid, env=env).stdout
    assert_one_error_line(minichat("logs", "--since", "yesterday-ish", env=env), "is no time")
    assert_one_error_line(minichat("logs", "show", "nosuch", env=env), "no logged conversation")


def test_the_server_logs_only_with_log(tmp_path: Path) -> None:
    import openai

    from tests.test_server import serving

    log = ChatLog(tmp_path / "logs.db")
    ask = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "served?"}]
    with serving(EchoBackend()) as url:
        openai.OpenAI(base_url=url, api_key="-").chat.completions.create(model="echo", messages=ask)  # type: ignore[arg-type]
    assert not (tmp_path / "logs.db").exists()
    with serving(EchoBackend(), log=log) as url:
        client = openai.OpenAI(base_url=url, api_key="-")
        client.chat.completions.create(model="echo", messages=ask)  # type: ignore[arg-type]
        streamed = client.chat.completions.create(model="echo", messages=ask, stream=True)  # type: ignore[arg-type]
        "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    rows = log.conversations()
    assert len(rows) == 2 and all(r["surface"] == "serve" for r in rows)
    kept = log.conversation(rows[0]["id"])
    assert kept["system"] == "Be brief." and kept["exchanges"][0]["prompt"] == "served?"


def test_the_web_page_logs_through_the_chat_core(tmp_path: Path) -> None:
    from minichat.web.handlers import WebChat

    log = ChatLog(tmp_path / "logs.db")
    chat = ChatSession.start(EchoBackend(), load_settings({}, environ={}))
    chat.keep_log(log, "web")
    list(WebChat(chat).send("from the page"))
    [row] = log.conversations()
    assert (row["surface"], row["first"]) == ("web", "from the page")
