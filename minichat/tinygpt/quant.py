"""Weight-only quantization of TinyGPT's matrices, for decoding on the CPU.

Decoding one token reads every weight once, so at batch size 1 its speed is set
by how many bytes the weights take. Two formats, both run by kernels in
PyTorch's CPU build, with bf16 activations:

- ``int8``: one int8 per weight and one scale per output row
  (``torch._weight_int8pack_mm``);
- ``int4``: four bits per weight in groups of 32 along the input, each group with
  a scale and an offset (``torch._weight_int4pack_mm_for_cpu``). This is the
  scheme of the GGUF format's Q4_1, so the default model, which ships as Q4_1,
  gets back the very integers it was stored with.

Embedding lookups stay in bf16. The output projection (tied to the embedding in
small models) is quantized to int8, as llama.cpp keeps it at 8 bits: at 4 bits it
cost SmolLM2 6% in perplexity, past the quality guard's bound. Blocks a LoRA
adapter changed stay at int8 too: the default model's weights sit exactly on the
4-bit grid they shipped in, and rounding them back to it would round the adapter's
small changes away (the tool-use adapter then never called a tool).
Quantizing takes seconds, so the result is cached (see ``backends.native``).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Quant = Literal["none", "int8", "int4"]
QUANTS: tuple[Quant, ...] = ("none", "int8", "int4")
GROUP = 32  # int4 group size, as in Q4_1
FORMAT = 2  # part of the cache key: bump it when the layout or the choice of layers changes


class Int8Linear(nn.Module):
    """``x @ W.T`` with W stored as int8 rows times a bf16 scale per row."""

    weight: torch.Tensor
    scales: torch.Tensor

    def __init__(self, out_features: int, in_features: int):
        super().__init__()
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("scales", torch.ones(out_features, dtype=torch.bfloat16))

    @classmethod
    def from_weight(cls, weight: torch.Tensor) -> Int8Linear:
        w = weight.detach().float()
        scales = w.abs().amax(dim=1).clamp(min=1e-8) / 127
        layer = cls(*w.shape)
        layer.weight = torch.round(w / scales[:, None]).clamp(-127, 127).to(torch.int8)
        layer.scales = scales.to(torch.bfloat16)
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        y = torch._weight_int8pack_mm(flat, self.weight, self.scales)
        return y.view(*x.shape[:-1], -1)


class Int4Linear(nn.Module):
    """``x @ W.T`` with W in 4-bit groups of 32, each ``(q - 8) * scale + offset``."""

    packed: torch.Tensor
    scales_and_zeros: torch.Tensor

    def __init__(self, out_features: int, in_features: int):
        super().__init__()
        self.out_features = out_features
        # the packed layout is the kernel's own; its shape is out x in / 2 bytes
        self.register_buffer(
            "packed", torch.zeros(out_features, in_features // 2, dtype=torch.uint8)
        )
        self.register_buffer(
            "scales_and_zeros",
            torch.zeros(in_features // GROUP, out_features, 2, dtype=torch.bfloat16),
        )

    @classmethod
    def from_weight(cls, weight: torch.Tensor) -> Int4Linear:
        out_features, in_features = weight.shape
        groups = weight.detach().float().view(out_features, in_features // GROUP, GROUP)
        low, high = groups.amin(dim=-1), groups.amax(dim=-1)
        scales = (high - low).clamp(min=1e-8) / 15
        q = torch.round((groups - low[..., None]) / scales[..., None]).clamp(0, 15)
        layer = cls(out_features, in_features)
        ints = q.to(torch.int32).view(out_features, in_features)
        layer.packed = torch._convert_weight_to_int4pack_for_cpu(ints, 1)
        # the kernel computes (q - 8) * scale + zero: shift the offset by 8 steps
        zeros = low + 8 * scales
        layer.scales_and_zeros = torch.stack([scales.t(), zeros.t()], dim=-1).to(torch.bfloat16)
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        y = torch._weight_int4pack_mm_for_cpu(flat, self.packed, GROUP, self.scales_and_zeros)
        return y.view(*x.shape[:-1], self.out_features)


def quantize(
    model: nn.Module, quant: Quant, *, empty: bool = False, int8: tuple[str, ...] = ()
) -> None:
    """Swap the model's linear layers for quantized ones, in place; under int4, the
    modules whose names start with a prefix in ``int8`` get int8. With ``empty`` the
    new layers are left blank, to be filled from a cached state dict."""
    if quant == "none":
        return
    for path, module in list(model.named_modules()):
        for name, child in list(module.named_children()):
            if not isinstance(child, nn.Linear):
                continue
            kind: type[Int8Linear] | type[Int4Linear] = Int4Linear
            kept = (f"{path}.{name}" if path else name).startswith(int8)
            if quant == "int8" or name == "lm_head" or child.in_features % GROUP or kept:
                kind = Int8Linear
            if empty:
                setattr(module, name, kind(child.out_features, child.in_features))
            else:
                setattr(module, name, kind.from_weight(child.weight))
