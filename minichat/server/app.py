"""The FastAPI application behind ``minichat serve``.

One backend serves every request. A local model computes one reply at a time,
so requests wait their turn in a first-come queue (``Gate``); past its length
they get 503 with Retry-After rather than waiting forever. The blocking decode
runs in a worker thread; a client that disconnects mid-stream cancels its
reply before the next token, and the model is free again before the next
request starts. Errors are OpenAI-shaped: ``{"error": {"message", "type",
"param", "code"}}``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from minichat.backend import ChatBackend, Stream
from minichat.budget import Fitted, fit
from minichat.config import GenerationConfig
from minichat.errors import ConfigError, MinichatError, PromptTooLongError
from minichat.server.schema import ChatRequest, TokenizeRequest

FINISH_REASONS = {"stop": "stop", "end_turn": "stop", "length": "length", "cancelled": "stop"}
RETRY_AFTER_SECONDS = 1


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        param: str | None = None,
        kind: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.kind = (
            status,
            message,
            code,
            param,
            kind,
        )

    def response(self) -> JSONResponse:
        body = {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if self.status == 503 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


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
) -> FastAPI:
    app = FastAPI(title="minichat", docs_url=None, redoc_url=None)
    gate = Gate(queue_limit)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Any) -> Any:
        if api_key and request.url.path != "/health":
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
                return ApiError(
                    401,
                    "missing or wrong API key (Authorization: Bearer KEY)",
                    code="invalid_api_key",
                ).response()
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = (
            f"{where}: {first.get('msg', 'invalid request')}"
            if where
            else str(first.get("msg", "invalid request"))
        )
        return ApiError(400, message, param=where or None).response()

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": backend.model_id, "waiting": gate.waiting}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card(backend)]}

    @app.post("/tokenize")
    async def tokenize(body: TokenizeRequest) -> dict[str, Any]:
        """vLLM's endpoint: the exact prompt length, so remote clients can budget."""
        if body.model != backend.model_id:
            raise ApiError(
                400, f"unknown model {body.model!r}", code="model_not_found", param="model"
            )
        messages = [m.message() for m in body.messages]
        count = await asyncio.to_thread(backend.count_tokens, messages)
        return {"count": count, "max_model_len": backend.context_length}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatRequest) -> Any:
        if body.model != backend.model_id:
            raise ApiError(
                400,
                f"unknown model {body.model!r}; this server serves {backend.model_id!r}",
                code="model_not_found",
                param="model",
            )
        try:
            config = body.generation(defaults)
        except ConfigError as error:
            raise ApiError(400, str(error)) from None
        fitted = await asyncio.to_thread(fit_request, backend, body, config)
        gate.reserve()
        reply_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            events = stream_events(backend, gate, fitted, config, reply_id, include_usage)
            return StreamingResponse(events, media_type="text/event-stream")
        await gate.enter()
        stream = backend.stream(fitted.messages, config)
        worker = asyncio.get_running_loop().run_in_executor(None, read_all, stream)
        worker.add_done_callback(lambda _: gate.leave())  # free once the model is
        try:
            text = await worker
        except asyncio.CancelledError:  # the client left: stop before the next token
            stream.cancel()
            raise
        return completion(reply_id, backend, stream, text)

    return app


def fit_request(backend: ChatBackend, body: ChatRequest, config: GenerationConfig) -> Fitted:
    try:
        return fit(
            body.chat_messages(),
            backend.count_tokens,
            backend.context_length,
            config.max_new_tokens,
        )
    except PromptTooLongError as error:
        raise ApiError(400, str(error), code="context_length_exceeded", param="messages") from None


def read_all(stream: Stream) -> str:
    try:
        return "".join(stream)
    except MinichatError as error:
        raise ApiError(500, str(error), kind="server_error") from None


async def stream_events(
    backend: ChatBackend,
    gate: Gate,
    fitted: Fitted,
    config: GenerationConfig,
    reply_id: str,
    include_usage: bool,
) -> AsyncIterator[str]:
    """Server-sent events in the chunk format OpenAI's clients parse, then [DONE]."""
    await gate.enter()
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
    stream = backend.stream(fitted.messages, config)

    def work() -> None:
        try:
            for piece in stream:
                loop.call_soon_threadsafe(pieces.put_nowait, piece)
        except BaseException as error:  # handed to the event loop, which reports it
            loop.call_soon_threadsafe(pieces.put_nowait, error)
        finally:
            loop.call_soon_threadsafe(pieces.put_nowait, None)

    worker = loop.run_in_executor(None, work)
    # The model is free only once the worker is done, however this generator ends
    # (a disconnect may cancel it at any await, even in its finally).
    worker.add_done_callback(lambda _: gate.leave())
    created = int(time.time())

    def chunk(delta: dict[str, str], finish: str | None, **extra: Any) -> str:
        data = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": backend.model_id,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""}, None)
        while (item := await pieces.get()) is not None:
            if isinstance(item, BaseException):
                error = {
                    "error": {
                        "message": str(item),
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                }
                yield f"data: {json.dumps(error)}\n\n"
                break
            yield chunk({"content": item}, None)
        else:
            await worker
            reason = FINISH_REASONS[stream.finish_reason or "stop"]
            yield chunk({}, reason)
            if include_usage and stream.stats is not None:
                usage = usage_of(stream)
                data = {
                    "id": reply_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": backend.model_id,
                    "choices": [],
                    "usage": usage,
                }
                yield f"data: {json.dumps(data)}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        stream.cancel()  # a client that left stops its reply before the next token


def usage_of(stream: Stream) -> dict[str, object]:
    """OpenAI's usage object; ``cached_tokens`` are prompt tokens reused from the KV cache."""
    stats = stream.stats
    prompt, reply = (stats.prompt_tokens, stats.new_tokens) if stats else (0, 0)
    cached = stats.cached_tokens if stats else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": reply,
        "total_tokens": prompt + reply,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def completion(reply_id: str, backend: ChatBackend, stream: Stream, text: str) -> dict[str, Any]:
    return {
        "id": reply_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": backend.model_id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": FINISH_REASONS[stream.finish_reason or "stop"],
            }
        ],
        "usage": usage_of(stream),
    }


def model_card(backend: ChatBackend) -> dict[str, Any]:
    return {
        "id": backend.model_id,
        "object": "model",
        "created": 0,
        "owned_by": "minichat",
        "context_length": backend.context_length,
    }
