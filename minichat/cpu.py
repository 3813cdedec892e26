"""What this machine's CPU computes in hardware, read from the flags the kernel lists.

bf16 matrix products are fast only where the CPU has bf16 instructions (x86's
AVX-512 BF16 or AMX, Arm's BF16); elsewhere PyTorch emulates them, many times
slower than fp32 (a 2048x2048 product did not finish in minutes on a 2-core AVX2
machine that does it in fp32 at ~52 GFLOPS). So ``auto`` picks bf16 on the CPU only
where ``has_bf16`` says so. Where the flags cannot be read (not Linux) it says no:
fp32 is never the slow choice.
"""

from __future__ import annotations

from functools import cache

BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})  # x86 flags, Arm features


@cache
def flags() -> frozenset[str]:
    """The CPU's feature flags (``/proc/cpuinfo``: x86 ``flags``, Arm ``Features``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def has_bf16() -> bool:
    """Whether the CPU multiplies bf16 in hardware."""
    return bool(flags() & BF16_FLAGS)
