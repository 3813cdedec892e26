"""Decode speed of minichat's engine against plain ``model.generate``, and CLI start-up.

Run as ``.venv/bin/python bench/decode.py`` (or ``make bench``); ``--quick`` for a fast check.

1. Engine vs generate, on the default model (smollm2, SmolLM2-135M-Instruct) and one prompt,
   for dtype fp32 and bf16 (``--dtype auto`` on the CPU is bf16). The engine is the default
   backend's ``stream``, the native path (greedy, no repetition penalty, N new tokens at most;
   it may end early on the end-of-turn token, so the number it actually made is printed); "hf
   path" is the same loop over the transformers model (``hf:``). ``generate`` runs greedy on
   that transformers model, from the same converted folder and in the same dtype, with exactly
   N new tokens; its time to first token is the time of ``generate`` for one token
   and its decode speed is (N - 1) / (time for N - time for 1). Each number is the median of R
   runs, all three interleaved, after one warm-up of each. Also printed: the "as shipped"
   ratio, the engine at dtype auto (bf16) against generate at fp32, which is what
   ``AutoModelForCausalLM.from_pretrained`` gives by default.
2. The CLI, ``echo hi | minichat --max-tokens 16 --temperature 0`` with a warm cache: the wall
   time of the command and the time from its start until the first byte on its stdout, median of
   R runs; and the same with ``--model echo``, the bare cost of starting Python and the CLI.

Targets: the engine decodes at >= 1.2x the speed of ``generate``; a one-shot ``minichat`` prints
its first token within 3 s of the command starting.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers.utils import logging as hf_logging

from minichat.backend import ChatBackend, Message
from minichat.backends.hf import load_hf
from minichat.backends.local import LocalBackend
from minichat.catalog import load_backend, smollm2_gguf
from minichat.config import GenerationConfig
from minichat.loading.gguf import converted_path

MODEL = "smollm2"
PROMPT = "Write a long story about a dragon who learns to bake bread."
DTYPES = ("fp32", "bf16")
CLI_ARGS = ("--max-tokens", "16", "--temperature", "0")
ENGINE_TARGET = 1.2  # engine decode speed / generate decode speed
FIRST_BYTE_TARGET_S = 3.0  # one-shot CLI: command start to first byte of the reply


@dataclass(frozen=True)
class Speed:
    """One dtype's medians: decode tokens/s and time to first token (s)."""

    decode_tps: float
    ttft_s: float


@dataclass(frozen=True)
class DtypeResult:
    dtype: str
    engine: Speed  # the default model's path: the native engine (TinyGPT)
    hf_engine: Speed  # the same engine loop over the transformers model (HFBackend)
    generate: Speed
    engine_new_tokens: int
    prompt_tokens: int


@dataclass(frozen=True)
class CliResult:
    label: str
    wall_s: float
    first_byte_s: float


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per run (N)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (R)")
    parser.add_argument("--quick", action="store_true", help="a fast check: N=32, R=1")
    args = parser.parse_args(argv)
    if args.quick:
        args.tokens, args.repeats = 32, 1
    if args.tokens < 2 or args.repeats < 1:
        parser.error("--tokens must be >= 2 and --repeats >= 1")
    return args


# --- engine vs generate -------------------------------------------------------------------


def engine_run(backend: ChatBackend, messages: list[Message], n: int) -> tuple[float, float, int]:
    """One engine reply: (decode tok/s, time to first token, new tokens). Every run
    prefills its whole prompt, as ``generate`` and llama.cpp do: no cache reuse."""
    if isinstance(backend, LocalBackend):
        backend.reuse_cache = False
    # no repetition penalty: the same greedy tokens as generate's
    config = GenerationConfig(temperature=0, max_new_tokens=n, repetition_penalty=1.0)
    stream = backend.stream(messages, config)
    for _ in stream:
        pass
    stats = stream.stats
    if stats is None or stats.time_to_first_token is None or stats.tokens_per_second is None:
        raise RuntimeError(f"the engine produced too little to time: {stats}")
    return stats.tokens_per_second, stats.time_to_first_token, stats.new_tokens


def generate_seconds(model: Any, input_ids: torch.Tensor, n: int, pad_id: int) -> float:
    """Wall time of greedy ``model.generate`` making exactly ``n`` new tokens."""
    mask = torch.ones_like(input_ids)
    with torch.inference_mode():
        start = time.perf_counter()
        out = model.generate(
            input_ids=input_ids,
            attention_mask=mask,
            do_sample=False,
            max_new_tokens=n,
            min_new_tokens=n,
            pad_token_id=pad_id,
        )
        seconds = time.perf_counter() - start
    made = out.shape[1] - input_ids.shape[1]
    if made != n:
        raise RuntimeError(f"generate made {made} tokens, expected {n}")
    return seconds


def generate_run(model: Any, input_ids: torch.Tensor, n: int, pad_id: int) -> tuple[float, float]:
    """One pair of generate calls: (decode tok/s, time to first token)."""
    first = generate_seconds(model, input_ids, 1, pad_id)
    full = generate_seconds(model, input_ids, n, pad_id)
    return (n - 1) / (full - first), first


def bench_dtype(dtype: str, n: int, repeats: int) -> DtypeResult:
    """Load both paths in ``dtype``; time them and generate, interleaved."""
    # unquantized as generate is, and eager: the engine loop itself is measured here
    backend = load_backend(MODEL, dtype=dtype, quant="none", compile="off")
    hf = load_hf(str(converted_path(smollm2_gguf())), dtype=dtype)
    messages = [Message("user", PROMPT)]
    model, tokenizer = hf.token_model.model, hf.tokenizer
    prompt_ids = hf.encode(messages)
    if backend.count_tokens(messages) != len(prompt_ids):
        raise RuntimeError("the native and transformers paths tokenized the prompt differently")
    input_ids = torch.tensor([prompt_ids], device=model.device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    engine_run(backend, messages, n)  # warm-up
    engine_run(hf, messages, n)
    generate_run(model, input_ids, n, pad_id)
    engine: list[tuple[float, float, int]] = []
    hf_engine: list[tuple[float, float, int]] = []
    generate: list[tuple[float, float]] = []
    for _ in range(repeats):
        engine.append(engine_run(backend, messages, n))
        hf_engine.append(engine_run(hf, messages, n))
        generate.append(generate_run(model, input_ids, n, pad_id))
    backend.close()
    hf.close()
    return DtypeResult(
        dtype=dtype,
        engine=Speed(median(e[0] for e in engine), median(e[1] for e in engine)),
        hf_engine=Speed(median(e[0] for e in hf_engine), median(e[1] for e in hf_engine)),
        generate=Speed(median(g[0] for g in generate), median(g[1] for g in generate)),
        engine_new_tokens=min(e[2] for e in engine),
        prompt_tokens=len(prompt_ids),
    )


def median(values: Any) -> float:
    return float(statistics.median(list(values)))


# --- the CLI --------------------------------------------------------------------------------


def minichat_command() -> Path:
    return Path(sys.executable).parent / "minichat"


def cli_env(config_dir: str) -> dict[str, str]:
    """The environment minus MINICHAT_* settings, with an empty config folder, so the run uses
    the defaults; the cache (the converted model) stays where it is."""
    keep = {"MINICHAT_CACHE_DIR", "MINICHAT_DATA_DIR"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINICHAT_") or k in keep}
    env["MINICHAT_CONFIG_DIR"] = config_dir
    return env


def cli_run(args: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``echo hi | minichat ARGS``: (wall time, time to the first byte on stdout)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(minichat_command()), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            bufsize=0,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"hi\n")
        proc.stdin.close()
        fd = proc.stdout.fileno()
        first_byte: float | None = None
        while os.read(fd, 1 if first_byte is None else 65536):
            if first_byte is None:
                first_byte = time.perf_counter() - start
        code = proc.wait()
        wall = time.perf_counter() - start
        proc.stdout.close()
        if code != 0 or first_byte is None:
            err.seek(0)
            message = err.read().decode(errors="replace").strip()
            raise RuntimeError(f"minichat {' '.join(args)} exited {code}: {message}")
    return wall, first_byte


def bench_cli(label: str, args: Sequence[str], repeats: int) -> CliResult:
    with tempfile.TemporaryDirectory() as config_dir:
        env = cli_env(config_dir)
        cli_run(args, env)  # warm-up: the model's cache and the OS's file cache
        runs = [cli_run(args, env) for _ in range(repeats)]
    return CliResult(label, median(r[0] for r in runs), median(r[1] for r in runs))


# --- report ---------------------------------------------------------------------------------


def print_header(n: int, repeats: int) -> None:
    print(
        f"minichat decode benchmark: model {MODEL}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} (the machine is shared: other load skews this)"
    )
    print(f"prompt: {PROMPT!r}; N = {n} new tokens; median of {repeats} run(s)")


def print_decode_table(results: Sequence[DtypeResult], n: int) -> None:
    print()
    print(f"prompt tokens: {results[0].prompt_tokens}")
    head = (
        "dtype",
        "engine tok/s",
        "hf path tok/s",
        "generate tok/s",
        "engine/gen",
        "engine ttft",
        "gen ttft",
    )
    print("{:<6} {:>13} {:>14} {:>15} {:>11} {:>12} {:>10}".format(*head))
    for r in results:
        ratio = r.engine.decode_tps / r.generate.decode_tps
        print(
            f"{r.dtype:<6} {r.engine.decode_tps:>13.1f} {r.hf_engine.decode_tps:>14.1f} "
            f"{r.generate.decode_tps:>15.1f} {ratio:>10.2f}x {r.engine.ttft_s:>10.3f} s "
            f"{r.generate.ttft_s:>8.3f} s"
        )
    for r in results:
        if r.engine_new_tokens != n:
            print(f"note: at {r.dtype} the engine made only {r.engine_new_tokens} of {n} tokens")
    by_dtype = {r.dtype: r for r in results}
    shipped, default = by_dtype["bf16"].engine, by_dtype["fp32"].generate
    ratio = shipped.decode_tps / default.decode_tps
    print(
        f"as shipped (engine at auto = bf16 vs generate at fp32): {ratio:.2f}x decode, "
        f"ttft {shipped.ttft_s:.3f} s vs {default.ttft_s:.3f} s"
    )
    worst = min(r.engine.decode_tps / r.generate.decode_tps for r in results)
    verdict = "met" if worst >= ENGINE_TARGET else "NOT met"
    print(f"engine >= {ENGINE_TARGET:.1f}x generate at the same dtype: {verdict} ({worst:.2f}x)")


def print_cli_table(results: Sequence[CliResult]) -> None:
    width = max(len(r.label) for r in results)
    print()
    print(f"{'command (warm cache)':<{width}} {'wall':>9} {'first byte':>11}")
    for r in results:
        print(f"{r.label:<{width}} {r.wall_s:>7.2f} s {r.first_byte_s:>9.2f} s")
    first = results[0].first_byte_s
    met = "met" if first <= FIRST_BYTE_TARGET_S else "NOT met"
    print(f"one-shot first byte target <= {FIRST_BYTE_TARGET_S:.0f} s: {met}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    hf_logging.set_verbosity_error()
    print_header(args.tokens, args.repeats)
    results = [bench_dtype(dtype, args.tokens, args.repeats) for dtype in DTYPES]
    print_decode_table(results, args.tokens)
    cli = " ".join(CLI_ARGS)
    print_cli_table(
        [
            bench_cli(f"echo hi | minichat {cli}", CLI_ARGS, args.repeats),
            bench_cli(
                f"echo hi | minichat --model echo {cli}",
                ("--model", "echo", *CLI_ARGS),
                args.repeats,
            ),
        ]
    )


if __name__ == "__main__":
    main()
