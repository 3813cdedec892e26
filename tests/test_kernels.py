"""minichat's own kernels (``tinygpt.kernels``): built with the real compiler, checked
against the arithmetic they promise (int8 activations in blocks of 32) and against
PyTorch's kernels in a model, on any x86 CPU that can run them (AVX2, FMA, F16C),
whether or not it is one that uses them by default."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
import torch

from minichat import cpu
from minichat.backends.native import NativeTokenModel
from minichat.tinygpt import kernels
from minichat.tinygpt.model import GPTConfig, TinyGPT
from minichat.tinygpt.quant import GROUP, Int4Linear, Int8Linear, prepare, quantize, use_kernels

runnable = platform.machine().lower() in ("x86_64", "amd64") and cpu.flags() >= kernels.NEEDS
pytestmark = pytest.mark.skipif(
    not runnable, reason="minichat's kernels need an x86 CPU with AVX2, FMA and F16C"
)


@pytest.fixture(scope="module")
def ops() -> object:
    kernels.build()  # once a machine: the cache is shared between tests
    assert kernels.load()
    return torch.ops.minichat


def blocks_of_int8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (rows x k) as the kernels quantize it: integers and one scale per 32."""
    blocks = x.float().reshape(x.shape[0], -1, GROUP)
    amax = blocks.abs().amax(-1)
    inverse = torch.where(amax > 1e-30, 127 / amax, torch.zeros_like(amax))
    return torch.round(blocks * inverse[..., None]).clamp(-127, 127), amax / 127


def q4_reference(x: torch.Tensor, layer: Int4Linear) -> torch.Tensor:
    q, dx = blocks_of_int8(x)  # rows x groups x 32
    w = layer.integers().float()  # out x groups x 32
    scales, mins = layer.kernel_scales.float(), layer.kernel_mins.float()  # out x groups
    sums = torch.einsum("rgi,ogi->rog", q, w)
    return (sums * scales * dx[:, None]).sum(-1) + (mins * (dx * q.sum(-1))[:, None]).sum(-1)


def q8_reference(x: torch.Tensor, layer: Int8Linear) -> torch.Tensor:
    q, dx = blocks_of_int8(x)
    w = layer.weight.float().view(layer.weight.shape[0], -1, GROUP)
    sums = torch.einsum("rgi,ogi->rog", q, w)
    return (sums * dx[:, None]).sum(-1) * layer.scales.float()


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got.float() - want.float()).norm() / want.float().norm())


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("width", [256, 96])  # 8 groups, and an odd 3: the loops' tail
def test_kernels_compute_int8_blocks_times_the_weights(
    ops: object, rows: int, dtype: torch.dtype, width: int
) -> None:
    torch.manual_seed(rows)
    weight = torch.randn(96, width) * 0.05
    x = torch.randn(rows, width).to(dtype)
    int4, int8 = Int4Linear.from_weight(weight), Int8Linear.from_weight(weight)
    for layer in (int4, int8):
        layer.pack()
    y4 = torch.ops.minichat.q4_linear(x, int4.nibbles, int4.kernel_scales, int4.kernel_mins)
    y8 = torch.ops.minichat.q8_linear(x, int8.weight, int8.kernel_scales)
    assert y4.dtype == y8.dtype == dtype and y4.shape == y8.shape == (rows, 96)
    # the very arithmetic: exact up to the order of float sums (and bf16's rounding)
    tight = 1e-5 if dtype == torch.float32 else 1e-2
    assert relative_error(y4, q4_reference(x, int4)) < tight
    assert relative_error(y8, q8_reference(x, int8)) < tight
    # and near the product with the matrix the weights stand for
    assert relative_error(y4, x.float() @ int4.dequantized(torch.float32).t()) < 0.02
    assert relative_error(y8, x.float() @ int8.dequantized(torch.float32).t()) < 0.02


def test_an_all_zero_row_gives_zeros_and_a_nan_gives_nans(ops: object) -> None:
    int8, int4 = (
        Int8Linear.from_weight(torch.randn(16, 64)),
        Int4Linear.from_weight(torch.randn(16, 64)),
    )
    for layer in (int8, int4):
        layer.pack()
        layer.fast = True
    assert torch.equal(int8(torch.zeros(2, 64)), torch.zeros(2, 16))
    x = torch.randn(2, 64)
    x[1, 40] = float("nan")  # as PyTorch's kernels would, the row's outputs say so
    for layer in (int8, int4):
        y = layer(x)
        assert torch.isfinite(y[0]).all() and torch.isnan(y[1]).all()


def test_a_library_that_does_not_load_is_removed_and_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernels, "_loaded", False)
    monkeypatch.setattr(kernels, "_broken", False)
    damaged = kernels.library_path()
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a shared library")
    assert kernels.load() is False
    assert not damaged.exists()  # the next build makes it again


def quantized_model() -> TinyGPT:
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=96, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=128, context_length=64
    )
    model = TinyGPT(config).eval()
    quantize(model, "int4")
    prepare(model, torch.float32)
    return model


def uses_them(model: TinyGPT) -> bool:
    return all(m.fast for m in model.modules() if isinstance(m, (Int4Linear, Int8Linear)))


def test_a_model_decodes_with_them_as_with_pytorchs_kernels(ops: object) -> None:
    model = quantized_model()
    ids = torch.tensor([[5, 17, 42, 7]])
    with torch.inference_mode():
        theirs = model(ids)[0]  # 4 rows: each product goes to a few-row kernel
        use_kernels(model)
        assert uses_them(model)
        ours = model(ids)[0]
    assert relative_error(ours, theirs) < 0.02
    assert torch.equal(ours.argmax(-1), theirs.argmax(-1))


def test_which_cpus_want_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for flags, want in (
        ({"avx2", "fma", "f16c"}, True),
        ({"avx2", "fma", "f16c", "avx512f"}, False),  # PyTorch's AVX-512 kernels are quick
        ({"avx2", "fma"}, False),
    ):
        monkeypatch.setattr(cpu, "flags", lambda flags=flags: frozenset(flags))
        assert kernels.wanted() is want, flags
        assert kernels.default_quant() == ("int8" if want else "int4")
        for choice in ("on", "off"):  # the override, where the instructions are there
            monkeypatch.setenv("MINICHAT_KERNELS", choice)
            assert kernels.wanted() is (choice == "on" and "f16c" in flags), (flags, choice)
        monkeypatch.delenv("MINICHAT_KERNELS")


def test_a_failed_build_says_why_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "kernels.cpp"
    broken.write_text("this is not C++\n")
    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(kernels, "SOURCE", broken)
    with pytest.raises(RuntimeError, match="building minichat's kernels failed"):
        kernels.build()
    assert list((tmp_path / "cache" / "kernels").iterdir()) == []


def test_a_chat_takes_them_up_while_its_step_is_still_building(
    ops: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background build makes the kernels first: the eager model uses them from the
    next reply on, long before the step lands."""

    class Building:
        def building(self) -> bool:
            return True

    monkeypatch.setattr(kernels, "wanted", lambda: True)
    token_model = NativeTokenModel(quantized_model())
    token_model.pending = Building()  # type: ignore[assignment]
    token_model.keep(0)  # a reply starts
    assert uses_them(token_model.model)
    assert token_model.pending is not None and token_model.compiled is None
