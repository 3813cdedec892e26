"""Decode speed when another program competes for the CPU: adaptive threads against all.

Run as ``.venv/bin/python bench/threads.py`` (``--repeats 1 --tokens 32`` for a quick
check; ``--compile off`` for the eager network). The default model
(SmolLM2-135M-Instruct, its default int4 fast path with the compiled step) answers
the same prompt, greedy, quiet and then beside a neighbour that the benchmark
starts and stops: a single-threaded busy loop, and a two-thread PyTorch
matrix-product job. Each case runs both ways, interleaved: with minichat's thread
policy (``engine.threads``: the cores the others left free) and with every core,
as PyTorch does by itself. Between replies it waits half a second, a user's
reading time, which is the window the policy looks at.

Printed: the CPU's cores, then per case decode tok/s of both and each over the quiet
speed with all threads. Targets: beside the busy loop >= 60% of quiet, beside the
two-thread job >= 35%.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import torch

from minichat import GenerationConfig, Message, load_backend
from minichat.engine import threads
from minichat.engine.threads import ThreadPolicy

NEIGHBOURS = {
    "quiet": None,
    "busy loop, 1 thread": "while True: pass",
    "PyTorch job, 2 threads": (
        "import torch\ntorch.set_num_threads(2)\na = torch.randn(1500, 1500)\nwhile True: a @ a"
    ),
}
PROMPT = [Message("user", "Write a short story about a lighthouse keeper.")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="replies per case and policy")
    parser.add_argument("--tokens", type=int, default=64, help="reply tokens")
    parser.add_argument("--compile", default="wait", help="wait (the compiled step) or off")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    cores = torch.get_num_threads()
    print(f"commit {commit.stdout.strip()}, {os.cpu_count()} CPUs, torch uses {cores} threads")
    backend = load_backend("smollm2", compile=args.compile)
    print(backend.describe())
    config = GenerationConfig(temperature=0, max_new_tokens=args.tokens)
    policies = {
        "adaptive": lambda: ThreadPolicy(cores, torch.set_num_threads),
        "all threads": lambda: ThreadPolicy(cores, torch.set_num_threads, read=lambda: None),
    }

    def speed() -> tuple[float, int]:
        time.sleep(0.5)  # the user reads the last reply: the window the policy looks at
        backend.close()  # no cache reuse: every reply prefills the whole prompt
        stream = backend.stream(PROMPT, config)
        "".join(stream)
        assert stream.stats is not None and stream.stats.tokens_per_second is not None
        return stream.stats.tokens_per_second, torch.get_num_threads()

    results: dict[tuple[str, str], list[float]] = {}
    used: dict[tuple[str, str], int] = {}
    for case, code in NEIGHBOURS.items():
        neighbour = subprocess.Popen([sys.executable, "-c", code]) if code else None
        try:
            time.sleep(1.0)  # let it get going
            for _ in range(args.repeats):
                for name, make in policies.items():
                    torch.set_num_threads(cores)  # each policy starts where PyTorch does
                    threads._policy = make()
                    speed()  # the first reply after a switch: the policy's first look
                    tok_s, count = speed()
                    results.setdefault((case, name), []).append(tok_s)
                    used[(case, name)] = count
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
    torch.set_num_threads(cores)

    quiet = statistics.median(results[("quiet", "all threads")])
    print(f"\n{'neighbour':<24} {'policy':<12} {'threads':>7} {'tok/s':>7} {'of quiet':>9}")
    for (case, name), values in results.items():
        tok_s = statistics.median(values)
        print(f"{case:<24} {name:<12} {used[(case, name)]:>7} {tok_s:>7.1f} {tok_s / quiet:>8.0%}")


if __name__ == "__main__":
    main()
