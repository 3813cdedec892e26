"""bf16 only where the CPU has bf16 instructions (``minichat.cpu``)."""

from __future__ import annotations

import pytest
import torch

from minichat import cpu
from minichat.loading.device import resolve_dtype
from minichat.tinygpt.train import autocast_dtype


def test_this_machines_flags_are_read() -> None:
    if not cpu.flags():
        pytest.skip("no /proc/cpuinfo flags here")
    assert cpu.has_bf16() == bool(cpu.flags() & {"avx512_bf16", "amx_bf16", "bf16"})


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"avx2", "fma"}, torch.float32),  # the AVX2 laptop: bf16 would be emulated
        ({"avx2", "avx512f", "avx512bw"}, torch.float32),  # AVX-512 without BF16
        ({"avx2", "avx512f", "avx512_bf16"}, torch.bfloat16),
        ({"avx2", "amx_bf16", "amx_tile"}, torch.bfloat16),
        ({"fp", "asimd", "bf16"}, torch.bfloat16),  # Arm with BF16
        (set(), torch.float32),  # flags unknown: never the slow choice
    ],
)
def test_auto_is_bf16_only_with_bf16_instructions(
    flags: set[str], expected: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpu, "flags", lambda: frozenset(flags))
    assert resolve_dtype("auto", torch.device("cpu")) == expected
    assert resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16  # asked for: given
    training = autocast_dtype("auto", torch.device("cpu"))
    assert training == (torch.bfloat16 if expected == torch.bfloat16 else None)


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        ({"avx2", "fma"}, "AVX2"),
        ({"avx2", "avx512f"}, "AVX-512"),
        ({"avx2", "avx512f", "avx512_bf16"}, "AVX-512 BF16"),
        ({"avx2", "amx_bf16"}, "AMX"),
        ({"fp", "asimd", "bf16"}, "NEON BF16"),
        (set(), "no SIMD found"),
    ],
)
def test_the_instruction_set_is_named(
    flags: set[str], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpu, "flags", lambda: frozenset(flags))
    assert cpu.isa() == named


def test_pytorch_held_to_avx2_hides_the_avx512_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ATEN_CPU_CAPABILITY=avx2`` is how an AVX-512 machine runs the AVX2 choices."""
    cpu.flags.cache_clear()
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    try:
        assert not any(flag.startswith(("avx512", "amx")) for flag in cpu.flags())
        assert not cpu.has_bf16() or "bf16" in cpu.flags()  # Arm's flag is not AVX-512's
    finally:
        monkeypatch.undo()
        cpu.flags.cache_clear()
