"""What this machine's CPU computes in hardware, read from the flags the kernel lists.

bf16 matrix products are fast only where the CPU has bf16 instructions (x86's
AVX-512 BF16 or AMX, Arm's BF16); elsewhere PyTorch emulates them, many times
slower than fp32 (a 2048x2048 product did not finish in minutes on a 2-core AVX2
machine that does it in fp32 at ~52 GFLOPS). So ``auto`` picks bf16 on the CPU only
where ``has_bf16`` says so. Where the flags cannot be read (not Linux) it says no:
fp32 is never the slow choice.

PyTorch picks its own kernels' instruction set from the CPU too, and
``ATEN_CPU_CAPABILITY=avx2`` (or ``default``) holds it below AVX-512. Where that is
set, this module reports no AVX-512 either, so that an AVX-512 machine runs every
choice an AVX2 machine would make (``bench/fast.py --isa avx2`` and the tests do
that, with oneDNN and MKL held to AVX2 as well: ``AVX2_ENV``).
"""

from __future__ import annotations

import os
from functools import cache

BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})  # x86 flags, Arm features
# what holds PyTorch and the libraries under it to AVX2 on a machine that has more
AVX2_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}


@cache
def flags() -> frozenset[str]:
    """The CPU's feature flags (``/proc/cpuinfo``: x86 ``flags``, Arm ``Features``),
    less the AVX-512 ones where ``ATEN_CPU_CAPABILITY`` holds PyTorch below them."""
    found: frozenset[str] = frozenset()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    found = frozenset(value.split())
                    break
    except OSError:
        pass
    if os.environ.get("ATEN_CPU_CAPABILITY", "").lower() in ("avx2", "default"):
        found = frozenset(f for f in found if not f.startswith(("avx512", "amx")))
    return found


def has_bf16() -> bool:
    """Whether the CPU multiplies bf16 in hardware."""
    return bool(flags() & BF16_FLAGS)


def isa() -> str:
    """The instruction set the kernels run with, as the banner names it."""
    have = flags()
    if "amx_bf16" in have:
        return "AMX"
    if "avx512_bf16" in have:
        return "AVX-512 BF16"
    if "avx512f" in have:
        return "AVX-512"
    if "avx2" in have:
        return "AVX2"
    if "asimd" in have:
        return "NEON" + (" BF16" if "bf16" in have else "")
    return "no SIMD found"
