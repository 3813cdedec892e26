"""The page's content security policy: images and media from the page's own server.

``web.inert`` keeps a reply's images and tags from rendering, by reading Markdown
as the renderer would. This is the second wall, in the browser itself: whatever a
reply manages to put on the page, the browser loads images and media (CSS
backgrounds included) only from the server that sent the page, or inline
(``data:``, ``blob:``), so a reply cannot make it fetch another address with the
chat in it. Scripts and styles are Gradio's and are left to its own sanitizer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

HEADER = b"content-security-policy"
POLICY = b"img-src 'self' data: blob:; media-src 'self' data: blob:"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ContentSecurity:
    """ASGI middleware that adds ``Content-Security-Policy`` to every HTTP response
    (plain ASGI, so the page's event streams pass through untouched)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                message["headers"] = [*kept, (HEADER, POLICY)]
            await send(message)

        await self.app(scope, receive, with_policy)
