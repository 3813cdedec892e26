"""Tool calls in a local model's own words: the Hermes format, written and read.

A chat template that knows nothing of tools (SmolLM2's among them) gets the
tools in the system turn, between ``<tools></tools>``, and is shown how to call
one::

    <tool_call>
    {"name": "calculator", "arguments": {"expression": "2+2"}}
    </tool_call>

An earlier call is written back the same way, and its result goes to the model
as a user turn between ``<tool_response></tool_response>`` (a role every template
accepts). ``CallFilter`` keeps the call's markup out of the streamed text, and
``parse_calls`` reads the calls once the reply is done; ``cut_call`` reads one the
reply limit cut short, as far as it got. The exact spelling here
is also what the grammar (``tools.grammar``) forces, so a constrained call
always parses.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import replace

from minichat.backend import Message
from minichat.tools.schema import describe
from minichat.tools.spec import ToolCall, Tools

OPEN, CLOSE = "<tool_call>", "</tool_call>"
CALLS = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.DOTALL)
# the start of a call, as call_prefix writes it and the grammar forces it
CUT = re.compile(
    r'<tool_call>\s*\{\s*"name":\s*("(?:[^"\\]|\\.)*"),\s*"arguments":\s*(.*)', re.DOTALL
)


def call_prefix(name: str) -> str:
    """What a call to ``name`` starts with, up to its arguments."""
    return f'{OPEN}\n{{"name": {json.dumps(name)}, "arguments": '


CALL_SUFFIX = f"}}\n{CLOSE}"


def system_block(tools: Tools) -> str:
    """The tools described and how to call them; the answer's schema after them."""
    parts = [_tools_block(tools)] if tools.tools else []
    if tools.schema is not None:
        parts.append(describe(tools.schema))
    return "\n\n".join(parts)


def _tools_block(tools: Tools) -> str:
    listed = "\n".join(
        json.dumps(
            {"name": t.name, "description": t.description, "parameters": t.parameters},
            ensure_ascii=False,
        )
        for t in tools.tools
    )
    return (
        f"You can call these tools:\n<tools>\n{listed}\n</tools>\n"
        f"To call one, answer with only\n{OPEN}\n"
        '{"name": "<the tool\'s name>", "arguments": {<its arguments>}}\n'
        f"{CLOSE}\nand its result comes back between <tool_response></tool_response>. "
        "When no tool is needed, answer as usual."
    )


def render_call(call: ToolCall) -> str:
    return f"{call_prefix(call.name)}{call.arguments}{CALL_SUFFIX}"


def history(messages: Sequence[Message]) -> list[Message]:
    """Calls and their results written as the model writes and reads them, so any chat
    template renders them, with tools on or off."""
    out: list[Message] = []
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            calls = "\n".join(render_call(call) for call in message.tool_calls)
            text = f"{message.content}\n{calls}" if message.content else calls
            out.append(Message("assistant", text))
        elif message.role == "tool":
            response = f"<tool_response>\n{message.content}\n</tool_response>"
            if out and out[-1].role == "user" and _is_results(out[-1]):
                out[-1] = Message("user", f"{out[-1].content}\n{response}")
            else:
                out.append(Message("user", response))
        else:
            out.append(message)
    return out


def prepare(messages: Sequence[Message], tools: Tools, near: bool = True) -> list[Message]:
    """``messages`` as a template without tools can render them, the tools described in
    a system turn right before the question they are for: in the system turn of a
    chat's first question, in one of their own before a later one. A small model reads
    what is near: after three turns of prose, with the tools described at the top, the
    default model made no call at all (``bench/tool_calls.py --turn4``). A template
    that refuses a system turn there gets it merged into the first user turn.
    ``near=False``: in the first system turn whatever the turn (for training, where
    every reply of a conversation is learnt from one rendering, and each must see them)."""
    out = history(messages)
    block = system_block(tools)
    asked = [i for i, m in enumerate(out) if m.role == "user" and not _is_results(m)]
    if len(asked) < 2 or not near:
        return add_to_system(out, block)
    return [*out[: asked[-1]], Message("system", block), *out[asked[-1] :]]


def _is_results(message: Message) -> bool:
    """A user turn that only carries tool results (``history`` writes them so)."""
    return message.content.startswith("<tool_response>")


def add_to_system(messages: Sequence[Message], block: str) -> list[Message]:
    """``messages`` with ``block`` at the end of the system turn (one made if none)."""
    if messages and messages[0].role == "system":
        return [replace(messages[0], content=f"{messages[0].content}\n\n{block}"), *messages[1:]]
    return [Message("system", block), *messages]


def parse_calls(text: str) -> list[ToolCall]:
    """The well-formed calls in ``text``, in order; anything else is not a call."""
    calls = []
    for found in CALLS.finditer(text):
        try:
            data = json.loads(found.group(1))
        except ValueError:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            continue
        arguments = data.get("arguments", {})
        calls.append(
            ToolCall(
                f"call_{uuid.uuid4().hex[:24]}",
                data["name"],
                json.dumps(arguments, ensure_ascii=False),
            )
        )
    return calls


def cut_call(text: str) -> ToolCall | None:
    """The call ``text`` began but did not finish (the reply limit came first): its name
    and its arguments as far as they got, as OpenAI returns a call cut by
    ``max_tokens``; None if even the name is unfinished."""
    found = CUT.search(text)
    if found is None:
        return None
    try:
        name = json.loads(found.group(1))
    except ValueError:
        return None
    return ToolCall(f"call_{uuid.uuid4().hex[:24]}", name, found.group(2))


class CallFilter:
    """Streamed text in, the part a person should see out: from the first ``<tool_call>``
    on, the text is the calls' and is kept in ``calls_text`` instead."""

    def __init__(self) -> None:
        self.held = ""  # the end of the text so far that may be the start of OPEN
        self.calls_text = ""
        self.calling = False

    def push(self, text: str) -> str:
        if self.calling:
            self.calls_text += text
            return ""
        self.held += text
        start = self.held.find(OPEN)
        if start >= 0:
            shown, self.calls_text, self.held = self.held[:start], self.held[start:], ""
            self.calling = True
            return shown
        keep = next(
            (
                n
                for n in range(min(len(OPEN) - 1, len(self.held)), 0, -1)
                if OPEN.startswith(self.held[-n:])
            ),
            0,
        )
        shown = self.held[: len(self.held) - keep]
        self.held = self.held[len(self.held) - keep :]
        return shown

    def flush(self) -> str:
        shown, self.held = self.held, ""
        return shown
