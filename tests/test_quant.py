"""The fast engine's weight formats (int8, int4), their cache, the engine choice, and the
quality guard on the real default model."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minichat import Message, cpu, load_backend
from minichat.backends import native
from minichat.errors import ConfigError, ModelLoadError
from minichat.tinygpt import kernels
from minichat.tinygpt.quality import greedy_agreement, perplexity, stepwise_perplexity
from minichat.tinygpt.quant import DENSE_ROWS, GROUP, HALF, Int4Linear, Int8Linear
from tests.as_avx2 import only_beyond_avx2, rerun_as_avx2

torch.manual_seed(0)
X = torch.randn(5, 64, dtype=torch.bfloat16)


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got.float() - want.float()).norm() / want.float().norm())


def test_int8_rows_are_close_to_the_matrix() -> None:
    weight = torch.randn(48, 64)
    want = X.float() @ weight.t()
    assert relative_error(Int8Linear.from_weight(weight)(X), want) < 0.02


def test_int4_gives_back_weights_already_on_a_4_bit_grid() -> None:
    """As Q4_1 stores them: each group of 32 is q * step + low, q in 0..15 with both ends
    used. Quantizing them again must find the same integers, so only bf16 rounding of
    the scales is left."""
    q = torch.randint(0, 16, (48, 64 // GROUP, GROUP)).float()
    q[..., 0], q[..., 1] = 0, 15
    step, low = torch.rand(48, 64 // GROUP, 1) / 10, torch.randn(48, 64 // GROUP, 1)
    weight = (q * step + low).view(48, 64)
    want = X.float() @ weight.t()
    assert relative_error(Int4Linear.from_weight(weight)(X), want) < 0.01
    noisy = torch.randn(48, 64)  # arbitrary weights lose more, as 4 bits must
    error = relative_error(Int4Linear.from_weight(noisy)(X), X.float() @ noisy.t())
    assert 0.01 < error < 0.15


@pytest.mark.parametrize("kind", [Int8Linear, Int4Linear])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_prompt_multiplies_densely_as_the_kernel_does_row_by_row(
    kind: type[Int8Linear] | type[Int4Linear], dtype: torch.dtype
) -> None:
    """From DENSE_ROWS rows on a layer dequantizes its matrix (a prompt: compute-bound);
    below, the decoding kernel runs. Both compute the same product."""
    layer = kind.from_weight(torch.randn(96, 128))
    rows = torch.randn(DENSE_ROWS + 3, 128).to(dtype)
    dense = layer(rows[None])[0]  # batch x rows x in, as the model calls it
    by_kernel = torch.cat([layer(row[None]) for row in rows])
    assert dense.dtype == by_kernel.dtype == dtype
    assert relative_error(dense, by_kernel) < (0.005 if dtype == torch.float32 else 0.02)
    assert relative_error(layer.dequantized(torch.float32), layer.dequantized(dtype)) < 0.01


def test_int4_integers_are_stored_as_q4_1_lays_them_out() -> None:
    """Value i of a group in the low half of byte i, value i + 16 in the high half: the
    same bytes on every machine, unlike the kernel's own packing."""
    q = torch.randint(0, 16, (16, 64 // GROUP, GROUP))
    q[..., 0], q[..., 1] = 0, 15
    layer = Int4Linear.from_weight((q.float() * 0.1).view(16, 64))
    assert torch.equal(layer.integers(), q.to(torch.uint8))
    first = layer.nibbles[0, 0]
    assert int(first) == int(q[0, 0, 0]) | int(q[0, 0, HALF]) << 4


@pytest.mark.parametrize("quant", ["int8", "int4"])
def test_quantized_model_is_cached_and_reloads_identically(
    tiny_checkpoint: Path, quant: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(tmp_path))
    first = load_backend(f"tiny:{tiny_checkpoint}", quant=quant)
    assert native.quantized_path(tiny_checkpoint, quant).is_file()  # type: ignore[arg-type]
    monkeypatch.setattr(native, "quantize", _refuse_without_empty)
    again = load_backend(f"tiny:{tiny_checkpoint}", quant=quant)
    ids = torch.tensor([first.encode([Message("user", "what is 1 plus 2?")])])  # type: ignore[attr-defined]
    models = [b.token_model.model for b in (first, again)]  # type: ignore[attr-defined]
    with torch.inference_mode():
        torch.testing.assert_close(models[0](ids), models[1](ids), atol=0, rtol=0)


def _refuse_without_empty(
    model: torch.nn.Module, quant: str, *, empty: bool = False, int8: tuple[str, ...] = ()
) -> None:
    assert empty, "quantized again although the cache had it"
    from minichat.tinygpt.quant import quantize

    quantize(model, quant, empty=True, int8=int8)  # type: ignore[arg-type]


def test_a_damaged_cache_is_quantized_again(
    tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(tmp_path))
    first = load_backend(f"tiny:{tiny_checkpoint}", quant="int8")
    path = native.quantized_path(tiny_checkpoint, "int8")
    path.write_bytes(path.read_bytes()[:100])
    again = load_backend(f"tiny:{tiny_checkpoint}", quant="int8")
    assert path.stat().st_size > 100  # written anew
    ids = torch.tensor([[5, 6, 7]])
    models = [b.token_model.model for b in (first, again)]  # type: ignore[attr-defined]
    with torch.inference_mode():
        torch.testing.assert_close(models[0](ids), models[1](ids), atol=0, rtol=0)


def test_engine_and_quant_choices(tiny_checkpoint: Path, tiny_model_dir: Path) -> None:
    assert load_backend(f"tiny:{tiny_checkpoint}", engine="hf").name == "hf"
    assert load_backend(f"hf:{tiny_model_dir}").name == "native"  # auto: fast where it applies
    assert load_backend(f"hf:{tiny_model_dir}", engine="hf").name == "hf"
    with pytest.raises(ConfigError, match="needs the fast engine"):
        load_backend(f"tiny:{tiny_checkpoint}", engine="hf", quant="int4")
    for dtype, want in (("fp32", torch.float32), ("bf16", torch.bfloat16)):  # either, asked
        chosen = load_backend(f"tiny:{tiny_checkpoint}", quant="int4", dtype=dtype)
        assert chosen.token_model.dtype == want  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="quant must be one of"):
        load_backend("echo", quant="int3")


def test_the_fast_engine_refuses_other_architectures(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="use --engine hf"):
        load_backend(f"hf:{tmp_path}", engine="fast")


# -- the quality guard, on the real default model ---------------------------------------

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain what a CPU does in two sentences.",
    "Give me three tips for learning to cook.",
]
BOUNDS = {"int8": 0.02, "int4": 0.05}  # largest allowed rise in perplexity


@pytest.mark.slow
def test_quantization_keeps_the_default_models_quality() -> None:
    from minichat.tinygpt import data

    reference = load_backend("smollm2", quant="none", dtype="fp32")
    validation = data.build_corpus(data.chitchat_chats(), 0.05, seed=1337).validation[:3]
    text = "\n\n".join(data.plain_text(document) for document in validation)
    ids = reference.format.tokenizer.encode(text, add_special_tokens=False).ids  # type: ignore[attr-defined]
    prompts = [reference.encode([Message("user", p)]) for p in PROMPTS]  # type: ignore[attr-defined]
    base = perplexity(reference.token_model.model, ids)  # type: ignore[attr-defined]
    steps = ids[:256]  # one token at a time: through the decoding kernels
    base_steps = stepwise_perplexity(reference.token_model.model, steps)  # type: ignore[attr-defined]
    for quant, bound in BOUNDS.items():
        model = load_backend("smollm2", quant=quant).token_model.model  # type: ignore[attr-defined]
        kernels.accelerate(model, build_first=True)  # minichat's, where this CPU wants them
        assert perplexity(model, ids) <= base * (1 + bound), quant
        assert stepwise_perplexity(model, steps) <= base_steps * (1 + bound), quant
        agreement = greedy_agreement(reference.token_model.model, model, prompts, 32)  # type: ignore[attr-defined]
        assert agreement >= 0.9, (quant, agreement)


AVX2_SCRIPT = """
import json, sys, torch
from minichat import load_backend
from minichat.tinygpt import kernels
backend = load_backend(sys.argv[1], quant="int4")
model = backend.token_model.model
kernels.accelerate(model, build_first=True)
with torch.inference_mode():
    prompt = model(torch.tensor([list(range(3, 3 + 70))]))[0, -1]  # dense: a prompt
    cache = model.new_cache()
    model(torch.tensor([[3, 4, 5]]), cache)
    step = model(torch.tensor([[6]]), cache)[0, -1]  # the decoding kernel
print(json.dumps({"describe": backend.describe(), "prompt": prompt.float().tolist(),
                  "kernels": [m.fast for m in model.modules() if hasattr(m, "fast")],
                  "step": step.float().tolist()}))
"""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 only")
def test_the_avx2_path_runs_from_a_cache_made_at_this_machines_capability(
    tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The AVX2 choices (fp32 activations, minichat's kernels), run on this machine
    with PyTorch held to AVX2 (on an AVX2 machine: its own path), read the int4 cache
    this process wrote, whose bytes do not depend on the capability, and compute what
    this process computes."""
    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(tmp_path))
    name = f"tiny:{tiny_checkpoint}"
    here = load_backend(name, quant="int4")
    cached = native.quantized_path(tiny_checkpoint, "int4")  # type: ignore[arg-type]
    written = cached.stat().st_mtime_ns
    model = here.token_model.model  # type: ignore[attr-defined]
    with torch.inference_mode():
        prompt = model(torch.tensor([list(range(3, 3 + 70))]))[0, -1]
        cache = model.new_cache()
        model(torch.tensor([[3, 4, 5]]), cache)
        step = model(torch.tensor([[6]]), cache)[0, -1]
    result = subprocess.run(
        [sys.executable, "-c", AVX2_SCRIPT, name],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **cpu.AVX2_ENV},
    )
    assert result.returncode == 0, result.stderr
    there = json.loads(result.stdout)
    assert "cpu AVX2, fp32, int4 (minichat's kernels)" in there["describe"]
    assert any(there["kernels"])  # minichat's own, where the widths are whole groups
    assert cached.stat().st_mtime_ns == written  # read, not quantized again
    for key, mine in (("prompt", prompt), ("step", step)):
        theirs = torch.tensor(there[key])
        assert relative_error(theirs, mine) < 0.02, key
        assert int(theirs.argmax()) == int(mine.argmax()), key


@pytest.mark.slow
@only_beyond_avx2("an AVX2 machine runs its own path in the test above")
def test_the_avx2_path_keeps_the_default_models_quality() -> None:
    """The guard again with PyTorch, oneDNN and MKL held to AVX2: fp32 activations,
    minichat's decoding kernels, the dense prompt products on MKL's AVX2 code."""
    rerun_as_avx2(f"{__file__}::test_quantization_keeps_the_default_models_quality", 900)


def test_stepwise_perplexity_reads_the_text_as_the_windowed_one_does() -> None:
    """One token at a time through the KV cache, an unquantized fp32 model gives the
    perplexity it gives on the whole text at once; and it agrees with itself."""
    from minichat.tinygpt.model import GPTConfig, TinyGPT

    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=64, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=64, context_length=64
    )
    model = TinyGPT(config).eval()
    ids = torch.randint(0, 64, (40,)).tolist()
    whole, stepwise = perplexity(model, ids), stepwise_perplexity(model, ids)
    assert abs(stepwise / whole - 1) < 1e-4
    assert greedy_agreement(model, model, [ids[:5], ids[5:12]], 8) == 1.0
