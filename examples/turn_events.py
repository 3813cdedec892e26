"""A turn as the chat core yields it: the events every surface reads.

Run: python examples/turn_events.py "What is 1234 * 5678?" [MODEL]
(MODEL defaults to the embedded smollm2, which may call the calculator on the
way; `echo` calls no tool and needs no model at all.)
"""

from __future__ import annotations

import sys

from minichat import ChatSession, ConfigError, GenerationConfig, load_backend
from minichat.chat import events
from minichat.chat.report import line


def main(question: str, model: str = "smollm2") -> None:
    config = GenerationConfig(temperature=0, max_new_tokens=64)
    # with a loader the session can take the model's tool-use adapter when tools go on
    chat = ChatSession(
        load_backend(model),
        config,
        load_model=lambda name, adapter: load_backend(name, adapter=adapter),
    )
    try:
        chat.use_tools(["calculator"])
    except ConfigError as error:  # a backend that cannot call tools says so
        print(f"[no tools: {error}]")
    for event in chat.turn(question):
        match event:
            case events.Text(text):
                print(text, end="", flush=True)
            case events.ToolResult(ran):
                print(f"[tool {ran.line()}]")
            case events.Notice(text):
                print(f"\n[note: {text}]")
            case events.Done(exchange):
                print(f"\n[{line(exchange.stats, exchange.finish_reason)}]")


if __name__ == "__main__":
    main(*sys.argv[1:3])
