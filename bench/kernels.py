"""One token's matrix products: PyTorch's quantized kernels against minichat's own.

Run as ``.venv/bin/python bench/kernels.py`` (``--isa avx2``: PyTorch, oneDNN and MKL
held to AVX2, ``minichat.cpu.AVX2_ENV``; ``--threads N``, 1 by default). For each
matrix shape of SmolLM2-135M (576 wide, the 1,536-wide MLP, the 49,152-row output
projection) and each weight format, it times the quantized layer's forward of one
row both ways, interleaved, median of R rounds of many calls: PyTorch's packed
kernels (``torch._weight_int4pack_mm_for_cpu``, ``torch._weight_int8pack_mm``) and
minichat's (``tinygpt/kernels.cpp``, built first if it is not cached), with the
ratio and the relative error of each against the product with the dequantized
matrix. Random weights; the layers as the model holds them, fp32 activations.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

SHAPES = ((1536, 576), (576, 1536), (576, 576), (49152, 576))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=("native", "avx2"), default="native")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5, help="R")
    args = parser.parse_args()
    from minichat.cpu import AVX2_ENV

    if args.isa == "avx2" and os.environ.get("ATEN_CPU_CAPABILITY") != "avx2":
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **AVX2_ENV})
    import torch

    from minichat import cpu
    from minichat.tinygpt import kernels
    from minichat.tinygpt.quant import Int4Linear, Int8Linear

    torch.set_num_threads(args.threads)
    kernels.build()
    kernels.load()
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"CPU: {cpu.isa()}; PyTorch kernels: {capability}; {args.threads} thread(s)")
    print(f"one row, fp32; median of {args.rounds} rounds")
    header = f"{'matrix':>12} {'weights':>7} {'PyTorch us':>10} {'minichat us':>11} {'ratio':>6}"
    print(header + "  error (PyTorch / minichat)")
    torch.manual_seed(0)
    for rows, columns in SHAPES:
        weight = torch.randn(rows, columns) * 0.05
        x = torch.randn(1, columns)
        calls = max(20, 2_000_000 // (rows * columns) * 20)
        for kind in (Int4Linear, Int8Linear):
            layer = kind.from_weight(weight)
            layer.pack()
            want = x @ layer.dequantized(torch.float32).t()
            times: dict[bool, list[float]] = {False: [], True: []}
            errors = {}
            with torch.inference_mode():
                for _ in range(args.rounds):
                    for fast in (False, True):
                        layer.fast = fast
                        got = layer(x)
                        start = time.perf_counter()
                        for _ in range(calls):
                            layer(x)
                        times[fast].append((time.perf_counter() - start) / calls * 1e6)
                        errors[fast] = float((got - want).norm() / want.norm())
            theirs, ours = (statistics.median(times[fast]) for fast in (False, True))
            name = "int4" if kind is Int4Linear else "int8"
            print(
                f"{rows:>6}x{columns:<5} {name:>7} {theirs:10.1f} {ours:11.1f} "
                f"{theirs / ours:5.2f}x  {errors[False]:.4f} / {errors[True]:.4f}"
            )


if __name__ == "__main__":
    main()
