"""``minichat mcp``: the user's document collections, served over the Model Context Protocol.

Any MCP client (an editor, another chat tool, minichat's own ``--mcp``) can then
search the user's local files through minichat's index:

- ``list_collections``: the collections, with their folders, files and passages
  (``chunks``);
- ``search_docs(collection, query, k)``: the passages that best match, with the
  file and place each comes from and its score (fused keyword and embedding
  search, as ``--docs`` uses);
- ``ask(collection, question)``: a grounded answer from the local model, with its
  sources (the model loads on the first ``ask``).

Only named collections (``minichat docs add NAME PATH``) are served, never a path
a client names. Every input is bounded (a query's length, ``k``). Over stdio by
default; over streamable HTTP with ``--port``, on the loopback address unless
``--host`` says otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from minichat.backend import ChatBackend
from minichat.chat.documents import Documents, open_documents
from minichat.chat.report import source_json
from minichat.errors import MinichatError
from minichat.retrieval.collection import Collection
from minichat.retrieval.context import label

T = TypeVar("T")
MAX_QUERY = 2000  # characters: a question, not a document
MAX_K = 20
INSTRUCTIONS = (
    "Search the user's local document collections (files they indexed with minichat). "
    "list_collections names them; search_docs finds passages with their sources; ask "
    "answers a question from a collection with a small local model."
)


class Library:
    """The collections a client may read, opened once each, and the model for ``ask``."""

    def __init__(self, load_model: Callable[[], ChatBackend] | None = None):
        self.load_model = load_model
        self.opened: dict[str, Documents] = {}
        self.backend: ChatBackend | None = None
        self.lock = threading.Lock()  # one model, one answer at a time

    def collections(self) -> list[dict[str, Any]]:
        rows = []
        for name in Collection.names():
            try:
                found = Collection.named(name).summary()
            except MinichatError as error:
                rows.append({"name": name, "error": str(error)})
                continue
            rows.append({k: found[k] for k in ("name", "paths", "files", "chunks", "updated")})
        return rows

    def documents(self, collection: str) -> Documents:
        if collection not in Collection.names():
            known = ", ".join(Collection.names()) or "none yet (minichat docs add NAME PATH)"
            raise LookupError(f"no collection named {collection!r}; the collections: {known}")
        if collection not in self.opened:
            self.opened[collection] = open_documents(collection)
        return self.opened[collection]

    def search(self, collection: str, query: str, k: int) -> list[dict[str, Any]]:
        query = _bounded(query, "query")
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")
        documents = self.documents(collection)
        hits = documents.index.search(query, k)
        return [
            {
                "source": label(n, hit, documents.root),
                "text": hit.chunk.text.strip(),
                **source_json(hit),
            }
            for n, hit in enumerate(hits, 1)
        ]

    def ask(self, collection: str, question: str) -> dict[str, Any]:
        from minichat.chat.session import ChatSession
        from minichat.config import GenerationConfig

        question = _bounded(question, "question")
        documents = self.documents(collection)
        with self.lock:
            if self.backend is None:
                if self.load_model is None:
                    raise LookupError("this server answers no questions: it has no model")
                self.backend = self.load_model()
            session = ChatSession(self.backend, GenerationConfig(temperature=0.0))
            session.documents = documents
            exchange = session.send(question)
        return {"answer": exchange.reply.strip(), "sources": list(exchange.source_labels)}


def _bounded(text: str, name: str) -> str:
    if not text.strip():
        raise ValueError(f"give a {name}")
    if len(text) > MAX_QUERY:
        raise ValueError(f"the {name} is {len(text)} characters; at most {MAX_QUERY}")
    return text


def build(library: Library) -> Any:
    """The MCP server over ``library`` (the SDK's ``MCPServer``)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    server = MCPServer("minichat", instructions=INSTRUCTIONS, log_level="WARNING")
    reading = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    def anticipated(call: Callable[[], T]) -> T:
        """What a client asked wrongly, or a collection that cannot be read, in words."""
        try:
            return call()
        except (LookupError, ValueError, MinichatError) as error:
            raise ToolError(str(error).strip("'\"")) from None

    @server.tool(annotations=reading)
    def list_collections() -> list[dict[str, Any]]:
        """The user's document collections: name, folders, files and passages."""
        return anticipated(library.collections)

    @server.tool(annotations=reading)
    def search_docs(collection: str, query: str, k: int = 4) -> list[dict[str, Any]]:
        """Passages of a collection that best match the query, best first, each with
        its source (file and place), score and text. k: how many (1 to 20)."""
        return anticipated(lambda: library.search(collection, query, k))

    @server.tool(annotations=reading)
    def ask(collection: str, question: str) -> dict[str, Any]:
        """A short answer to the question from the collection's passages, written by a
        small local model, with the sources it read."""
        return anticipated(lambda: library.ask(collection, question))

    return server


def serve(library: Library, *, port: int | None, host: str) -> None:
    """Serve until the client goes (stdio) or Ctrl+C (HTTP)."""
    server = build(library)
    if port is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)
