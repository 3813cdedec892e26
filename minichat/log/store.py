"""Every chat remembered: one SQLite database in the user's data folder.

Each conversation is a row (its model and adapter, system prompt, settings, the
surface it came from, and the messages as they stand, in ``/save``'s format, so
``--continue`` and ``logs show --json`` read it back exactly); each exchange is a
row too (the user's message, the reply, why it ended, its tokens and timings, the
tool calls and the sources), with the message and the reply in an FTS5 index for
``minichat logs -q``. WAL mode, so several minichat processes write at once; a
write waits up to ``BUSY_MS`` for a lock and then gives up in one line, the
reply already shown. A database that cannot be read is set aside, renamed, never
deleted, and a new one started. Writing happens after a reply ends and costs a
few milliseconds (``bench/log.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from minichat.errors import MinichatError
from minichat.settings.paths import data_dir

FILE = "logs.db"
OFF_MARKER = "logs-off"  # in the data folder: `minichat logs off` made it
BUSY_MS = 2000
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    started TEXT NOT NULL,
    updated TEXT NOT NULL,
    model TEXT NOT NULL,
    adapter TEXT,
    system TEXT,
    settings TEXT NOT NULL,
    surface TEXT NOT NULL,
    messages TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    time TEXT NOT NULL,
    model TEXT NOT NULL,
    adapter TEXT,
    prompt TEXT NOT NULL,
    reply TEXT NOT NULL,
    finish TEXT NOT NULL,
    cut_off INTEGER NOT NULL,
    prompt_tokens INTEGER,
    new_tokens INTEGER,
    first_token_s REAL,
    total_s REAL,
    tools TEXT NOT NULL,
    sources TEXT NOT NULL,
    docs TEXT
);
CREATE INDEX IF NOT EXISTS exchanges_conversation ON exchanges(conversation);
CREATE VIRTUAL TABLE IF NOT EXISTS exchanges_fts USING fts5(
    prompt, reply, content='exchanges', content_rowid='id'
);
CREATE TRIGGER IF NOT EXISTS exchanges_ai AFTER INSERT ON exchanges BEGIN
    INSERT INTO exchanges_fts(rowid, prompt, reply) VALUES (new.id, new.prompt, new.reply);
END;
CREATE TRIGGER IF NOT EXISTS exchanges_ad AFTER DELETE ON exchanges BEGIN
    INSERT INTO exchanges_fts(exchanges_fts, rowid, prompt, reply)
    VALUES ('delete', old.id, old.prompt, old.reply);
END;
"""


class LogError(MinichatError):
    """The log could not be written or read; the chat itself goes on."""


@dataclass(frozen=True)
class Record:
    """One exchange as the log keeps it (plain values: the log knows no chat objects)."""

    model: str
    adapter: str | None
    system: str | None
    settings: dict[str, Any]
    surface: str
    prompt: str
    reply: str
    finish: str
    cut_off: bool
    prompt_tokens: int | None
    new_tokens: int | None
    first_token_s: float | None
    total_s: float | None
    messages: list[dict[str, Any]]  # the whole conversation now, in /save's format
    tools: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    docs: str | None = None


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_id() -> str:
    """Sortable by time, unique across processes: 13 hex digits of ms, 6 random."""
    return f"{int(time.time() * 1000):013x}{secrets.token_hex(3)}"


def logging_off() -> str | None:
    """Why nothing is logged (``MINICHAT_LOG=0``, ``minichat logs off``), or None."""
    if os.environ.get("MINICHAT_LOG", "").strip().lower() in ("0", "off", "no", "false"):
        return "MINICHAT_LOG=0"
    if (data_dir() / OFF_MARKER).exists():
        return "minichat logs off"
    return None


class ChatLog:
    """The database at ``path`` (created on first use)."""

    def __init__(self, path: Path | None = None):
        self.path = path or data_dir() / FILE
        self.notices: list[str] = []  # what the user should be told (a database set aside)
        self._made = False  # the tables made (once per ChatLog, not once per exchange)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = self._open()
        except sqlite3.DatabaseError as error:
            if _locked(error):
                raise LogError(f"the chat log is busy ({error})") from None
            self._set_aside(error)
            connection = self._open()
        try:
            with connection:  # one transaction: committed, or rolled back on an error
                yield connection
        except sqlite3.OperationalError as error:
            if _locked(error):
                raise LogError("the chat log is busy (another minichat is writing)") from None
            raise LogError(f"the chat log at {self.path}: {error}") from None
        except sqlite3.DatabaseError as error:
            self._set_aside(error)
            raise LogError(f"the chat log at {self.path} was damaged: {error}") from None
        finally:
            connection.close()

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=BUSY_MS / 1000)
        connection.row_factory = sqlite3.Row
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA foreign_keys = ON")
            if not self._made:
                connection.executescript(SCHEMA)
                self._made = True
            connection.execute("SELECT count(*) FROM conversations").fetchone()
        except BaseException:
            connection.close()
            raise
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)  # the user's words: theirs alone
        return connection

    def _set_aside(self, error: Exception) -> None:
        """Rename a database that cannot be read (never delete it) and say where."""
        self._made = False  # the new file needs its tables
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            found = Path(f"{self.path}{suffix}")
            if found.exists():
                found.rename(Path(f"{aside}{suffix}"))
        self.notices.append(
            f"the chat log could not be read ({error}); it was set aside as {aside} "
            "and a new one started"
        )

    # --- writing -------------------------------------------------------------------------
    def record(self, conversation: str, record: Record) -> int:
        """Keep one exchange of ``conversation`` (made on its first); its row id."""
        stamp = now()
        with self.connect() as db:
            db.execute(
                "INSERT INTO conversations (id, started, updated, model, adapter, system, "
                "settings, surface, messages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET updated = excluded.updated, "
                "model = excluded.model, adapter = excluded.adapter, system = excluded.system, "
                "settings = excluded.settings, messages = excluded.messages",
                (
                    conversation,
                    stamp,
                    stamp,
                    record.model,
                    record.adapter,
                    record.system,
                    json.dumps(record.settings),
                    record.surface,
                    json.dumps(record.messages, ensure_ascii=False),
                ),
            )
            cursor = db.execute(
                "INSERT INTO exchanges (conversation, time, model, adapter, prompt, reply, "
                "finish, cut_off, prompt_tokens, new_tokens, first_token_s, total_s, tools, "
                "sources, docs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation,
                    stamp,
                    record.model,
                    record.adapter,
                    record.prompt,
                    record.reply,
                    record.finish,
                    int(record.cut_off),
                    record.prompt_tokens,
                    record.new_tokens,
                    record.first_token_s,
                    record.total_s,
                    json.dumps(record.tools, ensure_ascii=False),
                    json.dumps(record.sources, ensure_ascii=False),
                    record.docs,
                ),
            )
            return int(cursor.lastrowid or 0)

    # --- reading -------------------------------------------------------------------------
    def conversations(
        self,
        limit: int = 10,
        *,
        query: str | None = None,
        model: str | None = None,
        since: str | None = None,
        tool: str | None = None,
        docs: str | None = None,
    ) -> list[dict[str, Any]]:
        """The newest conversations (or, with ``query``, the best-matching exchanges,
        with a snippet), filtered by model, time, a tool called or documents read."""
        where, values = ["1 = 1"], []
        if model:
            where.append("e.model = ?")
            values.append(model)
        if since:
            where.append("e.time >= ?")
            values.append(since)
        if tool:
            where.append(
                "EXISTS (SELECT 1 FROM json_each(e.tools) WHERE json_extract(value, '$.name') = ?)"
            )
            values.append(tool)
        if docs:
            where.append("e.docs = ?")
            values.append(docs)
        with self.connect() as db:
            if query:
                rows = db.execute(
                    "SELECT e.conversation AS id, e.time, e.model, e.prompt, e.reply, "
                    "snippet(exchanges_fts, -1, '[', ']', '…', 12) AS snippet "
                    "FROM exchanges_fts JOIN exchanges e ON e.id = exchanges_fts.rowid "
                    f"WHERE exchanges_fts MATCH ? AND {' AND '.join(where)} "
                    "ORDER BY bm25(exchanges_fts) LIMIT ?",
                    [_fts_query(query), *values, limit],
                ).fetchall()
            else:
                rows = db.execute(
                    "SELECT c.id, c.started, c.updated, c.model, c.adapter, c.surface, "
                    "count(e.id) AS exchanges, "
                    "(SELECT prompt FROM exchanges WHERE conversation = c.id ORDER BY id "
                    "LIMIT 1) AS first "
                    "FROM conversations c JOIN exchanges e ON e.conversation = c.id "
                    f"WHERE {' AND '.join(where)} GROUP BY c.id ORDER BY c.updated DESC LIMIT ?",
                    [*values, limit],
                ).fetchall()
        return [dict(row) for row in rows]

    def find(self, prefix: str) -> str:
        """The conversation whose id starts with ``prefix`` (``LogError`` if none or two)."""
        with self.connect() as db:
            found = [
                r["id"]
                for r in db.execute(
                    "SELECT id FROM conversations WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
                    (_like(prefix) + "%",),
                )
            ]
        if len(found) != 1:
            which = "no" if not found else "more than one"
            raise LogError(
                f"{which} logged conversation has an id starting {prefix!r}; "
                "`minichat logs` lists them"
            )
        return str(found[0])

    def latest(self) -> str | None:
        with self.connect() as db:
            row = db.execute(
                "SELECT id FROM conversations ORDER BY updated DESC LIMIT 1"
            ).fetchone()
        return None if row is None else str(row["id"])

    def conversation(self, cid: str) -> dict[str, Any]:
        """One conversation: its settings and messages, and its exchanges."""
        with self.connect() as db:
            head = db.execute("SELECT * FROM conversations WHERE id = ?", (cid,)).fetchone()
            if head is None:
                raise LogError(f"no logged conversation {cid!r}; `minichat logs` lists them")
            exchanges = db.execute(
                "SELECT * FROM exchanges WHERE conversation = ? ORDER BY id", (cid,)
            ).fetchall()
        out = dict(head)
        out["settings"] = json.loads(out["settings"])
        out["messages"] = json.loads(out["messages"])
        out["exchanges"] = [
            {**dict(e), "tools": json.loads(e["tools"]), "sources": json.loads(e["sources"])}
            for e in exchanges
        ]
        return out

    # --- removing ------------------------------------------------------------------------
    def remove(self, cid: str) -> int:
        with self.connect() as db:
            return db.execute("DELETE FROM conversations WHERE id = ?", (cid,)).rowcount

    def remove_before(self, stamp: str) -> int:
        with self.connect() as db:
            return db.execute("DELETE FROM conversations WHERE updated < ?", (stamp,)).rowcount


def _locked(error: Exception) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_query(text: str) -> str:
    """The user's words as FTS5 terms, each quoted: a search, never FTS5's syntax."""
    words = [w.replace('"', '""') for w in text.split()]
    if not words:
        raise LogError("give words to search for: minichat logs -q 'relay port'")
    return " ".join(f'"{w}"' for w in words)
