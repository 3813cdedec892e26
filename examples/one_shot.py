"""One question, one answer, from Python: the chat core's call behind `minichat ask`.

Run: python examples/one_shot.py "What is the capital of France?" [MODEL]
(MODEL defaults to the embedded smollm2; `echo` needs no model at all.)
"""

from __future__ import annotations

import sys

from minichat import ChatSession, GenerationConfig, load_backend
from minichat.chat.report import line


def main(question: str, model: str = "smollm2") -> None:
    chat = ChatSession(load_backend(model), GenerationConfig(temperature=0, max_new_tokens=64))
    exchange = chat.send(question, on_text=lambda piece: print(piece, end="", flush=True))
    print(f"\n[{line(exchange.stats, exchange.finish_reason)}]")


if __name__ == "__main__":
    main(*sys.argv[1:3])
