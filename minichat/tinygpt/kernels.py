"""minichat's own CPU kernels for quantized decoding (``kernels.cpp``), built and loaded.

On a CPU with AVX2 and no AVX-512, PyTorch's kernels for int4 and int8 weights
(``quant``) run their AVX2 builds at a fraction of the speed of their AVX-512 ones:
a token of SmolLM2 spent ~10 of its 11.5 ms in them. ``kernels.cpp`` does what
llama.cpp does there: it quantizes each row of activations to int8 in blocks of 32
and multiplies in integers (``bench/fast.py --isa avx2`` measures the difference).

The library is compiled from source on the machine that uses it (``g++``, 7 s on
two cores, the compiler AOTInductor needs anyway), with the compiled decode step that
calls it (``tinygpt.aot.build``), and cached under a key of its source, the flags
and the torch version it links against. ``load`` only loads a library already
built: until there is one, the layers use PyTorch's kernels.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from minichat import cpu
from minichat.safety.files import replacing
from minichat.settings.paths import cache_dir
from minichat.tinygpt.quant import use_kernels

SOURCE = Path(__file__).with_name("kernels.cpp")
NEEDS = frozenset({"avx2", "fma", "f16c"})  # the instructions kernels.cpp uses
FLAGS = ["-O3", "-mavx2", "-mfma", "-mf16c", "-std=c++20", "-shared", "-fPIC", "-fopenmp"]
_loaded = False
_broken = False  # the library failed to load in this process: not tried again


def wanted() -> bool:
    """Whether this CPU decodes faster with these kernels than with PyTorch's: an x86
    CPU with AVX2, FMA and F16C whose PyTorch runs no AVX-512 build. ``MINICHAT_KERNELS``
    set to ``on`` or ``off`` overrides that (``on`` still needs those instructions)."""
    choice = os.environ.get("MINICHAT_KERNELS", "auto").lower()
    runnable = platform.machine().lower() in ("x86_64", "amd64") and cpu.flags() >= NEEDS
    if choice in ("on", "off"):
        return runnable and choice == "on"
    return runnable and "avx512f" not in cpu.flags()


def library_path() -> Path:
    digest = hashlib.sha256(SOURCE.read_bytes())
    for part in (torch.__version__, str(torch.version.git_version), " ".join(FLAGS)):
        digest.update(part.encode() + b"\0")
    return cache_dir() / "kernels" / f"kernels-{digest.hexdigest()[:16]}.so"


def build() -> Path:
    """Compile the library unless it is cached; its path. Raises ``RuntimeError`` with
    the compiler's message where that fails."""
    from torch.utils import cpp_extension

    path = library_path()
    if path.is_file():
        return path
    includes = [f"-I{folder}" for folder in cpp_extension.include_paths()]
    libraries = [f"-L{folder}" for folder in cpp_extension.library_paths()]
    libraries += [f"-Wl,-rpath,{folder}" for folder in cpp_extension.library_paths()]
    abi = f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}"
    with replacing(path) as temporary:
        compiler = os.environ.get("CXX", "g++")  # as AOTInductor chooses it
        command = [compiler, *FLAGS, abi, *includes, str(SOURCE), "-o", str(temporary)]
        command += [*libraries, "-lc10", "-ltorch_cpu"]
        try:
            done = subprocess.run(command, capture_output=True, text=True)
        except OSError as error:
            raise RuntimeError(f"no C++ compiler to build minichat's kernels: {error}") from None
        if done.returncode != 0:
            raise RuntimeError(f"building minichat's kernels failed: {done.stderr.strip()}")
    return path


def load() -> bool:
    """Load the library if it is built (once a process); whether the ops are there. A
    library that does not load (damaged, or built against another torch) is removed,
    so that the next build makes it again, and this process goes on without it."""
    global _loaded, _broken
    if _loaded or _broken:
        return _loaded
    path = library_path()
    if path.is_file():
        try:
            torch.ops.load_library(str(path))  # type: ignore[no-untyped-call]
        except Exception:  # OSError from dlopen, RuntimeError from the registry
            _broken = True
            path.unlink(missing_ok=True)
            return False
        _register_shapes()
        _loaded = True
    return _loaded


def _register_shapes() -> None:
    """What each op returns, for ``torch.export`` to trace through them."""

    @torch.library.register_fake("minichat::q4_linear")  # type: ignore[untyped-decorator]
    def _q4(x: torch.Tensor, nibbles: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
        return x.new_empty((*x.shape[:-1], nibbles.shape[0]))

    @torch.library.register_fake("minichat::q8_linear")  # type: ignore[untyped-decorator]
    def _q8(x: torch.Tensor, weight: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
        return x.new_empty((*x.shape[:-1], weight.shape[0]))


def accelerate(model: nn.Module, *, build_first: bool) -> None:
    """Send a quantized model's decoding to these kernels where this CPU wants them:
    built first with ``build_first``, else only if they are built already."""
    if not wanted():
        return
    if build_first:
        build()
    if load():
        use_kernels(model)


def default_quant() -> Literal["int4", "int8"]:
    """The weights a model quantized by default (``--quant auto``) decodes with here:
    int8 where these kernels are used, whose int8 product needs no unpacking of
    nibbles and decoded SmolLM2 faster than int4 in five of six comparisons, tied in
    the sixth (``bench/fast.py --isa avx2``); int4 elsewhere, half the bytes for
    PyTorch's AVX-512 kernel."""
    return "int8" if wanted() else "int4"
