"""The compiled decode step: the same logits as the eager one, built once, picked up.

The builds are real (export, AOTInductor, the C++ compiler) on the shipped
TinyGPT model, tiny-chitchat, which builds in seconds; they are marked slow.
The bookkeeping around them (failure notes, stale locks, damaged packages) is
checked without building.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from minichat import GenerationConfig, Message, load_backend
from minichat.backends.native import NativeBackend
from minichat.errors import ConfigError, ModelLoadError
from minichat.loading.compiled import Builds, package_path
from minichat.tinygpt import kernels
from minichat.tinygpt.aot import fingerprint
from tests.as_avx2 import only_beyond_avx2, rerun_as_avx2

MODEL = "tiny-chitchat"
CHAT = [Message("user", "hello, how are you today? what did you do this weekend?")]
GREEDY = GenerationConfig(temperature=0, max_new_tokens=40, repetition_penalty=1.0)


def native(**options: str) -> NativeBackend:
    backend = load_backend(MODEL, **options)
    assert isinstance(backend, NativeBackend)
    return backend


def reply(backend: NativeBackend) -> str:
    return "".join(backend.stream(CHAT, GREEDY))


def builds_for(backend: NativeBackend) -> Builds:
    return Builds(package_path(fingerprint(backend.token_model.model)))


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of the test's own: every build is fresh, and none outlives the test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(folder))
    return folder


@pytest.mark.slow
# int4 computes in bf16, whose step is 0.125 at logits of 16 to 32: two steps at most
@pytest.mark.parametrize(("quant", "tolerance"), [("none", 1e-4), ("int4", 0.26)])
def test_compiled_step_gives_the_eager_logits(
    own_cache: Path, quant: str, tolerance: float
) -> None:
    eager = native(quant=quant, compile="off")
    compiled = native(quant=quant, compile="wait")
    assert compiled.describe().endswith("compiled step")
    assert eager.describe().endswith("eager")
    assert compiled.token_model.compiled is not None
    layers = [m for m in compiled.token_model.model.modules() if hasattr(m, "fast")]
    assert all(m.fast == kernels.wanted() for m in layers)  # minichat's kernels, if wanted
    expected = reply(eager)

    # teacher-forced: both models see the eager reply's tokens, step by step
    ids = eager.encode(CHAT) + eager.format.tokenizer.encode(expected).ids  # type: ignore[attr-defined]
    prompt = len(eager.encode(CHAT))
    with torch.inference_mode():
        for backend in (eager, compiled):
            backend.token_model.keep(0)
            backend.token_model.forward(ids[:prompt])
        rows = []
        for token in ids[prompt:]:
            rows.append([b.token_model.forward([token]).float() for b in (eager, compiled)])
    gaps = [float((a - b).abs().max()) for a, b in rows]
    assert len(rows) > 10
    assert max(gaps) < tolerance, gaps
    assert sum(int(a.argmax() == b.argmax()) for a, b in rows) >= 0.9 * len(rows)
    assert compiled.token_model.cache.length == len(ids)  # type: ignore[union-attr]
    if quant == "none":  # fp32: the very same greedy reply
        assert reply(compiled) == expected

    # the ends of the length range: one cached position, and all but one
    model, step = compiled.token_model.model, compiled.token_model.compiled
    cache = model.new_cache()
    context = model.config.context_length
    with torch.inference_mode():
        model(torch.randint(0, model.config.vocab_size, (1, context - 1)), cache)
        for length in (1, context - 1):
            cache.length = length
            got = step(torch.tensor([7]), *cache.prefix())
            want = model.step(torch.tensor([7]), *cache.prefix())
            for a, b in zip(got, want, strict=True):
                assert float((a.float() - b.float()).abs().max()) < tolerance


@pytest.mark.slow
@only_beyond_avx2("an AVX2 machine calls minichat's kernels from the step in the test above")
def test_the_avx2_step_calls_minichats_kernels() -> None:
    """The int4 case above again as an AVX2 machine runs it: its step, traced through
    minichat's kernels (``tinygpt.kernels``), called from AOTInductor's library."""
    rerun_as_avx2(f"{__file__}::test_compiled_step_gives_the_eager_logits[int4-0.26]", 600)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling classes")
def test_a_background_build_is_picked_up_at_the_next_reply(own_cache: Path) -> None:
    expected = reply(native(compile="off"))
    backend = native(compile="auto")
    builds = backend.token_model.pending
    assert builds is not None and builds.process is not None
    try:
        assert backend.describe().endswith("eager, compiling in the background")
        assert os.sched_getscheduler(builds.process.pid) == os.SCHED_IDLE  # idle CPU only
        again = native(compile="auto")  # a second start while it builds: no second builder
        assert again.token_model.pending is not None
        assert again.token_model.pending.process is None
        assert reply(backend) == expected  # meanwhile: eagerly
        assert backend.token_model.compiled is None

        builds.process.wait(timeout=300)
        assert builds.package.is_file(), builds.log.read_text()
        assert not builds.building()
        assert reply(backend) == expected  # the next reply picks the step up
        assert backend.token_model.compiled is not None
        assert backend.describe().endswith("compiled step")
        assert reply(again) == expected
        assert native(compile="auto").token_model.compiled is not None  # later: cached
    finally:
        if builds.process.poll() is None:
            builds.process.kill()


def test_a_failed_build_is_noted_and_not_retried(own_cache: Path) -> None:
    builds = builds_for(native(compile="off"))
    builds.package.parent.mkdir(parents=True)
    builds.failed.write_text("CppCompileError: no C++ compiler\ng++ said a great deal")
    backend = native(compile="auto")
    assert backend.token_model.pending is None  # no builder started
    assert backend.describe().endswith(
        f"eager (no compiled step: CppCompileError: no C++ compiler "
        f"(details in {builds.log}; remove {builds.failed} to retry))"
    )
    assert reply(backend)  # and it still chats, eagerly
    with pytest.raises(ModelLoadError, match="no C\\+\\+ compiler.*--compile off"):
        native(compile="wait")  # asked to wait for it: says why there is none


def test_a_failing_wait_build_is_one_clear_error(
    own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(model: object, path: Path) -> None:
        raise RuntimeError("the compiler crashed")

    monkeypatch.setattr("minichat.tinygpt.aot.build", broken)
    with pytest.raises(ModelLoadError, match="the compiler crashed.*--compile off"):
        native(compile="wait")
    builds = builds_for(native(compile="off"))
    assert "the compiler crashed" in builds.failed.read_text()
    assert not builds.package.exists()


def test_a_package_that_does_not_load_is_noted_not_rebuilt(own_cache: Path) -> None:
    expected = reply(native(compile="off"))
    builds = builds_for(native(compile="off"))
    builds.package.parent.mkdir(parents=True)
    builds.package.write_bytes(b"not a package")
    backend = native(compile="auto")  # finds it, cannot load it
    assert backend.token_model.compiled is None
    assert not builds.package.exists()
    assert "no compiled step" in backend.describe()
    assert reply(backend) == expected
    assert native(compile="auto").token_model.pending is None  # no build loop


def test_a_step_that_fails_falls_back_for_good_and_loses_nothing() -> None:
    eager = native(compile="off")
    expected = reply(eager)
    calls = []

    def failing(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        calls.append(args)
        raise RuntimeError("the library could not allocate\nmore detail")

    backend = native(compile="off")
    backend.token_model.compiled = failing  # type: ignore[assignment]
    assert reply(backend) == expected
    assert len(calls) == 1 and backend.token_model.compiled is None
    assert backend.describe().endswith(
        "eager (no compiled step: it failed while decoding: the library could not allocate)"
    )


def test_the_step_is_used_from_one_cached_position_to_a_full_context() -> None:
    backend = native(compile="off")
    token_model, model = backend.token_model, backend.token_model.model
    lengths = []

    def step(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        lengths.append(args[1].shape[2])
        return model.step(*args)  # the very function the library is built from

    token_model.compiled = step  # type: ignore[assignment]
    context = token_model.context_length
    with torch.inference_mode():
        token_model.keep(0)
        token_model.forward([5])  # a one-token prompt: eager, nothing cached yet
        token_model.forward([6])
        token_model.forward(list(range(7, 7 + context - 3)))  # a prefill: eager
        token_model.forward([8])
        with pytest.raises(ValueError, match="exceed the context length"):
            token_model.forward([9])  # the context is full: the eager path says so
    assert lengths == [1, context - 1]


def test_a_lock_is_held_by_a_live_process_only(own_cache: Path) -> None:
    import fcntl

    builds = Builds(own_cache / "compiled" / "step-0.pt2")
    assert not builds.building()
    fd = os.open(builds.lock, os.O_RDWR)  # as a builder holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert builds.building()
        assert builds.start(Path("unused"), "none", "fp32")  # already under way
        assert builds.process is None
    finally:
        os.close(fd)  # what a builder's exit does, however it ends
    assert not builds.building()


def test_unknown_compile_values_are_refused() -> None:
    with pytest.raises(ConfigError, match="compile must be one of auto, wait, off"):
        load_backend(MODEL, compile="always")


def test_the_first_start_runs_the_model_later_starts_run(own_cache: Path) -> None:
    """The background builder loads the model again, from the quantized cache the first
    start has just written: the two must be the same model, or the step is refused."""
    first = native(quant="int4", compile="off").token_model.model  # quantizes, caches
    later = native(quant="int4", compile="off").token_model.model  # reads the cache
    assert fingerprint(first) == fingerprint(later)
    for (name, a), (_, b) in zip(
        first.state_dict().items(), later.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


@pytest.mark.slow
def test_a_model_with_an_adapter_builds_its_own_step(own_cache: Path, tmp_path: Path) -> None:
    """Under int4 an adapter's blocks stay at int8, a model of another shape: the builder
    in the background loads it with the same adapter, so its step builds and is used."""
    import json

    from safetensors.torch import save_file

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2}))
    key = "base_model.model.model.layers.5.self_attn.q_proj.lora_{}.weight"
    torch.manual_seed(0)
    pair = {key.format("A"): torch.randn(2, 192) / 10, key.format("B"): torch.randn(192, 2) / 10}
    save_file(pair, str(adapter / "adapter_model.safetensors"))
    options = {"quant": "int4", "adapter": str(adapter)}
    expected = reply(native(compile="off", **options))
    backend = native(compile="auto", **options)
    builds = backend.token_model.pending
    assert builds is not None and builds.process is not None
    try:
        builds.process.wait(timeout=300)
        assert builds.package.is_file(), builds.log.read_text()
        assert reply(backend) == expected
        assert backend.describe().endswith("compiled step")
    finally:
        if builds.process.poll() is None:
            builds.process.kill()
