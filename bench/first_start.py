"""A new machine's first chat: how long it decodes at which speed until the fast path lands.

Run as ``.venv/bin/python bench/first_start.py`` (``--isa avx2`` as an AVX2 machine:
PyTorch, oneDNN and MKL held to AVX2, ``minichat.cpu.AVX2_ENV``). It starts the
default model with an empty cache of its own, as a first start does (``--compile
auto``: the compiled step, and minichat's kernels where the CPU wants them, build in
the background), and then asks for a reply of N greedy tokens every few seconds, as
a user chatting would, printing for each: the seconds since the model was asked
for, decode tok/s, and what the backend says it runs (eager, eager with the kernels,
the compiled step). It stops once the compiled step has answered R times.

The GGUF conversion and the quantization a first start also does are timed apart
(``load``), before the first reply.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=("native", "avx2"), default="native")
    parser.add_argument("--tokens", type=int, default=64, help="N: new tokens per reply")
    parser.add_argument("--after", type=int, default=3, help="R: compiled replies to end on")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between replies")
    parser.add_argument("--limit", type=float, default=300.0, help="give up after this long")
    args = parser.parse_args()
    from minichat.cpu import AVX2_ENV

    if args.isa == "avx2" and os.environ.get("ATEN_CPU_CAPABILITY") != "avx2":
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **AVX2_ENV})
    cache = tempfile.mkdtemp(prefix="minichat-first-start-")
    os.environ["MINICHAT_CACHE_DIR"] = cache  # before minichat reads it: a new machine's

    sys.path.insert(0, str(Path(__file__).parent))
    from decode import engine_run

    from minichat import Message, cpu, load_backend
    from minichat.tinygpt import kernels

    print(f"CPU: {cpu.isa()}; minichat's kernels wanted: {kernels.wanted()}; cache {cache}")
    start = time.perf_counter()
    backend = load_backend("smollm2", compile="auto")
    print(f"load (conversion, quantization): {time.perf_counter() - start:.1f} s")
    print(f"{'s':>6} {'tok/s':>7}  path")
    messages = [Message("user", "Write a long story about a dragon who learns to bake bread.")]
    compiled = 0
    while compiled < args.after and time.perf_counter() - start < args.limit:
        model = backend.token_model  # type: ignore[attr-defined]
        state = model.step_state()  # takes up what has landed, as a reply's start does
        if any(getattr(m, "fast", False) for m in model.model.modules()):
            state += ", minichat's kernels"
        speed = engine_run(backend, messages, args.tokens)[0]
        print(f"{time.perf_counter() - start:6.1f} {speed:7.1f}  {state}", flush=True)
        compiled += model.compiled is not None
        time.sleep(args.pause)


if __name__ == "__main__":
    main()
