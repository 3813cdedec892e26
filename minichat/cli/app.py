"""The ``minichat`` command and its subcommands.

``minichat`` alone chats when stdin is a terminal and answers stdin otherwise;
``ask`` answers one prompt; ``chat`` opens the chat loop; ``serve`` and ``web``
put a model behind an HTTP API and a browser page; ``models`` and
``config`` show what is available and what is in effect. User errors print one
line on stderr and exit 1; a bad flag is Click's usage error (exit 2).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from minichat.backend import ChatBackend
from minichat.cli import docs, finetune, logs, oneshot, train
from minichat.cli.extras import CHAT, OUTPUT, Extras, Output
from minichat.cli.options import SETTINGS, with_options, with_settings
from minichat.errors import MinichatError
from minichat.safety.untrusted import printable
from minichat.settings.layered import KEYS, SECRET_KEYS, Settings
from minichat.tools.base import ToolFunction

app = typer.Typer(
    name="minichat",
    help="Chat with local language models in the terminal.",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

HostOption = Annotated[str, typer.Option(help="address to listen on")]


PortOption = Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")]


def load(settings: Settings, tools: bool = False, docs: bool = False) -> tuple[ChatBackend, float]:
    """The settings' model, with the adapter they name (where the adapter setting is
    auto: the model's own for ``tools``, for ``docs`` or for both)."""
    from minichat.chat.session import adapter_for

    start = time.perf_counter()
    adapter = adapter_for(settings.adapter, tools=tools, docs=docs, model=settings.model)
    backend = loader(settings)(settings.model, adapter)
    return backend, time.perf_counter() - start


def loader(settings: Settings) -> Callable[[str, str | None], ChatBackend]:
    """Load a model by name, with an adapter or none, with the device, dtype, engine,
    quantization and key the settings give."""
    from minichat.catalog import load_backend

    return lambda name, adapter: load_backend(
        name,
        device=settings.device,
        dtype=settings.dtype,
        api_key=settings.openai_api_key,
        engine=settings.engine,
        quant=settings.quant,
        compile=settings.compile,
        adapter=adapter,
    )


@app.callback(invoke_without_command=True)
@with_options(settings=SETTINGS, extras=CHAT, output=OUTPUT)
def root(ctx: typer.Context, *, settings: Settings, extras: Extras, output: Output) -> None:
    """Chat when run in a terminal; answer stdin when it is piped in."""
    command = ctx.invoked_subcommand
    one_shot = command == "ask" or (command is None and not sys.stdin.isatty())
    if (output.as_json or output.verbose) and not one_shot:
        raise MinichatError(
            "--json and -v go with one-shot answers (minichat ask, or a prompt piped in); "
            "in the chat, /stats shows the numbers"
        )
    if extras.documents and command not in (None, "ask", "chat", "web"):
        raise MinichatError("--docs goes with a chat: minichat [ask|chat|web] --docs NAME")
    if extras.tools and command not in (None, "ask", "chat", "web"):
        raise MinichatError("--tools goes with a chat: minichat [ask|chat|web] --tools NAME,...")
    if extras.functions and command not in (None, "ask", "chat"):
        raise MinichatError("--functions goes with a chat: minichat [ask|chat] --functions FILE")
    if extras.mcp and command not in (None, "ask", "chat", "web"):
        raise MinichatError("--mcp goes with a chat: minichat [ask|chat|web] --mcp NAME")
    if extras.shape and command not in (None, "ask", "chat"):
        raise MinichatError("--schema goes with a chat: minichat [ask|chat] --schema SCHEMA")
    if command is not None:
        return
    if sys.stdin.isatty():
        _chat(settings, extras=extras)
    else:
        prompt = oneshot.read_prompt(sys.stdin.buffer)
        _answer(settings, prompt, output=output, extras=extras)


@app.command()
@with_options(settings=SETTINGS, extras=CHAT, output=OUTPUT)
def ask(
    prompt: Annotated[
        str | None, typer.Argument(help="the prompt; omit it or give - to read stdin")
    ] = None,
    *,
    settings: Settings,
    extras: Extras,
    output: Output,
) -> None:
    """Answer one prompt and exit."""
    if prompt is None or prompt == "-":
        text = oneshot.read_prompt(sys.stdin.buffer)
    else:
        text = oneshot.check_prompt(prompt)
    _answer(settings, text, output=output, extras=extras)


@app.command()
@with_options(settings=SETTINGS, extras=CHAT)
def chat(
    plain: Annotated[bool, typer.Option("--plain", help="raw text instead of Markdown")] = False,
    no_history: Annotated[
        bool, typer.Option("--no-history", help="keep no input history on disk")
    ] = False,
    resume: Annotated[
        Path | None, typer.Option(metavar="FILE", help="continue a chat saved with /save")
    ] = None,
    *,
    settings: Settings,
    extras: Extras,
) -> None:
    """Chat, keeping the conversation, until /exit or Ctrl+D; /help lists commands."""
    _chat(settings, plain=plain, history=not no_history, resume=resume, extras=extras)


@app.command()
@with_settings
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    queue: Annotated[
        int, typer.Option(metavar="N", help="requests that may wait; more get 503")
    ] = 16,
    api_key: Annotated[
        str | None,
        typer.Option(
            metavar="KEY",
            envvar="MINICHAT_API_KEY",
            help="require Authorization: Bearer KEY (env MINICHAT_API_KEY)",
        ),
    ] = None,
    max_request_bytes: Annotated[
        int,
        typer.Option(
            metavar="N",
            min=1024,
            envvar="MINICHAT_MAX_REQUEST_BYTES",
            help="refuse request bodies larger than N bytes, unread (413); "
            "env MINICHAT_MAX_REQUEST_BYTES",
        ),
    ] = 4 * 2**20,
    mcp: Annotated[
        list[str] | None,
        typer.Option(
            "--mcp",
            metavar="NAME|'CMD ARGS'",
            help="offer an MCP server's tools to every request's model, run here (repeatable)",
        ),
    ] = None,
    keep_log: Annotated[
        bool,
        typer.Option("--log", help="keep every request and reply in the chat log (else none)"),
    ] = False,
    *,
    settings: Settings,
) -> None:
    """Serve the model over the OpenAI chat-completions API (/v1/chat/completions)."""
    import uvicorn

    from minichat.chat.servers import Servers
    from minichat.chat.session import adapter_for
    from minichat.log.store import ChatLog
    from minichat.server.app import create_app

    if queue < 0:
        raise MinichatError("--queue must be 0 or more")
    servers = Servers.from_config(settings.mcp_servers)
    served: list[ToolFunction] = []
    for given in mcp or []:  # started before the model loads: a bad one costs no load
        served += servers.start(given, [f.name for f in served])[1]
    backend, _ = load(settings, tools=bool(served))
    if served and not backend.supports_tools:
        raise backend.no_tools()
    tool_adapter = adapter_for(settings.adapter, tools=True, model=settings.model)
    for_tools = tool_adapter is not None and tool_adapter != backend.adapter
    server_app = create_app(
        backend,
        settings.generation_for(backend.context_length),
        api_key=api_key,
        queue_limit=queue,
        max_request_bytes=max_request_bytes,
        served_tools=served,
        log=ChatLog() if keep_log else None,
        tool_model=(lambda: load(settings, tools=True)[0]) if for_tools else None,
    )
    print(f"minichat: serving {backend.describe()} on http://{host}:{port}/v1", file=sys.stderr)
    if for_tools:
        said = f"minichat: requests that offer tools get the {tool_adapter} adapter"
        print(said, file=sys.stderr)
    if served:
        names = ", ".join(f.name for f in served)
        print(f"minichat: every request's model may call, run here: {names}", file=sys.stderr)
    if api_key is None and not is_loopback(host):
        print(
            f"minichat: warning: no --api-key, and {host} is reachable from other machines: "
            "anyone who reaches the port can use the model",
            file=sys.stderr,
        )
    uvicorn.run(server_app, host=host, port=port, log_level="warning")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine alone."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False


@app.command()
@with_options(
    settings=SETTINGS, extras=CHAT.only("documents", "tools", "tool_choice", "mcp", "no_log")
)
def web(
    host: HostOption = "127.0.0.1",
    port: PortOption = 7860,
    share: Annotated[
        bool, typer.Option("--share", help="also publish a public gradio.live link")
    ] = False,
    *,
    settings: Settings,
    extras: Extras,
) -> None:
    """Chat in the browser: a local web page over the same models and settings."""
    from minichat.web import require_gradio

    require_gradio()  # before a model loads for nothing
    from minichat.chat.session import ChatSession
    from minichat.web.app import serve
    from minichat.web.handlers import WebChat

    extras.check()
    backend, _ = load(settings, tools=extras.tools_on, docs=bool(extras.documents))
    session = ChatSession.start(backend, settings, load_model=loader(settings))
    extras.apply(session, "web")
    # a page others can reach picks only named collections, never a path on this machine
    local = is_loopback(host) and not share
    serve(WebChat(session, pick_paths=local), host=host, port=port, share=share)


@app.command("mcp")
@with_options(settings=SETTINGS)
def mcp_server(
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="serve over streamable HTTP on this port (else stdio)"),
    ] = None,
    host: HostOption = "127.0.0.1",
    *,
    settings: Settings,
) -> None:
    """Serve your document collections to MCP clients: list_collections, search_docs, ask."""
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise MinichatError(
            "minichat mcp needs the mcp package: pip install 'minichat[mcp]'"
        ) from None
    host = host.strip("[]")
    # these three only: the SDK guards them against DNS rebinding (a web page's script
    # reaching the port through a name it controls), not other loopback addresses
    if port is not None and host not in ("127.0.0.1", "localhost", "::1"):
        raise MinichatError(
            f"minichat mcp serves your files to whoever reaches it, so it listens on this "
            f"machine only: use --host 127.0.0.1, localhost or ::1, not {host}"
        )
    from minichat.server.mcp import Library, serve

    if port is not None:
        shown = f"[{host}]" if ":" in host else host
        print(f"minichat: MCP on http://{shown}:{port}/mcp", file=sys.stderr)
    serve(Library(lambda: load(settings, docs=True)[0]), port=port, host=host)


@app.command()
def models() -> None:
    """List the models and backends minichat can use."""
    from rich.console import Console
    from rich.table import Table

    from minichat.catalog import list_models
    from minichat.loading.choices import DEFAULT_MODEL

    table = Table("model", "backend", "description", "available", box=None)
    for info in list_models():
        name = f"{info.name} (default)" if info.name == DEFAULT_MODEL else info.name
        status = "yes" if info.available else f"no: {info.note}"
        table.add_row(name, info.backend, info.description, status)
    Console().print(table)


app.command("train")(train.train)
app.command("finetune")(finetune.finetune)
app.add_typer(docs.app, name="docs")
app.add_typer(logs.app, name="logs")


@app.command("config")
@with_settings
def show_config(*, settings: Settings) -> None:
    """Show the effective settings and where each one came from."""
    from rich.console import Console
    from rich.table import Table

    from minichat.settings.layered import default_config_file

    table = Table("setting", "value", "from", box=None)
    for key in KEYS:
        value = settings.value(key)
        shown = "'***'" if key in SECRET_KEYS and value else repr(value)
        table.add_row(key, shown, settings.sources[key])
    console = Console()
    console.print(table)
    file = settings.config_file or default_config_file()
    console.print(f"config file: {file}{'' if file.is_file() else ' (none there)'}")
    from rich.text import Text

    from minichat.tools.mcp import declared

    for name, spec in declared(settings.mcp_servers).items():  # checked here, not only at use
        trusted = " (trusted)" if spec.trusted else ""
        console.print(Text(f"MCP server {name}: {spec.describe()}{trusted}"))


def _answer(settings: Settings, prompt: str, *, output: Output, extras: Extras) -> None:
    from minichat.chat.session import ChatSession

    extras.check()
    backend, seconds = load(settings, tools=extras.tools_on, docs=bool(extras.documents))
    session = ChatSession.start(backend, settings, loader(settings))
    extras.apply(session, "ask")
    code = oneshot.answer(
        session,
        prompt,
        out=sys.stdout,
        err=sys.stderr,
        as_json=output.as_json,
        verbose=output.verbose,
        load_seconds=seconds,
        approve=extras.approver(),
    )
    raise typer.Exit(code)


def _chat(
    settings: Settings,
    *,
    plain: bool = False,
    history: bool = True,
    resume: Path | None = None,
    extras: Extras | None = None,
) -> None:
    from rich.console import Console

    from minichat.chat import transcript
    from minichat.chat.session import ChatSession
    from minichat.repl.loop import Repl, line_reader

    extras = extras or Extras()
    extras.check()
    if resume is not None:
        saved = transcript.load(resume)  # a bad file stops here, before a model loads
        session = ChatSession.resume(settings, loader(settings), saved, f"--resume {resume.name}")
    else:
        backend = load(settings, tools=extras.tools_on, docs=bool(extras.documents))[0]
        session = ChatSession.start(backend, settings, loader(settings))
    extras.apply(session, "chat")
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    repl = Repl(
        session,
        Console(),
        plain=plain or not sys.stdout.isatty(),
        notices=None if interactive else Console(stderr=True),
        approve=extras.approver(),
    )
    repl.banner()
    if resume is not None:
        repl.show_history()
        repl.note(f"resumed {len(session.conversation.messages)} messages from {resume}")
        repl.show_notices()
    elif session.conversation.messages:  # --continue, --cid
        repl.show_history()
        repl.note(f"continued logged conversation {session.log_id}")
        repl.show_notices()
    if sys.stdin.isatty():
        from minichat.repl.prompt import prompt_reader

        repl.run(prompt_reader(session, history=history), banner=False)
    else:
        repl.run(line_reader(sys.stdin.readline), banner=False)
        if repl.errors:
            raise typer.Exit(1)  # a scripted chat that hit errors fails


def main() -> None:
    try:
        app(prog_name="minichat")
    except MinichatError as error:
        print(f"minichat: error: {printable(str(error))}", file=sys.stderr)
        sys.exit(1)
