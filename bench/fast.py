"""The default model's local paths on this CPU, against llama.cpp on the same GGUF file.

Run as ``.venv/bin/python bench/fast.py`` (``--quick`` for a fast check), after ``make
llama-bench`` for the llama.cpp rows. ``--isa avx2`` runs it all again as an AVX2 machine
would: PyTorch, oneDNN and MKL held to AVX2 (``minichat.cpu.AVX2_ENV``), against
llama.cpp built for AVX2 and FMA only (``.venv-llama-avx2``). The default model is
SmolLM2-135M-Instruct; every run is greedy, prefills its whole prompt (no cache reuse)
and uses the threads minichat's policy gives it (2 here when the machine is quiet).

1. The CPU: its relevant flags, what ``minichat.cpu`` makes of them, PyTorch's kernel
   capability.
2. Per path this CPU runs (``--engine fast`` at ``--quant none``, ``int8`` and ``int4``,
   each eager and through the compiled step, built first if it is not cached: the load
   time shows that; where minichat's own kernels are used (``tinygpt.kernels``), int4
   eager with PyTorch's kernels as well): decode tokens/s on a short prompt (N new
   tokens; (N - 1) / time from first to last token), prefill tokens/s on a ~1,000-token
   prompt (prompt tokens / time to first token), each with its ratio to llama.cpp.
   Medians of R interleaved runs after a warm-up each.
3. The quality guard, per quantization: perplexity on held-out chitchat conversations
   in windows of 512 tokens (the dense prefill path) and on their first 512 tokens
   read one at a time (the decoding kernels), and greedy agreement with the
   unquantized fp32 model over 4 prompts x 32 tokens, fed one at a time.
4. Contention: decode tok/s of the default path and of llama.cpp, quiet, beside a
   single-threaded busy loop and beside a two-thread PyTorch job (both started and
   stopped here), each as a share of its own quiet speed.

Targets (issue 15): the default path >= 1.0x llama.cpp in decode and >= 1.5x in prefill,
the guard passing (perplexity within 2% for int8, 5% for int4); beside the busy loop
>= 60% of quiet decode speed, beside the two-thread job >= 35%.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from minichat.backend import Message

ROOT = Path(__file__).resolve().parent.parent
LLAMA = {"native": ROOT / ".venv-llama/bin/python", "avx2": ROOT / ".venv-llama-avx2/bin/python"}
SHORT = "Write a long story about a dragon who learns to bake bread."
LONG_TOKENS = 1000  # the prefill prompt's length, about
STEPWISE_TOKENS = 512  # the guard's text read one token at a time
QUANTS = ("none", "int8", "int4")
BOUNDS = {"int8": 0.02, "int4": 0.05}
GUARD_PROMPTS = (
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain what a CPU does in two sentences.",
    "Give me three tips for learning to cook.",
)
FLAGS = ("avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")
Run = Callable[[], tuple[float, float]]  # one run: (decode tok/s, time to first token)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=("native", "avx2"), default="native")
    parser.add_argument("--tokens", type=int, default=128, help="N: new tokens per decode run")
    parser.add_argument("--repeats", type=int, default=3, help="R: runs per path")
    parser.add_argument("--quick", action="store_true", help="N=32, R=1, no guard or contention")
    parser.add_argument("--llama", type=Path, help="a Python with llama_cpp (default: by --isa)")
    parser.add_argument("--no-contention", action="store_true")
    args = parser.parse_args()
    if args.isa == "avx2" and os.environ.get("ATEN_CPU_CAPABILITY") != "avx2":
        from minichat.cpu import AVX2_ENV  # before torch loads: it reads them at start

        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **AVX2_ENV})
    if args.quick:
        args.tokens, args.repeats, args.no_contention = 32, 1, True
    import torch

    from minichat import cpu
    from minichat.engine import threads
    from minichat.engine.threads import ThreadPolicy

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"commit {commit.stdout.strip()}, torch {torch.__version__}, {os.cpu_count()} CPUs")
    have = [flag for flag in FLAGS if flag in cpu.flags()]
    print(
        f"CPU flags: {' '.join(have)}; minichat sees {cpu.isa()}, bf16 in hardware: "
        f"{cpu.has_bf16()}; PyTorch kernels: {torch.backends.cpu.get_cpu_capability()}"
    )
    if args.isa == "avx2":
        print("held to AVX2: " + " ".join(f"{k}={v}" for k, v in cpu.AVX2_ENV.items()))

    paths = load_paths()
    default = next(backend for label, backend in paths.items() if label.endswith(DEFAULT))
    short, long = prompts(default)
    short_ids, long_ids = default.encode(short), default.encode(long)  # type: ignore[attr-defined]
    cores = torch.get_num_threads()
    llama = LlamaCpp.start(args.llama or LLAMA[args.isa], cores)
    # every path at the same thread count: the adaptive policy would count llama.cpp's
    # runs between minichat's as a neighbour (the contention rows use it)
    threads._policy = ThreadPolicy(cores, torch.set_num_threads, read=lambda: None)
    runs: dict[str, tuple[Run, Run]] = {
        label: (engine(backend, short, args.tokens), engine(backend, long, 2))
        for label, backend in paths.items()
    }
    if llama is not None:
        runs[LLAMA_LABEL] = (llama.run(short_ids, args.tokens), llama.run(long_ids, 2))
    results = measure(runs, args.repeats)
    report(results, len(long_ids), args)
    if not args.quick:
        guard()
    if not args.no_contention:
        threads._policy = ThreadPolicy(cores, torch.set_num_threads)  # minichat's own, adaptive
        contention(default, short, llama, short_ids, args)
    if llama is not None:
        llama.stop()


DEFAULT = "compiled (default)"  # the label's end for the path --quant auto takes here
LLAMA_LABEL = "llama.cpp, Q4_1 GGUF"


def load_paths() -> dict[str, object]:
    from minichat.catalog import load_backend
    from minichat.tinygpt import kernels

    paths: dict[str, object] = {}
    if kernels.wanted():  # built before any path loads, so that each one uses them
        start = time.perf_counter()
        cached = kernels.library_path().is_file()
        kernels.build()
        took = "cached" if cached else f"built in {time.perf_counter() - start:.1f} s"
        print(f"minichat's kernels (this CPU wants them): {took}")
        baseline = load_backend("smollm2", engine="fast", quant="int4", compile="off")
        for module in baseline.token_model.model.modules():  # type: ignore[attr-defined]
            if hasattr(module, "fast"):
                module.fast = False  # back to PyTorch's kernels, for the comparison
        paths["fast, int4, eager, PyTorch's kernels"] = baseline
    for quant in QUANTS:
        for compile in ("off", "wait"):
            start = time.perf_counter()
            backend = load_backend("smollm2", engine="fast", quant=quant, compile=compile)
            seconds = time.perf_counter() - start
            label = f"fast, {quant}, " + ("eager" if compile == "off" else "compiled")
            if (quant, compile) == (kernels.default_quant(), "wait"):
                label = f"fast, {quant}, {DEFAULT}"
            print(f"{label}: {backend.describe()}; loaded in {seconds:.1f} s")
            paths[label] = backend
    return paths


def prompts(backend: object) -> tuple[list[Message], list[Message]]:
    """The short prompt, and about LONG_TOKENS tokens of held-out chitchat conversations
    to summarise."""
    from minichat.tinygpt import data

    corpus = data.build_corpus(data.chitchat_chats(), 0.05, seed=1337).validation
    words = "\n\n".join(data.plain_text(document) for document in corpus[:40]).split(" ")
    while True:
        long = [Message("user", "Summarise these conversations:\n\n" + " ".join(words))]
        count = len(backend.encode(long))  # type: ignore[attr-defined]
        if count <= LONG_TOKENS:
            return [Message("user", SHORT)], long
        words = words[: int(len(words) * LONG_TOKENS / count * 0.99)]


def engine(backend: object, messages: list[Message], n: int) -> Run:
    from decode import engine_run

    return lambda: engine_run(backend, messages, n)[:2]  # type: ignore[arg-type]


class LlamaCpp:
    """llama.cpp in its own venv's Python (``bench/llama_cpp_child.py``)."""

    def __init__(self, process: subprocess.Popen[str]):
        self.process = process

    @classmethod
    def start(cls, python: Path, threads: int) -> LlamaCpp | None:
        if not python.exists():
            print(f"llama.cpp: no {python} (make llama-bench builds it); no ratios")
            return None
        from minichat.catalog import smollm2_gguf

        child = ROOT / "bench" / "llama_cpp_child.py"
        command = [str(python), str(child), str(smollm2_gguf()), str(threads)]
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        if not process.stdout.readline():
            print(f"llama.cpp: {python} could not load the model; no ratios")
            return None
        return cls(process)

    def run(self, ids: list[int], n: int) -> Run:
        def one() -> tuple[float, float]:
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.write(json.dumps({"ids": ids, "n": n}) + "\n")
            self.process.stdin.flush()
            answer = json.loads(self.process.stdout.readline())
            return answer["decode"], answer["ttft"]

        return one

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def measure(runs: dict[str, tuple[Run, Run]], repeats: int) -> dict[str, tuple[float, float]]:
    """Per path: median decode tok/s (short prompt) and median time to first token (long)."""
    decodes: dict[str, list[float]] = {label: [] for label in runs}
    ttfts: dict[str, list[float]] = {label: [] for label in runs}
    for short, long in runs.values():
        short(), long()  # warm-up
    for _ in range(repeats):
        for label, (short, long) in runs.items():
            decodes[label].append(short()[0])
            ttfts[label].append(long()[1])
    return {
        label: (statistics.median(decodes[label]), statistics.median(ttfts[label]))
        for label in runs
    }


def report(results: dict[str, tuple[float, float]], prompt: int, args: argparse.Namespace) -> None:
    base = results.get(LLAMA_LABEL)
    print(
        f"\ndecode: {args.tokens} new tokens after a short prompt; prefill: a {prompt}-token "
        f"prompt; median of {args.repeats}"
    )
    print(f"{'path':37} {'decode tok/s':>12} {'prefill tok/s':>14} {'TTFT s':>7}  vs llama.cpp")
    for label, (decode, ttft) in results.items():
        ratio = ""
        if base is not None and label != LLAMA_LABEL:
            ratio = f"decode {decode / base[0]:.2f}x, prefill {base[1] / ttft:.2f}x"
        print(f"{label:37} {decode:12.1f} {prompt / ttft:14.0f} {ttft:7.2f}  {ratio}")


def guard() -> None:
    from minichat.backend import Message
    from minichat.catalog import load_backend
    from minichat.tinygpt import data
    from minichat.tinygpt.quality import greedy_agreement, perplexity, stepwise_perplexity

    reference = load_backend("smollm2", engine="fast", quant="none", dtype="fp32", compile="off")
    validation = data.build_corpus(data.chitchat_chats(), 0.05, seed=1337).validation[:3]
    text = "\n\n".join(data.plain_text(document) for document in validation)
    ids = reference.format.tokenizer.encode(text, add_special_tokens=False).ids  # type: ignore[attr-defined]
    prompts = [reference.encode([Message("user", p)]) for p in GUARD_PROMPTS]  # type: ignore[attr-defined]
    steps = ids[:STEPWISE_TOKENS]
    base = perplexity(reference.token_model.model, ids)  # type: ignore[attr-defined]
    base_steps = stepwise_perplexity(reference.token_model.model, steps)  # type: ignore[attr-defined]
    print(
        f"\nquality guard: perplexity on {len(ids)} held-out tokens in windows (the prompt "
        f"path) and on the first {len(steps)} one at a time (the decoding path); greedy "
        f"agreement over {len(prompts)} prompts x 32 tokens"
    )
    print(
        f"{'weights':16} {'perplexity':>10} {'rise':>7} {'stepwise':>9} {'rise':>7} "
        f"{'bound':>6} {'greedy agreement':>17}"
    )
    print(f"{'fp32':16} {base:10.3f} {'':>7} {base_steps:9.3f} {'':>7} {'':>6} {'1.000':>17}")
    for quant in QUANTS:
        fast = load_backend("smollm2", engine="fast", quant=quant, compile="off")
        model = fast.token_model.model  # type: ignore[attr-defined]
        value, stepwise = perplexity(model, ids), stepwise_perplexity(model, steps)
        agreement = greedy_agreement(reference.token_model.model, model, prompts, 32)  # type: ignore[attr-defined]
        bound = BOUNDS.get(quant)
        within = bound is not None and max(value / base, stepwise / base_steps) <= 1 + bound
        verdict = "" if bound is None else ("ok" if within else "FAILED")
        dtype = str(fast.token_model.dtype).removeprefix("torch.")  # type: ignore[attr-defined]
        label = f"{quant}, {dtype}"
        shown = f"{bound:.0%}" if bound else ""
        rise, step_rise = value / base - 1, stepwise / base_steps - 1
        print(
            f"{label:16} {value:10.3f} {rise:+7.2%} {stepwise:9.3f} {step_rise:+7.2%} "
            f"{shown:>6} {agreement:17.3f} {verdict}"
        )


def contention(
    default: object,
    short: list[Message],
    llama: LlamaCpp | None,
    short_ids: list[int],
    args: argparse.Namespace,
) -> None:
    from threads import NEIGHBOURS

    runs: dict[str, Run] = {"minichat, default path": engine(default, short, args.tokens)}
    if llama is not None:
        runs["llama.cpp, 2 threads"] = llama.run(short_ids, args.tokens)
    speeds: dict[tuple[str, str], float] = {}
    for case, code in NEIGHBOURS.items():
        neighbour = subprocess.Popen([sys.executable, "-c", code]) if code else None
        try:
            time.sleep(1.0)  # let it get going
            for label, run in runs.items():
                time.sleep(0.5)
                run()  # after the other engine's runs: the policy's window sees only the neighbour
                values = []
                for _ in range(args.repeats):
                    time.sleep(0.5)  # a user reading the last reply: the policy's window
                    values.append(run()[0])
                speeds[(case, label)] = statistics.median(values)
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
    print(f"\ncontention: decode tok/s, {args.tokens} new tokens, median of {args.repeats}")
    print(f"{'neighbour':24} {'engine':24} {'tok/s':>7} {'of quiet':>9}")
    for (case, label), speed in speeds.items():
        quiet = speeds[("quiet", label)]
        print(f"{case:24} {label:24} {speed:7.1f} {speed / quiet:9.0%}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
