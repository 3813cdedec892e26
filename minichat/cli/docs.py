"""``minichat docs``: build, list, update, remove and search document collections.

A collection is made once (``docs add NAME PATH...``) and brought up to date with
``docs update NAME``, which re-embeds only the files whose content changed. The
chat reads from one with ``--docs NAME`` (or ``--docs PATH`` for a file or folder
not yet indexed). Embedding shows a Rich progress bar on stderr.

Everything shown comes from files a user may not have written: names, paths and
passages are printed as plain text (never Rich markup) with ``printable``, and JSON
escapes what could act on a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from minichat.repl.render import embedding_progress
from minichat.retrieval.collection import Collection, Report
from minichat.retrieval.search import TOP_K
from minichat.safety.untrusted import one_line, printable, safe_json

app = typer.Typer(
    help="Index files and folders into collections the chat can read from (--docs NAME).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DocsOption = Annotated[
    str | None,
    typer.Option(
        "--docs",
        metavar="NAME|PATH",
        help="answer from a document collection, or a file or folder (indexed on the fly)",
    ),
]
NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="the collection's name")]


def describe(report: Report) -> str:
    changed = (
        f"embedded {report.embedded_chunks} chunks from {report.embedded_files} new or "
        f"changed file(s)"
        if report.embedded_files
        else "no file changed"
    )
    removed = f", removed {report.removed_files} deleted file(s)" if report.removed_files else ""
    return f"{report.files} files, {report.chunks} chunks: {changed}{removed}"


def _warn_skipped(report: Report) -> None:
    from minichat.chat.documents import skipped_notice

    if report.skipped:
        notice = one_line(skipped_notice(report.skipped), limit=2000)
        print(f"minichat: warning: {notice}", file=sys.stderr)


# what JSON leaves as it is but a terminal acts on: DEL, C1 controls, bidirectional
# marks, line separators, and lone surrogates (a file name that is not UTF-8)
def _build(
    collection: Collection, paths: list[Path] | None, rebuild: bool = False, add: bool = False
) -> None:
    from minichat.retrieval.embedder import shared as embedder

    with embedding_progress(printable(collection.name)) as progress:
        report = collection.build(paths, embedder(), progress, rebuild=rebuild, add=add)
    _warn_skipped(report)
    print(f"{collection.name}: {describe(report)}")


@app.command()
def add(
    name: NameArgument,
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH...", help="files and folders to index")
    ],
) -> None:
    """Make a collection from files and folders (or add paths to one)."""
    _build(Collection.named(name), paths, add=True)


@app.command()
def update(
    name: NameArgument,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="re-read and re-embed every file")
    ] = False,
) -> None:
    """Re-read a collection's paths: only new or changed files are embedded again."""
    _build(Collection.named(name), None, rebuild)


@app.command("ls")
def list_collections(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the collections."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from minichat.errors import CollectionError

    rows = []
    for collection in Collection.all():
        try:
            rows.append(collection.summary())
        except CollectionError as error:
            rows.append({"name": collection.name, "error": str(error)})
    if as_json:
        print(safe_json(rows, indent=1))
        return
    if not rows:
        print("no collections yet; make one: minichat docs add NAME PATH...")
        return
    table = Table("name", "files", "chunks", "updated", "paths", box=None)
    for row in rows:
        name = Text(printable(row["name"]))
        if "error" in row:
            table.add_row(name, "", "", "", Text(printable(row["error"]), "red"))
        else:
            paths = Text(printable(", ".join(row["paths"])), overflow="fold")  # never cut
            table.add_row(name, str(row["files"]), str(row["chunks"]), row["updated"], paths)
    Console().print(table)


@app.command("rm")
def remove(name: NameArgument) -> None:
    """Remove a collection (the files it indexed are not touched)."""
    Collection.named(name).remove()
    print(f"removed the collection {name}")


@app.command()
def search(
    name: Annotated[str, typer.Argument(metavar="NAME|PATH", help="a collection, file or folder")],
    query: Annotated[str, typer.Argument(help="what to look for")],
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="passages to show")] = TOP_K,
    mode: Annotated[
        str, typer.Option(help="fused (default), bm25 or dense", metavar="MODE")
    ] = "fused",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show the passages a question would retrieve, best first."""
    from minichat.chat.documents import open_documents
    from minichat.errors import ConfigError
    from minichat.retrieval.context import label
    from minichat.retrieval.search import MODES

    if mode not in MODES:
        raise ConfigError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    with embedding_progress(printable(name)) as progress:
        documents = open_documents(name, progress)
    hits = documents.index.search(query, k, mode)
    if as_json:
        print(safe_json([h.to_dict() for h in hits], indent=1))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console()
    if not hits:
        console.print("nothing found")
    for number, hit in enumerate(hits, 1):
        where = printable(label(number, hit, documents.root))
        console.print(Text(f"{where}  score {hit.score:.4f}", "bold"))
        console.print(Text(printable(hit.chunk.text.strip())), "")
