"""TinyGPT's one-token decode step, compiled ahead of time for the CPU (AOTInductor).

Decoding one token eagerly dispatches some twenty small operations per layer
(norms, the rotary embedding, attention over the cache, SwiGLU, residual adds);
at 30 layers their overhead costs as much as the matrix products themselves
(``bench/fast.py``). ``torch.export`` traces ``TinyGPT.step`` once, with the
cache length as its one dynamic size, and AOTInductor turns the trace into a
shared library in which that element-wise work is fused into a few C++ loops and
the whole step is one call.

The weights are the library's inputs, not constants baked into it: the file
stays a few MB and uses the very tensors the eager model holds, so no memory is
spent twice. Building needs a C++ compiler and takes about 40 s on two cores;
``loading.compiled`` decides when, and caches the result.
"""

from __future__ import annotations

import hashlib
import platform
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from minichat import cpu
from minichat.tinygpt import kernels
from minichat.tinygpt import model as model_code
from minichat.tinygpt import quant as quant_code
from minichat.tinygpt.model import TinyGPT

# the shortest cache the step takes: it needs a prompt token before it. The trace uses
# a length of 2, since export would special-case the sizes 0 and 1 it saw there
MIN_LENGTH = 1


class _Stepper(nn.Module):
    def __init__(self, model: TinyGPT):
        super().__init__()
        self.model = model

    def forward(
        self, token: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.model.step(token, keys, values)


class _Step(nn.Module):
    """``model.step`` with every weight passed in, so that the trace holds none."""

    def __init__(self, model: TinyGPT):
        super().__init__()
        self.names = [f"model.{name}" for name in weight_names(model)]
        self.stepper = (_Stepper(model),)  # a tuple: its tensors must not become constants

    def forward(
        self,
        token: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        weights: tuple[torch.Tensor, ...],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tensors = dict(zip(self.names, weights, strict=True))
        result: tuple[torch.Tensor, torch.Tensor, torch.Tensor] = torch.func.functional_call(
            self.stepper[0], tensors, (token, keys, values)
        )
        return result


def named_tensors(model: TinyGPT) -> dict[str, torch.Tensor]:
    """Every tensor ``step`` reads, by name: parameters, then buffers (the rotary
    tables too), in the order the built step takes them."""
    return dict(model.named_parameters()) | dict(model.named_buffers())


def weight_names(model: TinyGPT) -> list[str]:
    return list(named_tensors(model))


def weights(model: TinyGPT) -> list[torch.Tensor]:
    return [tensor.detach() for tensor in named_tensors(model).values()]


def fingerprint(model: TinyGPT) -> str:
    """What a built step depends on: the torch version, the CPU's instruction set (the
    library is compiled for it, up to the capability PyTorch runs at), the model's
    configuration (its epsilon is baked in), the code it was traced and built from, and
    every weight's name, shape and dtype, but not their values, which are inputs. The
    cache key."""
    digest = hashlib.sha256()
    capability = torch.backends.cpu.get_cpu_capability()  # ATEN_CPU_CAPABILITY may lower it
    flags = " ".join(sorted(cpu.flags())) or platform.processor()
    for part in (torch.__version__, platform.machine(), flags, capability, repr(model.config)):
        digest.update(part.encode() + b"\0")
    for module in (model_code, quant_code, kernels, sys.modules[__name__]):
        digest.update(Path(module.__file__ or "").read_bytes())  # the source, or its .pyc
    digest.update(kernels.SOURCE.read_bytes() + str(kernels.wanted()).encode())
    for name, tensor in named_tensors(model).items():
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}\0".encode())
    return digest.hexdigest()[:16]


@torch.inference_mode()
def build(model: TinyGPT, path: Path) -> None:
    """Trace and compile ``model.step`` into the package ``path`` (written as is: the
    caller makes it atomic)."""
    from torch._inductor import aoti_compile_and_package

    kernels.accelerate(model, build_first=True)  # the step calls them where they are wanted
    cache = model.new_cache()
    cache.length = MIN_LENGTH + 1  # the contents do not matter for tracing, only shapes
    keys, values = cache.prefix()
    length = torch.export.Dim("length", min=MIN_LENGTH, max=model.config.context_length - 1)
    tensors = tuple(weights(model))
    program = torch.export.export(
        _Step(model),
        (torch.zeros(1, dtype=torch.long), keys, values, tensors),
        dynamic_shapes=(None, {2: length}, {2: length}, (None,) * len(tensors)),
        strict=False,
    )
    with warnings.catch_warnings():  # torch's own deprecation notices, not the user's
        warnings.simplefilter("ignore")
        aoti_compile_and_package(program, package_path=str(path))


class CompiledStep:
    """A built step, loaded: called like ``TinyGPT.step``."""

    def __init__(self, path: Path, model: TinyGPT):
        # the loader itself, not torch._inductor's wrapper: that import costs seconds
        self.runner = torch._C._aoti.AOTIModelPackageLoader(str(path), "model", False, 1, -1)
        self.weights = weights(model)

    def __call__(
        self, token: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, new_keys, new_values = self.runner.boxed_run([token, keys, values, *self.weights])
        return logits, new_keys, new_values
