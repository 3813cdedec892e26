"""One question, one answer, from Python: the library call behind `minichat ask`.

Run: python examples/one_shot.py "What is the capital of France?" [MODEL]
(MODEL defaults to the embedded smollm2; `echo` needs no model at all.)
"""

from __future__ import annotations

import sys

from minichat import Conversation, GenerationConfig, load_backend


def main(question: str, model: str = "smollm2") -> None:
    backend = load_backend(model)
    config = GenerationConfig(temperature=0, max_new_tokens=64)
    exchange = Conversation().exchange(
        question, backend, config, on_text=lambda piece: print(piece, end="", flush=True)
    )
    stats = exchange.stats
    print(f"\n[{stats.new_tokens} tokens, ended by {exchange.finish_reason}]")


if __name__ == "__main__":
    main(*sys.argv[1:3])
