"""Device and dtype choice for local models, refused in words when impossible.

``auto`` picks CUDA, then Apple's MPS, then the CPU; its dtype is bf16 where the
device computes it in hardware (a CPU with bf16 instructions, ``minichat.cpu``;
there bf16 decodes ~1.4x faster than fp32: see ``bench/``), fp16 on MPS and older
GPUs, fp32 on a CPU without bf16 instructions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minichat import cpu
from minichat.errors import ModelLoadError
from minichat.loading.choices import check_device_name, check_dtype_name

if TYPE_CHECKING:
    import torch


def resolve_device(name: str) -> torch.device:
    import torch

    check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelLoadError(
                f"--device {name}: CUDA is not available to this torch "
                f"({torch.__version__}); use --device cpu or auto"
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ModelLoadError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
        return device
    if name == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError("--device mps: Apple MPS is not available here; use --device cpu")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    import torch

    check_dtype_name(name)
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.bfloat16 if cpu.has_bf16() else torch.float32  # see minichat.cpu
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[name]
    if device.type == "cpu" and dtype == torch.float16:
        raise ModelLoadError(
            "--dtype fp16 on the CPU is slow and some operations lack it; use bf16 or fp32"
        )
    if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ModelLoadError("--dtype bf16: this GPU does not support bf16; use fp16 or fp32")
    return dtype
