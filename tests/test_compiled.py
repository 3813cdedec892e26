"""The compiled decode step: the same logits as the eager one, built once, picked up.

The builds are real (export, AOTInductor, the C++ compiler) on the shipped
TinyGPT model, tiny-chitchat, which builds in seconds; they are marked slow.
The bookkeeping around them (failure notes, stale locks, damaged packages) is
checked without building.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from minichat import GenerationConfig, Message, load_backend
from minichat.backends.compiled import Builds, package_path
from minichat.backends.native import NativeBackend
from minichat.errors import ConfigError, ModelLoadError
from minichat.tinygpt.aot import fingerprint

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
    """A cache of the test's own, so that no build or note outlives it."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(folder))
    return folder


@pytest.mark.slow
# int4 computes in bf16, whose step is 0.125 at logits of 16 to 32: two steps at most
@pytest.mark.parametrize(("quant", "tolerance"), [("none", 1e-4), ("int4", 0.26)])
def test_compiled_step_gives_the_eager_logits(quant: str, tolerance: float) -> None:
    eager = native(quant=quant, compile="off")
    compiled = native(quant=quant, compile="wait")
    assert compiled.describe().endswith("compiled step")
    assert eager.describe().endswith("eager")
    assert compiled.token_model.compiled is not None
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


@pytest.mark.slow
def test_a_background_build_is_picked_up_at_the_next_reply(own_cache: Path) -> None:
    expected = reply(native(compile="off"))
    backend = native(compile="auto")
    builds = builds_for(backend)
    assert backend.describe().endswith("eager, compiling in the background")
    pid = int(builds.lock.read_text())
    assert os.sched_getscheduler(pid) == os.SCHED_IDLE  # it waits for idle CPU time
    again = native(compile="auto")  # a second start while it builds: no second builder
    assert int(builds.lock.read_text()) == pid
    assert reply(backend) == expected  # meanwhile: eagerly

    deadline = time.monotonic() + 300
    while builds.building() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert builds.package.is_file(), builds.package.with_suffix(".log").read_text()
    assert not builds.lock.exists()
    assert reply(backend) == expected  # the next reply picks the step up
    assert backend.describe().endswith("compiled step")
    assert backend.token_model.compiled is not None
    assert reply(again) == expected
    assert native(compile="auto").token_model.compiled is not None  # a later start: cached


def test_a_failed_build_is_noted_and_not_retried(own_cache: Path) -> None:
    builds = builds_for(native(compile="off"))
    builds.package.parent.mkdir(parents=True)
    builds.failed.write_text("CppCompileError: no C++ compiler")
    backend = native(compile="auto")
    assert not builds.lock.exists()  # no builder started
    assert "failed to build: CppCompileError: no C++ compiler" in backend.describe()
    assert reply(backend)  # and it still chats, eagerly


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


def test_a_damaged_package_is_removed_and_decoding_goes_on(own_cache: Path) -> None:
    expected = reply(native(compile="off"))
    builds = builds_for(native(compile="off"))
    builds.package.parent.mkdir(parents=True)
    builds.package.write_bytes(b"not a package")
    backend = native(compile="auto")  # finds it, cannot load it, removes it
    assert backend.token_model.compiled is None
    assert not builds.package.exists()
    assert reply(backend) == expected


def test_a_stale_lock_is_cleared(own_cache: Path) -> None:
    builds = Builds(own_cache / "compiled" / "step-0.pt2")
    builds.package.parent.mkdir(parents=True)
    builds.lock.write_text("999999999")  # no such process
    assert not builds.building()
    assert not builds.lock.exists()
    builds.lock.write_text(str(os.getpid()))
    assert builds.building()


def test_unknown_compile_values_are_refused() -> None:
    with pytest.raises(ConfigError, match="compile must be one of auto, wait, off"):
        load_backend(MODEL, compile="always")
