"""Every error the server sends, in OpenAI's shape, whoever raised it.

A client reads ``{"error": {"message", "type", "param", "code"}}`` for each one:
``ApiError`` raised by minichat's own code, pydantic's validation errors, the
HTTP errors of FastAPI and Starlette (an unknown path, a wrong method, a body
over the size limit), and any other exception, which is a bug: a 500 whose
traceback goes to the log. Messages are one line, as every minichat error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

RETRY_AFTER_SECONDS = 1


class ApiError(Exception):
    """An error to answer with: its HTTP status and OpenAI's four fields."""

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
                "message": " ".join(self.message.split()),  # one line, whatever it quotes
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }
        headers = {}
        if self.status == 503:
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        if self.status == 413:  # else the server reads (and drops) the rest of the body
            headers["Connection"] = "close"
        return JSONResponse(body, status_code=self.status, headers=headers)


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"the request body is over this server's limit of {limit} bytes; send less, "
        "or start the server with a higher --max-request-bytes",
        code="request_too_large",
    )


# what pydantic puts in a path to say which member of a union it tried ("str",
# "list[dict[str,any]]", "NamedChoice"): not part of the path a client wrote
UNION_MEMBER = re.compile(r"^(?:str|int|float|bool|none|list|dict|literal|[A-Z]\w*)(?:\[.*\])?$")


def invalid(errors: Sequence[Any]) -> ApiError:
    """pydantic's first complaint, named by the field's path as the client wrote it."""
    first = errors[0] if errors else {}
    where = ".".join(
        str(part)
        for part in first.get("loc", ())
        if part != "body" and not (isinstance(part, str) and UNION_MEMBER.match(part))
    )
    message = str(first.get("msg", "invalid request"))
    return ApiError(400, f"{where}: {message}" if where else message, param=where or None)


def install(app: FastAPI, max_request_bytes: int) -> None:
    """Answer every error in OpenAI's shape."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return invalid(error.errors()).response()

    @app.exception_handler(ValidationError)
    async def model_invalid(_: Request, error: ValidationError) -> JSONResponse:
        return invalid(error.errors()).response()

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 413:
            return too_large(max_request_bytes).response()
        if error.status_code in (404, 405):
            message = f"no {request.method} {request.url.path} here; see /v1/models"
            return ApiError(error.status_code, message).response()
        kind = "invalid_request_error" if error.status_code < 500 else "server_error"
        return ApiError(error.status_code, str(error.detail), kind=kind).response()

    @app.exception_handler(Exception)
    async def bug(_: Request, error: Exception) -> JSONResponse:
        # Starlette raises it again once this is sent, so the server logs its traceback
        return internal(error).response()


def internal(error: BaseException) -> ApiError:
    return ApiError(500, f"internal error: {error}", kind="server_error")
