"""TinyGPT speed: training throughput per preset, and decode speed early vs late in the context.

Run as ``.venv/bin/python bench/train.py`` (``--quick`` for a fast check). Nothing is
downloaded: the models are randomly initialised at each preset's shape.

1. Training throughput: tokens per second of full training steps (forward, backward, AdamW)
   on random windows, for each preset, with fp32 matrix products and with bf16 autocast
   (what ``--precision auto`` picks on CPUs with bf16 arithmetic). Median of R timed steps
   after two warm-up steps; the bf16/fp32 ratio is the gain from autocast on this machine.
2. Decode speed with the KV cache: tokens per second of single-token steps when the cache
   holds 16 positions and when it holds 1,000, through the same ``NativeTokenModel`` the
   backend uses, in fp32 and bf16. Median of R runs of T tokens each. Target: the later
   position decodes at >= 0.8x the speed of the earlier one.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch

from minichat.backends.native import NativeTokenModel
from minichat.tinygpt.model import GPTConfig, transpose_linears
from minichat.tinygpt.train import PRESETS, TrainConfig, Trainer, new_model

LATE_TARGET = 0.8  # decode speed at position 1,000 / at position 16
POSITIONS = (16, 1000)


def training_speed(shape: GPTConfig, precision: str, batch: int, steps: int) -> float:
    """Tokens per second of training steps (median step time)."""
    windows = torch.randint(0, shape.vocab_size, (64, shape.context_length + 1))

    def sample(step: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.randint(0, 64, (batch,), generator=generator)
        return windows[rows, :-1], windows[rows, 1:]

    config = TrainConfig(steps=steps + 2, batch_size=batch, precision=precision)  # type: ignore[arg-type]
    trainer = Trainer(new_model(shape, 0), config, sample, [], lambda trainer: None)
    times = []
    for step in range(steps + 2):
        inputs, targets = sample(trainer.generator)
        start = time.perf_counter()
        trainer.train_step(inputs, targets)
        if step >= 2:  # two warm-up steps
            times.append(time.perf_counter() - start)
    return batch * shape.context_length / statistics.median(times)


def decode_speed(shape: GPTConfig, dtype: torch.dtype, position: int, tokens: int) -> float:
    """Tokens per second of single-token decoding after ``position`` cached positions."""
    model = new_model(replace(shape, context_length=1100), 0).to(dtype).eval()
    if dtype == torch.float32:
        transpose_linears(model)  # as the backend loads fp32 weights on the CPU
    token_model = NativeTokenModel(model)
    prompt = torch.randint(0, shape.vocab_size, (position,)).tolist()
    with torch.inference_mode():
        token_model.keep(0)
        token_model.forward(prompt)
        start = time.perf_counter()
        for token in range(tokens):
            token_model.forward([token])
        return tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="R: timed runs per figure")
    parser.add_argument("--tokens", type=int, default=64, help="T: decoded tokens per run")
    parser.add_argument("--batch", type=int, default=16, help="windows per training step")
    parser.add_argument("--quick", action="store_true", help="R=2, T=16: a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.tokens = 2, 16
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")

    print("training throughput (tokens/s; batch of", args.batch, "windows)")
    print(f"{'preset':8} {'params':>8} {'context':>8} {'fp32':>9} {'bf16':>9} {'bf16/fp32':>10}")
    for name, shape in PRESETS.items():
        params = sum(p.numel() for p in new_model(shape, 0).parameters())
        fp32 = training_speed(shape, "fp32", args.batch, args.repeats)
        bf16 = training_speed(shape, "bf16", args.batch, args.repeats)
        print(
            f"{name:8} {params / 1e6:7.2f}M {shape.context_length:8} {fp32:9.0f} {bf16:9.0f} "
            f"{bf16 / fp32:9.2f}x"
        )

    print(f"\ndecode tokens/s with the KV cache (median of {args.repeats} runs of {args.tokens})")
    print(f"{'preset':8} {'dtype':6} {'pos 16':>8} {'pos 1000':>9} {'ratio':>7}  target")
    for name, shape in PRESETS.items():
        for dtype in (torch.float32, torch.bfloat16):
            early, late = (
                statistics.median(
                    decode_speed(shape, dtype, position, args.tokens) for _ in range(args.repeats)
                )
                for position in POSITIONS
            )
            ratio = late / early
            verdict = "met" if ratio >= LATE_TARGET else "MISSED"
            label = str(dtype).removeprefix("torch.")
            print(
                f"{name:8} {label:6} {early:8.1f} {late:9.1f} {ratio:6.2f}x  "
                f">= {LATE_TARGET}x {verdict}"
            )


if __name__ == "__main__":
    main()
