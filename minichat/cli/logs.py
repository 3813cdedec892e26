"""``minichat logs``: the chat log listed, searched, shown, exported, pruned, turned off.

Everything shown is text people and models wrote: printed as plain text with
escape sequences made visible on a terminal (``untrusted``), or as JSON.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import typer

from minichat.errors import MinichatError
from minichat.log.store import OFF_MARKER, ChatLog, logging_off
from minichat.safety.untrusted import one_line, printable, safe_json
from minichat.settings.paths import data_dir

app = typer.Typer(
    help="The chat log: every conversation kept, listed, searched, shown, removed.",
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON")]
RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def when(text: str, flag: str) -> str:
    """A time as the log stores it (UTC, ISO 8601): a date, a date and time, or a span
    back from now (``3d``, ``12h``, ``2w``, ``30m``)."""
    found = RELATIVE.match(text.strip())
    if found:
        back = timedelta(**{UNITS[found.group(2)]: int(found.group(1))})
        moment = datetime.now(timezone.utc) - back
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise MinichatError(
                f"{flag} {text!r} is no time: give a date (2026-12-01), a date and time "
                "(2026-12-01T09:30) or a span back from now (3d, 12h)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.astimezone()  # the user's own clock
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def show(text: str) -> str:
    return printable(text) if sys.stdout.isatty() else text


@app.callback(invoke_without_command=True)
def logs(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("-n", "--count", min=1, help="how many")] = 10,
    query: Annotated[
        str | None, typer.Option("-q", "--query", help="search messages and replies")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="only this model's")] = None,
    since: Annotated[
        str | None, typer.Option(help="only since then: 2026-12-01, 2026-12-01T09:30, 3d, 12h")
    ] = None,
    tool: Annotated[str | None, typer.Option(help="only exchanges that called this tool")] = None,
    docs: Annotated[
        str | None, typer.Option(help="only exchanges that read these documents")
    ] = None,
    as_json: JsonFlag = False,
    as_markdown: Annotated[
        bool, typer.Option("--markdown", help="each conversation listed, in full, as Markdown")
    ] = False,
) -> None:
    """The newest conversations, or with -q the exchanges that best match."""
    if ctx.invoked_subcommand is not None:
        return
    log = ChatLog()
    rows = log.conversations(
        count,
        query=query,
        model=model,
        since=when(since, "--since") if since else None,
        tool=tool,
        docs=docs,
    )
    if as_json:
        print(safe_json(rows, indent=2))
        return
    if as_markdown:  # an export: every conversation found, whole, oldest first
        for cid in dict.fromkeys(row["id"] for row in reversed(rows)):
            print(show(markdown(log.conversation(cid))))
        return
    if not rows:
        off = logging_off()
        print("nothing logged yet" + (f" (logging is off: {off})" if off else ""))
        return
    for row in rows:
        if query:
            line = (
                f"{row['id']}  {row['time'][:16]}  {row['model']}  {one_line(row['snippet'], 120)}"
            )
        else:
            first = one_line(row["first"] or "", 60)
            line = (
                f"{row['id']}  {row['updated'][:16]}  {row['model']}  "
                f"{row['exchanges']} exchange(s)  {first}"
            )
        print(show(line))


@app.command("show")
def show_one(
    cid: Annotated[str, typer.Argument(metavar="ID", help="an id, or its start")],
    as_json: Annotated[
        bool, typer.Option("--json", help="the /save format: /load and --resume read it")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="with every exchange's numbers")] = False,
) -> None:
    """One conversation, as Markdown (or JSON)."""
    log = ChatLog()
    kept = log.conversation(log.find(cid))
    if as_json:
        data = {
            "format": "minichat-chat",
            "version": 1,
            "model": kept["model"],
            "system": kept["system"],
            "parameters": kept["settings"],
            "messages": kept["messages"],
        }
        if full:
            data["log"] = {k: kept[k] for k in ("id", "started", "updated", "adapter", "surface")}
            data["log"]["exchanges"] = kept["exchanges"]
        print(safe_json(data, indent=2))
        return
    print(show(markdown(kept)))


def markdown(kept: dict[str, Any]) -> str:
    head = [
        f"# Conversation {kept['id']}",
        "",
        f"{kept['model']}"
        + (f", adapter {kept['adapter']}" if kept["adapter"] else "")
        + f" · {kept['surface']} · {kept['started'][:19]} to {kept['updated'][:19]} UTC",
    ]
    if kept["system"]:
        head += ["", f"System: {kept['system']}"]
    parts = ["\n".join(head)]
    for e in kept["exchanges"]:
        block = [f"## {e['time'][:19]} UTC", "", e["prompt"], "", "**Reply:**", "", e["reply"]]
        for ran in e["tools"]:
            arguments = json.dumps(ran.get("arguments"), ensure_ascii=False)
            block.append(
                f"- tool {ran.get('name')}({arguments}) → {one_line(str(ran.get('result')))}"
            )
        for source in e["sources"]:
            block.append(f"- source {source.get('label')}")
        cut = " (cut off)" if e["cut_off"] else ""
        block += [
            "",
            f"_{e['finish']}{cut} · {e['prompt_tokens']} prompt tokens, "
            f"{e['new_tokens']} reply tokens_",
        ]
        parts.append("\n".join(block))
    return "\n\n".join(parts) + "\n"


@app.command("rm")
def remove(
    cid: Annotated[str | None, typer.Argument(metavar="ID", help="an id, or its start")] = None,
    before: Annotated[
        str | None, typer.Option(help="every conversation last touched before then")
    ] = None,
) -> None:
    """Remove one conversation, or every one before a time."""
    log = ChatLog()
    if (cid is None) == (before is None):
        raise MinichatError("give an ID or --before DATE: minichat logs rm ID")
    if cid is not None:
        removed = log.remove(log.find(cid))
    else:
        removed = log.remove_before(when(before or "", "--before"))
    print(f"removed {removed} conversation(s)")


@app.command("off")
def turn_off() -> None:
    """Log nothing from now on (until minichat logs on)."""
    marker = data_dir() / OFF_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    print("the chat log is off: nothing new is kept (minichat logs on turns it back on)")


@app.command("on")
def turn_on() -> None:
    """Log every chat again."""
    (data_dir() / OFF_MARKER).unlink(missing_ok=True)
    off = logging_off()
    print("the chat log is on" + (f", but {off} still keeps it off" if off else ""))


@app.command("status")
def status() -> None:
    """Whether chats are logged, where, and how much is kept."""
    log = ChatLog()
    off = logging_off()
    print(f"the chat log is {'off (' + off + ')' if off else 'on'}: {log.path}")
    if log.path.exists():
        with log.connect() as db:
            conversations = db.execute("SELECT count(*) FROM conversations").fetchone()[0]
            exchanges = db.execute("SELECT count(*) FROM exchanges").fetchone()[0]
        size = log.path.stat().st_size
        print(f"{conversations} conversation(s), {exchanges} exchange(s), {size / 1024:.0f} KiB")
