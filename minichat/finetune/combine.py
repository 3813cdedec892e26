"""Two LoRA adapters as one, for a chat with tools and documents on at once.

Merging an adapter adds ``s * B @ A`` to each weight it changes; merging two adds both.
That sum is itself a LoRA, of the two ranks together: ``A`` is the two ``A`` matrices
stacked, ``B`` the two ``B`` matrices (each times its own scale) side by side, and the
scale is 1 (``lora_alpha`` equal to the rank). A weight only one of them changes gets
zeros from the other. The result is an adapter folder like any other, so every loader,
cache and check takes it as it is; it changes each weight by exactly what merging both
would::

    python -m minichat.finetune.combine OUT FIRST SECOND
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from minichat.catalog import find_adapter
from minichat.errors import MinichatError
from minichat.loading.adapter import (
    CONFIG_FILE,
    CONFIG_LIMIT,
    INFO_FILE,
    PREFIX,
    WEIGHTS_FILE,
    Adapter,
)
from minichat.safety.files import read_regular, replacing, write_atomically


def combined_pairs(first: Adapter, second: Adapter) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each weight's (A, B) of rank ``first.rank + second.rank``, the scales folded into B."""
    pairs = {}
    for name in sorted(first.pairs.keys() | second.pairs.keys()):
        some_a, some_b = first.pairs.get(name) or second.pairs[name]
        inputs, outputs = some_a.shape[1], some_b.shape[0]
        parts_a, parts_b = [], []
        for adapter in (first, second):
            a, b = adapter.pairs.get(name) or (
                torch.zeros(adapter.rank, inputs),
                torch.zeros(outputs, adapter.rank),
            )
            parts_a.append(a.float())
            parts_b.append(b.float() * adapter.scale)
        pairs[name] = (torch.cat(parts_a).contiguous(), torch.cat(parts_b, 1).contiguous())
    return pairs


def combine(out: Path, first_name: str, second_name: str) -> None:
    """Write the adapter that merges as ``first`` and ``second`` both would."""
    from safetensors.torch import save_file

    first, second = find_adapter(first_name), find_adapter(second_name)
    if first.base != second.base:
        raise MinichatError(f"{first.label} is for {first.base}, {second.label} for {second.base}")
    rank = first.rank + second.rank
    weights = {}
    for name, (a, b) in combined_pairs(first, second).items():
        stem = PREFIX + name.removesuffix(".weight")
        weights[f"{stem}.lora_A.weight"], weights[f"{stem}.lora_B.weight"] = a, b
    # read and checked by find_adapter already; read again, as bounded, for its other keys
    configs = [
        json.loads(read_regular(x.folder / CONFIG_FILE, CONFIG_LIMIT)) for x in (first, second)
    ]
    modules = {m for c in configs for m in c.get("target_modules") or []}
    every = any(not c.get("layers_to_transform") for c in configs)  # one changes all layers
    layers = {n for c in configs for n in c.get("layers_to_transform") or []}
    config = {
        **configs[0],
        "r": rank,
        "lora_alpha": float(rank),
        "use_rslora": False,
        "target_modules": sorted(modules),
        "layers_to_transform": None if every else sorted(layers),
    }
    out.mkdir(parents=True, exist_ok=True)
    with replacing(out / WEIGHTS_FILE) as temporary:
        save_file(weights, str(temporary), metadata={"format": "pt"})
    write_atomically(out / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
    info = {
        "base": first.base,
        "combined": [first.label, second.label],
        "made_with": [
            f"python -m minichat.finetune.combine {out.name} {first.label} {second.label}"
        ],
    }
    write_atomically(out / INFO_FILE, json.dumps(info, indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m minichat.finetune.combine", description=__doc__.splitlines()[0]
    )
    parser.add_argument("out", type=Path, metavar="OUT")
    parser.add_argument("first", metavar="FIRST", help="an adapter's folder or shipped name")
    parser.add_argument("second", metavar="SECOND")
    args = parser.parse_args(argv)
    try:
        combine(args.out, args.first, args.second)
    except MinichatError as error:
        sys.exit(f"error: {error}")
    print(f"{args.out}: {args.first} and {args.second} as one adapter", file=sys.stderr)


if __name__ == "__main__":
    main()
