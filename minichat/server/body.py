"""A request's body, read as JSON and checked before anything else looks at it.

Each endpoint reads its body here, not through FastAPI's parameters, so every
way a body can be wrong is one ``ApiError`` in OpenAI's shape: a content type
that is not JSON, bytes that are not UTF-8, text that is not JSON (``NaN`` and
numbers too large for a float or of absurd length included), nesting too deep
for the code behind it to recurse into (jsonschema, pydantic, the grammar), and
lone surrogates (``"\\ud800"``), which no tokenizer can encode. The size limit
comes first (``BodyLimit``): a Content-Length over it is refused before the
app sees a byte of it, and a chunked body is counted as it arrives and cut off
at the limit, so no body over the limit is ever held. The refused body is read
and thrown away (up to ``DRAIN_BYTES`` or ``DRAIN_SECONDS``, or until the
client stops sending) before the 413 is sent: a connection closed with unread
bytes is reset, and the client, still sending, would lose the answer that says
why.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minichat.server.errors import ApiError, invalid, too_large

DRAIN_BYTES = 64 * 2**20  # thrown away to let a client read its 413; past it, cut off
DRAIN_SECONDS = 10.0  # in all
DRAIN_IDLE = 0.5  # seconds without a byte: the client is waiting for the answer
MAX_DEPTH = 48  # arrays and objects within each other; a tool's schema needs a dozen
MAX_DIGITS = 100  # in one JSON number
SURROGATE = re.compile("[\ud800-\udfff]")

Model = TypeVar("Model", bound=BaseModel)


class BodyLimit:
    """ASGI middleware: no request body over ``limit`` bytes is read. (Starlette's own
    limit answers a Content-Length over it in plain text, whatever the app's handlers.)"""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await drain(receive, int(length))
            return await too_large(self.limit).response()(scope, receive, send)
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:  # raised in the endpoint reading it: one 413
                raise too_large(self.limit)
            return message

        await self.app(scope, counted, send)


async def drain(receive: Receive, length: int) -> None:
    """Read and throw away a refused body, within bounds (never held: each piece is
    dropped as it comes)."""
    if length > DRAIN_BYTES:
        return  # too much to take in: the connection is cut, as before
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    while True:
        try:
            left = min(deadline - loop.time(), DRAIN_IDLE)
            message = await asyncio.wait_for(receive(), max(left, 0.001))
        except asyncio.TimeoutError:
            return
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def read(request: Request, model: type[Model]) -> Model:
    """The body as ``model``, or the ``ApiError`` that says what is wrong with it."""
    check_content_type(request.headers.get("content-type"))
    data = decode(await request.body())
    if not isinstance(data, dict):
        raise ApiError(400, f"the body must be a JSON object, not {kind(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid(error.errors()) from None


def check_content_type(value: str | None) -> None:
    media = (value or "application/json").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(
            415,
            f"the body must be JSON, sent as Content-Type: application/json, not {media}",
            code="unsupported_media_type",
        )


def decode(raw: bytes) -> Any:
    if not raw.strip():
        raise ApiError(400, "the body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, f"the body is not UTF-8 text (byte {error.start}); send JSON") from None
    try:
        data = json.loads(text, parse_constant=not_a_number, parse_float=finite, parse_int=whole)
    except RecursionError:
        raise nested() from None
    except ValueError as error:  # json.JSONDecodeError, and the parsers' own
        raise ApiError(400, f"the body is not valid JSON: {error}") from None
    check_values(data)
    return data


def not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number; numbers must be finite")


def finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is too large for a float; numbers must be finite")
    return value


def whole(text: str) -> int:
    if len(text) > MAX_DIGITS:
        raise ValueError(f"a number has {len(text)} digits; at most {MAX_DIGITS} are read")
    return int(text)


def check_values(data: Any) -> None:
    """No nesting deeper than ``MAX_DEPTH``, and no lone surrogate in any text, each
    named by its path (``messages.0.content``); iterative, however deep the data."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            found = SURROGATE.search(value)
            if found:
                where = ".".join(path)
                raise ApiError(
                    400,
                    f"{where or 'the body'}: a lone surrogate (U+{ord(found.group()):04X}) "
                    "is not text; send valid Unicode",
                    param=where or None,
                )
            continue
        if isinstance(value, (dict, list)) and len(path) >= MAX_DEPTH:
            raise nested()
        if isinstance(value, dict):
            for key, item in reversed(value.items()):  # reversed: popped in order
                stack.append((item, (*path, key)))
                stack.append((key, path))  # a key is text too, named by where it is
        elif isinstance(value, list):
            stack.extend((item, (*path, str(i))) for i, item in reversed(list(enumerate(value))))


def nested() -> ApiError:
    return ApiError(
        400, f"the body nests arrays and objects more than {MAX_DEPTH} deep; flatten it"
    )


def kind(data: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(data), "a number")
