"""Weight-only quantization of TinyGPT's matrices, for the CPU.

Decoding one token reads every weight once, so at batch size 1 its speed is set
by how many bytes the weights take. Two formats, each decoded by a kernel in
PyTorch's CPU build that takes bf16 activations (the model itself computes in
bf16 where the CPU has bf16 instructions and in fp32 elsewhere: ``minichat.cpu``;
a row is converted on its way in and out, which costs nothing at one row):

- ``int8``: one int8 per weight and one scale per output row
  (``torch._weight_int8pack_mm``);
- ``int4``: four bits per weight in groups of 32 along the input, each group with
  a scale and an offset (``torch._weight_int4pack_mm_for_cpu``). This is the
  scheme of the GGUF format's Q4_1, so the default model, which ships as Q4_1,
  gets back the very integers it was stored with.

A prompt is another matter: its product has a row per token, compute-bound, and
the kernels above are built for few rows. From ``DENSE_ROWS`` rows on, a layer
dequantizes its matrix to the model's dtype and multiplies it densely (MKL or
oneDNN at full speed); at hundreds of rows the dequantizing is a few percent of
the product (``bench/fast.py`` measures prefill both ways).

Embedding lookups stay in bf16. The output projection (tied to the embedding in
small models) is quantized to int8, as llama.cpp keeps it at 8 bits: at 4 bits it
cost SmolLM2 6% in perplexity, past the quality guard's bound. Blocks a LoRA
adapter changed stay at int8 too: the default model's weights sit exactly on the
4-bit grid they shipped in, and rounding them back to it would round the adapter's
small changes away (the tool-use adapter then never called a tool).
Quantizing takes seconds, so the result is cached (see ``backends.native``).

Where ``kernels`` says PyTorch's kernels are slow (AVX2 without AVX-512), few-row
products go to minichat's own instead, which take int8 activations (``use_kernels``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Quant = Literal["none", "int8", "int4"]
QUANTS: tuple[Quant, ...] = ("none", "int8", "int4")
GROUP = 32  # int4 group size, as in Q4_1
HALF = GROUP // 2  # a byte holds a group's value i and value i + 16, as Q4_1 does
DENSE_ROWS = 64  # from this many rows (a prompt) a product dequantizes: see the docstring
FORMAT = 3  # part of the cache key: bump it when the layout or the choice of layers changes


class Int8Linear(nn.Module):
    """``x @ W.T`` with W stored as int8 rows times a bf16 scale per row."""

    weight: torch.Tensor
    scales: torch.Tensor
    kernel_scales: torch.Tensor

    def __init__(self, out_features: int, in_features: int):
        super().__init__()
        self.fast = False  # minichat's kernel for few rows, not PyTorch's (``use_kernels``)
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("scales", torch.ones(out_features, dtype=torch.bfloat16))
        self.register_buffer("kernel_scales", torch.ones(out_features), persistent=False)

    @classmethod
    def from_weight(cls, weight: torch.Tensor) -> Int8Linear:
        w = weight.detach().float()
        scales = w.abs().amax(dim=1).clamp(min=1e-8) / 127
        layer = cls(*w.shape)
        layer.weight = torch.round(w / scales[:, None]).clamp(-127, 127).to(torch.int8)
        layer.scales = scales.to(torch.bfloat16)
        return layer

    def pack(self) -> None:
        self.kernel_scales = self.scales.float()

    def dequantized(self, dtype: torch.dtype) -> torch.Tensor:
        return self.weight.to(dtype) * self.scales.to(dtype)[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        if flat.shape[0] >= DENSE_ROWS:
            return F.linear(x, self.dequantized(x.dtype))
        if self.fast:
            out: torch.Tensor = torch.ops.minichat.q8_linear(x, self.weight, self.kernel_scales)
            return out
        y = torch._weight_int8pack_mm(flat.to(torch.bfloat16), self.weight, self.scales)
        return y.to(x.dtype).view(*x.shape[:-1], -1)


class Int4Linear(nn.Module):
    """``x @ W.T`` with W in 4-bit groups of 32, each ``(q - 8) * scale + offset``.

    ``nibbles`` holds the integers two to a byte, as Q4_1 does (a group's value i in
    the low half, value i + 16 in the high half), the same on every machine, which is
    what the cache stores; ``packed`` is the decoding kernel's own layout of them,
    which differs between CPU capabilities (AVX-512 and AVX2 builds of the kernel
    interleave differently), so it is made from ``nibbles`` at load (``pack``) and
    never saved. minichat's kernel reads ``nibbles`` itself, with each group's scale
    and minimum in fp16 (``kernel_scales``, ``kernel_mins``: out x groups), as Q4_1.
    """

    nibbles: torch.Tensor
    packed: torch.Tensor
    scales_and_zeros: torch.Tensor
    kernel_scales: torch.Tensor
    kernel_mins: torch.Tensor

    def __init__(self, out_features: int, in_features: int):
        super().__init__()
        self.fast = False  # minichat's kernel for few rows, not PyTorch's (``use_kernels``)
        self.out_features = out_features
        groups = (out_features, in_features // GROUP)
        for name in ("kernel_scales", "kernel_mins"):
            self.register_buffer(name, torch.zeros(groups, dtype=torch.half), persistent=False)
        self.register_buffer(
            "nibbles", torch.zeros(out_features, in_features // 2, dtype=torch.uint8)
        )
        self.register_buffer(
            "packed",
            torch.zeros(out_features, in_features // 2, dtype=torch.uint8),
            persistent=False,
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
        ints = q.to(torch.uint8)  # out x groups x 32
        layer.nibbles = (ints[..., :HALF] | (ints[..., HALF:] << 4)).view(out_features, -1)
        # the kernel computes (q - 8) * scale + zero: shift the offset by 8 steps
        zeros = low + 8 * scales
        layer.scales_and_zeros = torch.stack([scales.t(), zeros.t()], dim=-1).to(torch.bfloat16)
        layer.pack()
        return layer

    def integers(self) -> torch.Tensor:
        """The 4-bit integers as uint8, out x groups x 32."""
        halves = self.nibbles.view(self.out_features, -1, HALF)
        return torch.cat((halves & 15, halves >> 4), dim=-1)

    def pack(self) -> None:
        ints = self.integers().view(self.out_features, -1).to(torch.int32)
        self.packed = torch._convert_weight_to_int4pack_for_cpu(ints, 1)
        scales, zeros = self.scales_and_zeros.float().transpose(0, 1).unbind(-1)
        self.kernel_scales = scales.half().contiguous()
        self.kernel_mins = (zeros - 8 * scales).half().contiguous()

    def dequantized(self, dtype: torch.dtype) -> torch.Tensor:
        """The matrix in ``dtype``: ``(q - 8) * scale + zero``, computed in place."""
        scales, zeros = self.scales_and_zeros.transpose(0, 1).to(dtype).unbind(-1)
        weight = self.integers().to(dtype).mul_(scales[..., None])
        return weight.add_((zeros - 8 * scales)[..., None]).view(self.out_features, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        if flat.shape[0] >= DENSE_ROWS:
            return F.linear(x, self.dequantized(x.dtype))
        if self.fast:
            out: torch.Tensor = torch.ops.minichat.q4_linear(
                x, self.nibbles, self.kernel_scales, self.kernel_mins
            )
            return out
        y = torch._weight_int4pack_mm_for_cpu(
            flat.to(torch.bfloat16), self.packed, GROUP, self.scales_and_zeros
        )
        return y.to(x.dtype).view(*x.shape[:-1], self.out_features)


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


def prepare(model: nn.Module, dtype: torch.dtype) -> None:
    """Ready a quantized model, loaded from a state dict, to compute in ``dtype``:
    the int4 layers packed for this CPU's kernel, every floating tensor but the
    kernels' bf16 scales and the embedding table cast. (The embedding stays bf16:
    a lookup costs nothing to convert, and fp32 would double its memory.)"""
    for module in model.modules():
        if isinstance(module, (Int4Linear, Int8Linear)):
            module.pack()
        if isinstance(module, (Int4Linear, Int8Linear, nn.Embedding)):
            continue
        for parameter in module.parameters(recurse=False):
            parameter.data = parameter.data.to(dtype)
        for name, buffer in module.named_buffers(recurse=False):
            if buffer.is_floating_point():
                setattr(module, name, buffer.to(dtype))


def use_kernels(model: nn.Module) -> None:
    """Send the quantized layers' few-row products to minichat's kernels (loaded:
    ``kernels.load``), after ``prepare``; they take inputs in whole groups of 32."""
    for module in model.modules():
        if isinstance(module, Int4Linear):
            module.fast = True
        elif isinstance(module, Int8Linear):
            module.fast = module.weight.shape[1] % GROUP == 0
