"""A test run again as an AVX2 machine runs it, on a machine with AVX-512: PyTorch,
oneDNN and MKL held to AVX2 in a pytest of its own (``minichat.cpu.AVX2_ENV``)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from minichat import cpu


def only_beyond_avx2(reason: str) -> pytest.MarkDecorator:
    """Skip where this machine is an AVX2 machine already (``reason``: where it is tested
    then) or not x86."""
    beyond = platform.machine().lower() in ("x86_64", "amd64") and "avx512f" in cpu.flags()
    return pytest.mark.skipif(not beyond, reason=reason)


def rerun_as_avx2(test: str, timeout: int) -> None:
    """Run the slow test ``test`` (a pytest node id) as AVX2; it must pass."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "slow", test],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **cpu.AVX2_ENV},
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
