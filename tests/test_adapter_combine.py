"""Two adapters combined into one change every weight exactly as merging both would."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from minichat.finetune.combine import main
from minichat.loading.adapter import read_adapter

PREFIX = "base_model.model.model.layers.{}.self_attn.{}.lora_{}.weight"


def adapter(folder: Path, rank: int, alpha: float, layers: dict[str, int], seed: int) -> Path:
    """A rank-``rank`` adapter changing ``layers`` (projection -> block) of a 16-wide model."""
    torch.manual_seed(seed)
    folder.mkdir()
    tensors = {}
    for projection, block in layers.items():
        tensors[PREFIX.format(block, projection, "A")] = torch.randn(rank, 16) * 0.1
        tensors[PREFIX.format(block, projection, "B")] = torch.randn(16, rank) * 0.1
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    (folder / "adapter_config.json").write_text(
        json.dumps(
            {"peft_type": "LORA", "r": rank, "lora_alpha": alpha, "target_modules": list(layers)}
        )
    )
    (folder / "minichat.json").write_text(json.dumps({"base": "smollm2"}))
    return folder


def merged(weights: dict[str, torch.Tensor], *folders: Path) -> dict[str, torch.Tensor]:
    out = dict(weights)
    for folder in folders:
        read_adapter(folder).merge_into(out, "the test model")
    return out


def test_the_combined_adapter_merges_as_both_do(tmp_path: Path) -> None:
    tools = adapter(tmp_path / "tools", 2, 4.0, {"q_proj": 3, "v_proj": 3}, seed=0)
    docs = adapter(tmp_path / "docs", 3, 12.0, {"q_proj": 3, "o_proj": 4}, seed=1)
    main([str(tmp_path / "both"), str(tools), str(docs)])
    names = [
        f"model.layers.{b}.self_attn.{p}.weight"
        for p, b in (("q_proj", 3), ("v_proj", 3), ("o_proj", 4))
    ]
    base = {name: torch.randn(16, 16) for name in names}
    expected = merged(base, tools, docs)
    both = read_adapter(tmp_path / "both")
    assert both.rank == 5 and both.scale == 1.0 and both.base == "smollm2"
    got = merged(base, tmp_path / "both")
    for name in names:  # a weight only one of them changes included
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-6)
