"""The FastAPI application behind ``minichat serve``.

One model serves every request, statelessly (a request that offers tools gets it
with its tool-use adapter, ``ToolModel``): each request's messages go
through the chat core's turn code (``chat.turn``: the same fitting and streaming
as a chat's). A local model computes one reply at a time, so requests wait
their turn in a first-come queue (``Gate``); past its length they get 503 with
Retry-After rather than waiting forever. The blocking decode runs in a worker
thread (the core's ``Relay``); a streaming client that disconnects cancels its
reply before the next token, and the model is free again before the next
request starts. Errors are OpenAI-shaped (``errors``), bodies are read and
checked before anything else (``body``), and the markup of a tool call never
reaches a client: a call the reply limit cut short comes back as a call, its
arguments unfinished, with ``finish_reason`` "length", as OpenAI sends one.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse

from minichat.backend import ChatBackend, Message
from minichat.chat.conversation import Conversation, offer
from minichat.chat.events import Event, Exchange, Text, ToolResult
from minichat.chat.relay import Relay
from minichat.chat.report import log_record, usage
from minichat.chat.turn import fit_turn, stream_reply
from minichat.config import GenerationConfig
from minichat.errors import ConfigError, MinichatError, PromptTooLongError
from minichat.log.store import ChatLog, LogError, new_id
from minichat.prompt.budget import Fitted
from minichat.retrieval.embedder import DIMENSIONS, MAX_TOKENS
from minichat.retrieval.embedder import NAME as EMBEDDER
from minichat.retrieval.embedder import installed as embedder_installed
from minichat.safety.untrusted import one_line
from minichat.server import body as bodies
from minichat.server import errors
from minichat.server.errors import ApiError
from minichat.server.schema import (
    MAX_CHARS_PER_TOKEN,
    ChatRequest,
    EmbeddingRequest,
    TokenizeRequest,
    check_room,
)
from minichat.tools.base import ToolFunction
from minichat.tools.hermes import CallFilter, cut_call
from minichat.tools.spec import ToolCall, Tools
from minichat.tools.toolbox import Toolbox, passed_on

FINISH_REASONS = {
    "stop": "stop",
    "end_turn": "stop",
    "length": "length",
    "cancelled": "stop",
    "tool_calls": "tool_calls",
}
MAX_EMBEDDING_INPUTS = 2048  # as OpenAI's embeddings endpoint
# a few times a long context's worth of text, and far below what the server can hold
MAX_REQUEST_BYTES = 4 * 2**20

log = logging.getLogger(__name__)


class Gate:
    """One generation at a time, first come first served, at most ``limit`` waiting."""

    def __init__(self, limit: int):
        self.limit = limit
        self.waiting = 0
        self.lock = asyncio.Lock()  # asyncio.Lock wakes its waiters in FIFO order

    def reserve(self) -> None:
        if self.waiting >= self.limit:
            raise ApiError(
                503,
                f"the server is busy ({self.waiting} requests waiting); retry shortly",
                code="server_busy",
                kind="server_error",
            )
        self.waiting += 1

    async def enter(self) -> None:
        try:
            await self.lock.acquire()
        finally:
            self.waiting -= 1

    def leave(self) -> None:
        self.lock.release()


def create_app(
    backend: ChatBackend,
    defaults: GenerationConfig,
    *,
    api_key: str | None = None,
    queue_limit: int = 16,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    served_tools: Sequence[ToolFunction] = (),
    log: ChatLog | None = None,
    tool_model: Callable[[], ChatBackend] | None = None,
) -> FastAPI:
    """The app; a request body over ``max_request_bytes`` is refused (413) unread.
    ``served_tools`` (an MCP server's, ``serve --mcp``) are offered to every request's
    model beside the client's own tools and run here, in rounds, before the reply.
    With ``log`` (``serve --log``), every request and its reply is kept there.
    ``tool_model`` loads the model with its tool-use adapter: a request that offers
    tools is answered by it (loaded on the first such request), any other by
    ``backend``."""

    async def authenticate(request: Request) -> None:
        # a dependency, not a middleware: Starlette's middlewares read the body in a task
        # of their own, where the size limit's 413 would escape our error handlers
        if api_key and request.url.path != "/health":
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
                raise ApiError(
                    401,
                    "missing or wrong API key (Authorization: Bearer KEY)",
                    code="invalid_api_key",
                )

    app = FastAPI(
        title="minichat",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(authenticate)],
    )
    app.add_middleware(bodies.BodyLimit, limit=max_request_bytes)
    errors.install(app, max_request_bytes)
    own = {f.name: f for f in served_tools}
    served = Served(backend, defaults, Gate(queue_limit), own, log, ToolModel(tool_model))
    app.get("/health")(served.health)
    app.get("/v1/models")(served.models)
    app.post("/v1/embeddings")(served.embeddings)
    app.post("/tokenize")(served.tokenize)
    app.post("/v1/chat/completions", response_model=None)(served.chat_completions)
    return app


class ToolModel:
    """The served model with its tool-use adapter, loaded once, on first need (None
    where the model has none, or every request has it already)."""

    def __init__(self, load: Callable[[], ChatBackend] | None):
        self.load = load
        self.loaded: ChatBackend | None = None
        self.lock = threading.Lock()

    def get(self) -> ChatBackend | None:
        if self.load is None:
            return None
        with self.lock:
            if self.loaded is None:
                self.loaded = self.load()
            return self.loaded


@dataclass(frozen=True)
class Served:
    """What the endpoints share: the model, the server's decoding defaults, the queue."""

    backend: ChatBackend
    defaults: GenerationConfig
    gate: Gate
    own: dict[str, ToolFunction] = field(default_factory=dict)  # tools run here (--mcp)
    log: ChatLog | None = None  # where requests are kept (--log); none by default
    tool_model: ToolModel = field(default_factory=lambda: ToolModel(None))

    async def health(self) -> dict[str, Any]:
        return {"status": "ok", "model": self.backend.model_id, "waiting": self.gate.waiting}

    async def models(self) -> dict[str, Any]:
        embedders = [embedder_card()] if embedder_installed() else []
        card = model_card(self.backend)
        if self.own:  # what every request's model may call, run by this server
            card["server_tools"] = sorted(self.own)
        return {"object": "list", "data": [card, *embedders]}

    async def embeddings(self, request: Request) -> dict[str, Any]:
        """The documents' embedder: an input longer than it reads is refused, never cut."""
        body = await bodies.read(request, EmbeddingRequest)
        if body.model != EMBEDDER:
            raise ApiError(
                400,
                f"unknown embedding model {body.model!r}; this server embeds with {EMBEDDER!r}",
                code="model_not_found",
                param="model",
            )
        if body.dimensions is not None and body.dimensions != DIMENSIONS:
            raise ApiError(
                400,
                f"dimensions: {EMBEDDER} gives {DIMENSIONS} dimensions only; leave it out",
                param="dimensions",
            )
        texts = body.texts()
        check_texts(texts)
        try:
            vectors, tokens = await asyncio.to_thread(embed, texts)
        except MinichatError as error:
            raise ApiError(400, str(error), param="input") from None
        data = [
            {"object": "embedding", "index": i, "embedding": encode(vector, body.encoding_format)}
            for i, vector in enumerate(vectors)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return {"object": "list", "data": data, "model": EMBEDDER, "usage": usage}

    async def tokenize(self, request: Request) -> dict[str, Any]:
        """vLLM's endpoint: the exact prompt length, so remote clients can budget."""
        backend = self.backend
        body = await bodies.read(request, TokenizeRequest)
        if body.model != backend.model_id:
            raise ApiError(
                400, f"unknown model {body.model!r}", code="model_not_found", param="model"
            )
        fits_roughly(body.messages, backend.context_length)
        messages = [m.message() for m in body.messages]
        count = await asyncio.to_thread(backend.count_tokens, messages)
        return {"count": count, "max_model_len": backend.context_length}

    async def chat_completions(self, request: Request) -> Any:
        gate = self.gate
        body = await bodies.read(request, ChatRequest)
        config, asked = self._check(body)
        box = self.toolbox(asked)
        tools = offer(box, 0, asked.schema if asked else None) if box else asked
        calling = tools is not None and bool(tools.tools) and tools.choice != "none"
        backend = await asyncio.to_thread(self.tool_model.get) if calling else None
        backend = backend or self.backend
        fitted = await asyncio.to_thread(fit_request, backend, body, config, tools)
        gate.reserve()
        await gate.enter()  # the model is ours until the reply's worker is done
        loop = asyncio.get_running_loop()
        cancel = threading.Event()
        calls = tools is not None and tools.choice != "none"
        rounds = None if box is None else Rounds(box, body.chat_messages(), asked)
        relay = Relay(
            answer(backend, fitted, config, cancel, tools, calls, rounds),
            on_done=lambda: loop.call_soon_threadsafe(gate.leave),
        )
        try:
            relay.start()
        except BaseException:  # no worker, so nothing else would free the model
            gate.leave()
            raise
        reply = Reply(f"chatcmpl-{uuid.uuid4().hex[:24]}", backend.model_id, int(time.time()))
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            kept = lambda exchange: self.keep(body, config, exchange, backend)  # noqa: E731
            events = stream_events(relay, cancel, reply, include_usage, kept)
            return StreamingResponse(events, media_type="text/event-stream")
        try:
            exchange = await asyncio.to_thread(finished, relay)
        finally:  # this task cancelled (the server shutting down): stop the reply too
            cancel.set()
        await asyncio.to_thread(self.keep, body, config, exchange, backend)
        return reply.completion(exchange)

    def keep(
        self, body: ChatRequest, config: GenerationConfig, exchange: Exchange, backend: ChatBackend
    ) -> None:
        """The request and its reply into the log (``--log``): a conversation of its own."""
        if self.log is None:
            return
        replied = Message("assistant", exchange.reply, tool_calls=exchange.tool_calls)
        record = log_record(
            exchange,
            [*body.chat_messages(), replied],
            model=backend.model_id,
            adapter=backend.adapter,
            settings=config.to_dict(),
            surface="serve",
        )
        try:
            self.log.record(new_id(), record)
        except LogError as error:  # the reply went out; the operator hears of the log line
            log.warning("%s; this request was not logged", error)

    def toolbox(self, asked: Tools | None) -> Toolbox | None:
        """The server's own tools beside the client's (whose calls go back to it), or
        None when the server runs none."""
        if not self.own:
            return None
        theirs = asked.tools if asked is not None else ()
        names = {t.name for t in theirs}
        mine = {n: f for n, f in self.own.items() if n not in names}  # theirs win a clash
        functions = {**mine, **{t.name: passed_on(t) for t in theirs}}
        choice = asked.choice if asked is not None and asked.tools else "auto"
        return Toolbox(functions, choice, external=frozenset(names))

    def _check(self, body: ChatRequest) -> tuple[GenerationConfig, Tools | None]:
        """The request's settings and tools, or the 400 that says what is wrong."""
        backend = self.backend
        if body.model != backend.model_id:
            raise ApiError(
                400,
                f"unknown model {body.model!r}; this server serves {backend.model_id!r}",
                code="model_not_found",
                param="model",
            )
        try:
            config = body.generation(self.defaults)
            tools = body.offered_tools()
        except ConfigError as error:
            raise ApiError(400, str(error), param=getattr(error, "param", None)) from None
        if tools is not None and not backend.supports_tools:
            if not tools.tools:
                raise ApiError(
                    400,
                    f"{backend.model_id} cannot hold its answers to a response_format",
                    param="response_format",
                )
            raise ApiError(400, f"{backend.model_id} cannot call tools", code="tools_not_supported")
        fits_roughly(body.messages, backend.context_length)
        return config, tools


def fits_roughly(messages: Any, context_length: int) -> None:
    try:
        check_room(messages, context_length)
    except ConfigError as error:
        raise ApiError(400, str(error), code="context_length_exceeded", param="messages") from None


def check_texts(texts: list[str]) -> None:
    """What the embedder would refuse, refused before it is loaded or reads a token."""
    if len(texts) > MAX_EMBEDDING_INPUTS:
        raise ApiError(400, f"input: at most {MAX_EMBEDDING_INPUTS} texts a request", param="input")
    if not all(text.strip() for text in texts):
        raise ApiError(400, "input: an empty string has no embedding; send text", param="input")
    longest = max(len(text) for text in texts)
    if longest > MAX_TOKENS * MAX_CHARS_PER_TOKEN:
        raise ApiError(
            400,
            f"input: a text of {longest} characters is more than the embedder's {MAX_TOKENS} "
            "tokens could hold; split it into shorter passages",
            param="input",
        )


@dataclass(frozen=True)
class Rounds:
    """A request answered in rounds: the server's tools run here until the model
    answers or calls one of the client's (``Conversation.rounds``)."""

    box: Toolbox
    messages: list[Message]
    asked: Tools | None

    def replies(
        self,
        backend: ChatBackend,
        fitted: Fitted,
        config: GenerationConfig,
        cancel: threading.Event,
    ) -> Generator[Event, None, Exchange]:
        chat = Conversation(None, list(self.messages))
        schema = self.asked.schema if self.asked is not None else None
        # the operator allowed these tools by starting the server with them
        exchange = yield from chat.rounds(backend, config, fitted, cancel, self.box, _yes, schema)
        theirs = tuple(c for c in exchange.tool_calls if c.name in self.box.external)
        return replace(exchange, tool_calls=theirs)


def _yes(call: ToolCall) -> bool:
    return True


def answer(
    backend: ChatBackend,
    fitted: Fitted,
    config: GenerationConfig,
    cancel: threading.Event,
    tools: Tools | None,
    calls: bool,
    rounds: Rounds | None = None,
) -> Generator[str, None, Exchange]:
    """The reply's text as it comes; with ``calls`` possible, no call's markup in it: a
    call the reply limit cut short (which a backend shows as text) becomes a call.
    With ``rounds``, the server's own tools' calls run first, each logged."""
    markup = CallFilter() if calls else None
    shown: list[str] = []
    replies: Generator[Event, None, Exchange] = (
        stream_reply(backend, fitted, config, cancel, tools)
        if rounds is None
        else rounds.replies(backend, fitted, config, cancel)
    )
    try:
        while True:
            try:
                event = next(replies)
            except StopIteration as done:
                exchange: Exchange = done.value
                break
            if isinstance(event, ToolResult):  # a failed call is the operator's to know of
                level = logging.WARNING if event.ran.failed else logging.INFO
                log.log(level, "tool %s", one_line(event.ran.line(), 300))
                continue
            if not isinstance(event, Text):
                continue
            piece = event.text
            if markup is not None:
                piece = markup.push(piece)
            if piece:
                shown.append(piece)
                yield piece
    finally:
        replies.close()
    if markup is None:
        return exchange
    tail = markup.flush()
    if tail:
        shown.append(tail)
        yield tail
    if exchange.tool_calls or not markup.calls_text:
        return replace(exchange, reply="".join(shown))
    cut = cut_call(markup.calls_text)
    return replace(exchange, reply="".join(shown), tool_calls=(cut,) if cut else ())


def fit_request(
    backend: ChatBackend, body: ChatRequest, config: GenerationConfig, tools: Tools | None
) -> Fitted:
    try:
        return fit_turn(backend, body.chat_messages(), config, tools=tools).fitted
    except PromptTooLongError as error:
        raise ApiError(400, str(error), code="context_length_exceeded", param="messages") from None


def finished(relay: Relay[str, Exchange]) -> Exchange:
    try:
        return relay.result()
    except ConfigError as error:  # what the request asked cannot be done (a tool's schema)
        raise ApiError(400, str(error)) from None
    except MinichatError as error:
        raise ApiError(500, str(error), kind="server_error") from None
    except Exception as error:  # a bug: the traceback to the log, an OpenAI error to the client
        log.error("internal error while making a reply", exc_info=error)
        raise errors.internal(error) from None


@dataclass(frozen=True)
class Reply:
    """The fields every response object of one reply shares."""

    id: str
    model: str
    created: int

    def chunk(self, delta: dict[str, Any], finish: str | None, **extra: Any) -> str:
        """One server-sent event in the chunk format OpenAI's clients parse."""
        data = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
            if delta or finish
            else [],
            **extra,
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    def completion(self, exchange: Exchange) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message(exchange),
                    "finish_reason": FINISH_REASONS[exchange.finish_reason],
                }
            ],
            "usage": usage(exchange.stats),
        }


def message(exchange: Exchange) -> dict[str, Any]:
    """The reply as OpenAI's assistant message: its text, and its calls if it made any."""
    if not exchange.tool_calls:
        return {"role": "assistant", "content": exchange.reply}
    calls = [call.to_dict() for call in exchange.tool_calls]
    return {"role": "assistant", "content": exchange.reply or None, "tool_calls": calls}


async def stream_events(
    relay: Relay[str, Exchange],
    cancel: threading.Event,
    reply: Reply,
    include_usage: bool,
    kept: Callable[[Exchange], None] | None = None,
) -> AsyncIterator[str]:
    """The reply as server-sent events, then [DONE]; an error mid-reply is one event."""
    try:
        yield reply.chunk({"role": "assistant", "content": ""}, None)
        async for piece in relay.items():
            yield reply.chunk({"content": piece}, None)
        try:
            exchange = relay.result()
        except Exception as error:  # the stream is under way: an error event, then [DONE]
            if not isinstance(error, MinichatError):
                log.error("internal error while streaming a reply", exc_info=error)
            body = {"message": str(error), "type": "server_error", "param": None, "code": None}
            yield f"data: {json.dumps({'error': body})}\n\n"
        else:
            if exchange.tool_calls:  # whole calls, once known: clients join deltas by index
                calls = [{"index": i, **c.to_dict()} for i, c in enumerate(exchange.tool_calls)]
                yield reply.chunk({"tool_calls": calls}, None)
            yield reply.chunk({}, FINISH_REASONS[exchange.finish_reason])
            if include_usage:
                yield reply.chunk({}, None, usage=usage(exchange.stats))
            if kept is not None:
                await asyncio.to_thread(kept, exchange)
        yield "data: [DONE]\n\n"
    finally:
        cancel.set()  # a client that left stops its reply before the next token


def embedder_card() -> dict[str, Any]:
    return {"id": EMBEDDER, "object": "model", "created": 0, "owned_by": "minichat"}


def embed(texts: list[str]) -> tuple[Any, int]:
    """Unit vectors for ``texts``, and the tokens they took."""
    from minichat.retrieval.embedder import shared as embedder

    model = embedder()
    return model.embed(texts), sum(model.count_tokens(t) for t in texts)


def encode(vector: Any, encoding_format: str) -> list[float] | str:
    """A vector as OpenAI sends it: floats, or base64 of little-endian float32."""
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


def model_card(backend: ChatBackend) -> dict[str, Any]:
    return {
        "id": backend.model_id,
        "object": "model",
        "created": 0,
        "owned_by": "minichat",
        "context_length": backend.context_length,
        "adapter": backend.adapter,  # the LoRA adapter merged into it (--adapter), or null
    }
