"""Time to first token over a long chat, with and without KV cache reuse.

Run as ``.venv/bin/python bench/reuse.py`` (``--turns 5`` for a quick check). Two
copies of the default model (SmolLM2-135M-Instruct, its default int4 fast path) hold
the same scripted chat: one keeps the KV cache of the prefix each prompt shares with
the last (``engine.prefix``), the other prefills every prompt from scratch. At each
turn the reusing copy answers through ``Conversation.exchange``, then the other is
sent the very same prompt, so both see identical inputs, interleaved in one process.

Printed per turn: prompt tokens, tokens reused from the cache, both times to first
token and their ratio; then turn N's time to first token over turn 1's for each.
Target: with reuse, turn 20 within 1.5x of turn 1. ``--tools``: the four built-in
tools offered at every turn (described right before each question, so each turn
reads the last exchange and their description again; ``--tools-at-top`` measures
the earlier rule, the description in the first system turn).
"""

from __future__ import annotations

import argparse
import subprocess

from minichat import Conversation, GenerationConfig, load_backend
from minichat.backends.local import LocalBackend

QUESTIONS = (
    "Tell me about the history of bread.",
    "Which grains are used for it?",
    "How does sourdough work?",
    "What makes a crust crisp?",
    "Give me a simple recipe.",
    "How long should the dough rise?",
    "What if my kitchen is cold?",
    "Can I bake it in a pot?",
    "How do I know it is done?",
    "Why did my loaf come out flat?",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20, help="N: turns in the chat")
    parser.add_argument("--tokens", type=int, default=64, help="reply tokens per turn")
    parser.add_argument("--tools", action="store_true", help="the built-in tools offered")
    parser.add_argument("--tools-at-top", action="store_true", help="... described at the top")
    args = parser.parse_args()
    box = None
    if args.tools or args.tools_at_top:
        from minichat.tools import hermes
        from minichat.tools.builtin import builtin
        from minichat.tools.toolbox import toolbox

        box = toolbox(builtin(["calculator", "now", "read_file", "list_dir"]))
        if args.tools_at_top:
            prepare = hermes.prepare
            hermes.prepare = lambda messages, tools, near=True: prepare(messages, tools, False)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"commit {commit.stdout.strip()}, {args.turns} turns, {args.tokens} reply tokens each")

    config = GenerationConfig(temperature=0, max_new_tokens=args.tokens)
    warm, cold = (load_backend("smollm2", compile="wait") for _ in range(2))
    assert isinstance(cold, LocalBackend)
    cold.reuse_cache = False
    conversation = Conversation()
    rows: list[tuple[int, int, int, float, float]] = []
    print(f"{'turn':>4} {'prompt':>7} {'reused':>7} {'TTFT reuse':>11} {'TTFT cold':>10}", end="")
    print(f" {'cold/reuse':>11}")
    for turn in range(1, args.turns + 1):
        question = QUESTIONS[(turn - 1) % len(QUESTIONS)]
        exchange = conversation.exchange(question, warm, config, tools=box)
        stream = cold.stream(exchange.fitted.messages, config, tools=box and box.offer(0))
        for _ in stream:
            pass
        a, b = exchange.stats, stream.stats
        assert b is not None and a.time_to_first_token and b.time_to_first_token
        rows.append(
            (turn, a.prompt_tokens, a.cached_tokens, a.time_to_first_token, b.time_to_first_token)
        )
        ratio = b.time_to_first_token / a.time_to_first_token
        print(
            f"{turn:4} {a.prompt_tokens:7} {a.cached_tokens:7} {a.time_to_first_token:10.3f}s"
            f" {b.time_to_first_token:9.3f}s {ratio:10.2f}x",
            flush=True,
        )
    first, last = rows[0], rows[-1]
    print(f"\nturn {last[0]} over turn 1, time to first token:")
    verdict = "ok" if last[3] / first[3] <= 1.5 else "over the 1.5x target"
    print(f"  with reuse    {last[3] / first[3]:.2f}x ({verdict})")
    print(f"  without reuse {last[4] / first[4]:.2f}x")


if __name__ == "__main__":
    main()
