"""LoRA finetuning on this CPU: speed, peak memory, the time estimate, and what the
shipped tool-use adapter does for tool calls.

Run as ``.venv/bin/python bench/finetune.py`` from the repository root (``--quick``:
fewer steps and the quick tool queries; ``--skip-tools``: no tool evaluation). Each
row runs ``minichat finetune`` as a user does, in a process of its own, whose peak
resident memory comes from ``os.wait4``. The data: 200 conversations of the
chitchat dataset, each cut to the turns that fit in 256 tokens of SmolLM2's chat
template.

1. Speed: ``--layers 8`` (the default) and ``--layers 0`` (all 30 blocks) for a few
   steps: training tokens/s (as the command reports it) and peak memory; the ratio
   of the default's speed to all layers', measured in the same run.
2. The whole run: the default settings (2 epochs) on the 200 examples: wall time of
   the command, the training time against the estimate it printed before.
3. Decode with the shipped adapter merged against without (the default int4 path and
   its compiled step; greedy, 128 tokens, three alternating rounds, the median).
4. Tools: ``bench/tools.py --ways auto --adapters none smollm2-tools``, the tool
   evaluation without and with the shipped adapter.

Targets: the whole run within 15 minutes, its estimate within +-20% of the training
time, peak memory under 6 GB; with the adapter, right tool >= 90%, false calls on
queries that need no tool <= 10%, valid calls 100% (bench/tools.py checks these).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from minichat.catalog import model_folder
from minichat.finetune.data import Example, encode_example
from minichat.prompt.template import ChatFormat
from minichat.tinygpt.data import chitchat_chats

LIMIT = 256  # tokens per example
COUNT = 200


def cpu() -> str:
    text = Path("/proc/cpuinfo").read_text()
    name = re.search(r"model name\s*:\s*(.*)", text)
    flags = set(re.search(r"flags\s*:\s*(.*)", text).group(1).split())  # type: ignore[union-attr]
    has = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{name.group(1) if name else 'CPU'}, {os.cpu_count()} cores, {' '.join(has)}"


def write_data(path: Path) -> int:
    """``COUNT`` chitchat chats, each cut to the whole turns (ending on a reply) that fit."""
    chat = ChatFormat(model_folder("smollm2"))
    lines, tokens = [], 0
    for messages in chitchat_chats():
        for end in range(len(messages) - len(messages) % 2, 1, -2):
            turns = tuple(messages[:end])
            encoded = encode_example(Example(0, turns), chat)
            if len(encoded.ids) <= LIMIT:
                lines.append(json.dumps({"messages": [m.to_dict() for m in turns]}))
                tokens += len(encoded.ids)
                break
        if len(lines) == COUNT:
            break
    path.write_text("\n".join(lines) + "\n")
    return tokens


def finetune(*args: str) -> tuple[str, float, float]:
    """Run ``minichat finetune`` with ``args``: its stderr, wall seconds, peak RSS in GB."""
    command = [sys.executable, "-m", "minichat", "finetune", *args]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        err.seek(0)
        text = err.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"minichat finetune {' '.join(args)} failed:\n{text}")
    return text, seconds, usage.ru_maxrss / 1024**2  # kB on Linux


def trained(text: str) -> tuple[float, float, float]:
    """(training seconds, estimated seconds, tokens/s) from the command's last lines."""
    line = next(x for x in text.splitlines() if x.startswith("trained steps"))
    durations = [
        int(m.group(1) or 0) * 60 + int(m.group(2))
        for m in re.finditer(r"(?:(\d+) min )?(\d+) s", line)
    ]
    speed = float(re.search(r"([\d,]+) tokens/s", line).group(1).replace(",", ""))  # type: ignore[union-attr]
    return durations[0], durations[1], speed


def decode_rates() -> dict[str, float]:
    """Tokens/s of greedy decoding, without and with the shipped adapter (median of 3)."""
    import statistics

    from minichat import GenerationConfig, Message, load_backend

    backends = {
        name: load_backend("smollm2", compile="wait", adapter=adapter)
        for name, adapter in (("none", None), ("smollm2-tools", "smollm2-tools"))
    }
    config = GenerationConfig(temperature=0, max_new_tokens=128, repetition_penalty=1.0)
    prompt = [Message("user", "Tell me a long story about a lighthouse keeper.")]
    rates: dict[str, list[float]] = {name: [] for name in backends}
    for _ in range(3):
        for name, backend in backends.items():
            backend.close()  # no cached prefix: each round prefills and decodes alike
            stream = backend.stream(prompt, config)
            for _piece in stream:
                pass
            assert stream.stats is not None
            decode_seconds = stream.stats.total_seconds - (stream.stats.time_to_first_token or 0)
            rates[name].append((stream.stats.new_tokens - 1) / decode_seconds)
    return {name: statistics.median(values) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-tools", action="store_true")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"commit {commit.stdout.strip()}, {cpu()}; load average {os.getloadavg()[0]:.2f}")
    targets: list[tuple[str, str, bool]] = []
    with tempfile.TemporaryDirectory(prefix="minichat-bench-") as tmp:
        data = Path(tmp) / "chats.jsonl"
        tokens = write_data(data)
        print(f"data: {COUNT} chitchat conversations, {tokens:,} tokens (at most {LIMIT} each)")

        steps = "4" if args.quick else "12"
        print(f"\n{'layers':>8} {'tokens/s':>10} {'peak GB':>8}  ({steps} steps each)")
        speeds, peak = {}, 0.0
        for layers in ("8", "0"):
            out = Path(tmp) / f"speed-{layers}"
            text, _, rss = finetune(
                str(data), "--out", str(out), "--layers", layers, "--steps", steps, "--compare", "0"
            )
            speeds[layers] = trained(text)[2]
            peak = max(peak, rss)
            print(f"{'all' if layers == '0' else layers:>8} {speeds[layers]:10,.0f} {rss:8.2f}")
        print(f"default (8) against all layers: {speeds['8'] / speeds['0']:.2f}x the speed")

        text, wall, rss = finetune(str(data), "--out", str(Path(tmp) / "full"), "--compare", "2")
        peak = max(peak, rss)
        took, estimate, _ = trained(text)
        print(f"\nthe whole run (2 epochs, defaults): {wall / 60:.1f} min wall, peak {rss:.2f} GB")
        print(f"training {took:.0f} s against {estimate:.0f} s estimated ({estimate / took:.2f}x)")
        print("\n".join(x for x in text.splitlines() if x.startswith(("validation loss", "data"))))
        targets += [
            ("200 examples of <= 256 tokens in <= 15 min", f"{wall / 60:.1f} min", wall <= 900),
            ("estimate within +-20%", f"{estimate / took:.2f}x", abs(estimate / took - 1) <= 0.2),
            ("peak memory < 6 GB", f"{peak:.2f} GB", peak < 6),
        ]
    rates = decode_rates()
    ratio = rates["smollm2-tools"] / rates["none"]
    print(
        f"\ndecode tok/s: {rates['none']:.1f} without the adapter, "
        f"{rates['smollm2-tools']:.1f} with it ({ratio:.2f}x)"
    )
    targets.append(("decode with the adapter as fast as without", f"{ratio:.2f}x", ratio >= 0.9))
    if not args.skip_tools:
        tools = [sys.executable, "bench/tools.py", "--ways", "auto"]
        tools += ["--adapters", "none", "smollm2-tools", *(["--quick"] if args.quick else [])]
        print("\n" + subprocess.run(tools, capture_output=True, text=True, check=True).stdout)
    print(f"targets (load average {os.getloadavg()[0]:.2f})")
    for name, value, met in targets:
        print(f"{name:46} {value:>10}  {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
