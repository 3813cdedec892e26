"""The default model's local decoding paths against each other and against llama.cpp.

Run as ``.venv/bin/python bench/fast.py`` (``--quick`` for a fast check). In one process,
run after run on the same chat prompt (the default model, SmolLM2-135M-Instruct, greedy,
N new tokens, 2 threads):

- ``generate``: transformers' ``model.generate`` on the converted model, bf16;
- ``minichat hf``: minichat's engine over the transformers model (``--engine hf``), bf16;
- ``minichat fast``: minichat's own network (``--engine fast``) at ``--quant none`` (bf16
  weights), ``int8`` and ``int4`` (bf16 activations), each decoding eagerly
  (``--compile off``) and through the compiled step (``--compile wait``: built first if
  it is not cached, which the load time shows); int4, compiled, is the default;
- ``llama.cpp``: llama-cpp-python on the very GGUF file minichat converts (Q4_1), when
  ``llama_cpp`` is importable. It is a benchmark-only extra: ``pip install
  llama-cpp-python`` compiles llama.cpp, about 20 minutes on 2 cores.

Printed per path: decode tokens/s ((N - 1) / (time from first to last token)), time to the
first token, prefill tokens/s (prompt tokens / time to first token), and each as a ratio to
llama.cpp. Medians of R runs, interleaved, after one warm-up each. Then the quality guard:
perplexity on held-out chitchat conversations and greedy agreement with the unquantized
fp32 model, for each quantization. Target: the default path (int4, compiled) decodes at >= 1.0x
llama.cpp with the guard passing (perplexity within 2% for int8, 5% for int4).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable

import torch
from decode import engine_run, generate_run

from minichat.backend import Message
from minichat.backends.hf import load_hf
from minichat.loading.gguf import converted_path
from minichat.loading.registry import load_backend, smollm2_gguf

PROMPT = "Write a long story about a dragon who learns to bake bread."
QUANTS = ("none", "int8", "int4")
BOUNDS = {"int8": 0.02, "int4": 0.05}
GUARD_PROMPTS = (
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain what a CPU does in two sentences.",
    "Give me three tips for learning to cook.",
)
Run = Callable[[], tuple[float, float]]  # one run: (decode tok/s, time to first token)


def llama_cpp_run(prompt_ids: list[int], n: int) -> Run | None:
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    llm = Llama(model_path=str(smollm2_gguf()), n_ctx=2048, n_threads=2, verbose=False)

    def run() -> tuple[float, float]:
        llm.reset()  # no reuse of the previous run's cache: a cold prefill, like the others
        start = time.perf_counter()
        times = []
        for _ in llm.create_completion(
            prompt_ids, max_tokens=n, temperature=0.0, top_k=1, stream=True
        ):  # type: ignore[union-attr]
            times.append(time.perf_counter())
        return (len(times) - 1) / (times[-1] - times[0]), times[0] - start

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128, help="N: new tokens per run")
    parser.add_argument("--repeats", type=int, default=3, help="R: runs per path")
    parser.add_argument("--quick", action="store_true", help="N=32, R=1, no quality guard")
    args = parser.parse_args()
    if args.quick:
        args.tokens, args.repeats = 32, 1
    n = args.tokens
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    threads = torch.get_num_threads()
    print(f"commit {commit.stdout.strip()}, torch {torch.__version__}, {threads} threads")

    messages = [Message("user", PROMPT)]
    hf = load_hf(str(converted_path(smollm2_gguf())), dtype="bf16")
    prompt_ids = hf.encode(messages)
    input_ids = torch.tensor([prompt_ids])
    pad = hf.tokenizer.pad_token_id or 0
    runs: dict[str, Run] = {
        "transformers generate, bf16": lambda: generate_run(
            hf.token_model.model, input_ids, n, pad
        ),
        "minichat hf, bf16": lambda: engine_run(hf, messages, n)[:2],
    }
    for quant in QUANTS:
        for compile in ("off", "wait"):
            start = time.perf_counter()
            fast = load_backend("smollm2", engine="fast", quant=quant, compile=compile)
            seconds = time.perf_counter() - start
            label = f"minichat fast, {quant}, " + ("eager" if compile == "off" else "compiled")
            if compile == "wait":
                print(f"{label}: loaded in {seconds:.1f} s (a first load builds the step)")
            runs[label + (" (default)" if (quant, compile) == ("int4", "wait") else "")] = (
                lambda fast=fast: engine_run(fast, messages, n)[:2]  # type: ignore[misc]
            )
    reference = llama_cpp_run(prompt_ids, n)
    if reference is not None:
        runs["llama.cpp, Q4_1 GGUF"] = reference
    else:
        print("llama.cpp: llama_cpp is not importable (pip install llama-cpp-python); no ratios")

    results: dict[str, list[tuple[float, float]]] = {label: [] for label in runs}
    for run in runs.values():
        run()  # warm-up
    for _ in range(args.repeats):
        for label, run in runs.items():
            results[label].append(run())
    medians = {
        label: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
        for label, rs in results.items()
    }
    base = medians.get("llama.cpp, Q4_1 GGUF")
    print(f"\n{len(prompt_ids)} prompt tokens, {n} new tokens, median of {args.repeats}")
    print(f"{'path':42} {'decode tok/s':>12} {'TTFT s':>8} {'prefill tok/s':>14}  vs llama.cpp")
    for label, (decode, ttft) in medians.items():
        ratio = ""
        if base is not None:
            ratio = f"decode {decode / base[0]:.2f}x, prefill {base[1] / ttft:.2f}x"
        print(f"{label:42} {decode:12.1f} {ttft:8.3f} {len(prompt_ids) / ttft:14.0f}  {ratio}")
    if not args.quick:
        guard(hf)


def guard(hf: object) -> None:
    from minichat.tinygpt import data
    from minichat.tinygpt.quality import greedy_agreement, perplexity

    reference = load_backend("smollm2", engine="fast", quant="none", dtype="fp32", compile="off")
    validation = data.build_corpus(data.chitchat_chats(), 0.05, seed=1337).validation[:3]
    text = "\n\n".join(data.plain_text(document) for document in validation)
    ids = reference.format.tokenizer.encode(text, add_special_tokens=False).ids  # type: ignore[attr-defined]
    prompts = [reference.encode([Message("user", p)]) for p in GUARD_PROMPTS]  # type: ignore[attr-defined]
    base = perplexity(reference.token_model.model, ids)  # type: ignore[attr-defined]
    print(f"\nquality guard: {len(ids)} held-out tokens, {len(prompts)} prompts x 32 greedy tokens")
    print(f"{'weights':10} {'perplexity':>10} {'rise':>7} {'bound':>6} {'greedy agreement':>17}")
    print(f"{'fp32':10} {base:10.3f} {'':>7} {'':>6} {'1.000':>17}")
    for quant in ("none", "int8", "int4"):
        fast = load_backend("smollm2", engine="fast", quant=quant, compile="off")
        model = fast.token_model.model  # type: ignore[attr-defined]
        value = perplexity(model, ids)
        agreement = greedy_agreement(reference.token_model.model, model, prompts, 32)  # type: ignore[attr-defined]
        bound = BOUNDS.get(quant)
        verdict = "" if bound is None else ("ok" if value <= base * (1 + bound) else "FAILED")
        label = "bf16" if quant == "none" else quant
        shown = f"{bound:.0%}" if bound else ""
        rise = value / base - 1
        print(f"{label:10} {value:10.3f} {rise:+7.2%} {shown:>6} {agreement:17.3f} {verdict}")


if __name__ == "__main__":
    main()
