"""``minichat web``: the chat in a browser page, over the same session as the REPL.

``handlers`` holds what the page does as plain Python over ``ChatSession`` (no
gradio, so it is unit-tested without a browser); ``app`` lays the page out
with Gradio and wires its controls to those handlers. Gradio is an optional
extra, imported only when the page is built, so ``minichat --help`` stays fast.
"""

from __future__ import annotations

from minichat.errors import MinichatError

INSTALL = "pip install 'minichat[web]'"


def require_gradio() -> None:
    """Fail in one line that says what to install when gradio is missing."""
    try:
        import gradio  # noqa: F401
    except ImportError as error:
        raise MinichatError(
            f"minichat web needs gradio, which is not installed: run `{INSTALL}`"
        ) from error
