"""The GGUF conversion cache: converted once, written atomically, reused after."""

from __future__ import annotations

from pathlib import Path

import pytest

from minichat.loading import gguf


@pytest.fixture
def fake_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF fake")
    return path


def test_interrupted_conversion_leaves_nothing_behind(
    fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(_: Path, out: Path) -> None:
        out.mkdir(exist_ok=True)
        (out / "config.json").write_text("{}")
        (out / "model.safetensors").write_bytes(b"trunc")
        raise KeyboardInterrupt

    monkeypatch.setattr(gguf, "_convert", half_written)
    with pytest.raises(KeyboardInterrupt):
        gguf.ensure_converted(fake_gguf)
    target = gguf.converted_path(fake_gguf)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no partial folder either


def test_converts_once_then_reuses(fake_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def convert(_: Path, out: Path) -> None:
        calls.append(out)
        out.mkdir(exist_ok=True)
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(gguf, "_convert", convert)
    first = gguf.ensure_converted(fake_gguf)
    second = gguf.ensure_converted(fake_gguf)
    assert first == second and (first / "config.json").is_file() and len(calls) == 1


def test_a_changed_file_is_converted_again(fake_gguf: Path) -> None:
    before = gguf.converted_path(fake_gguf)
    fake_gguf.write_bytes(b"GGUF changed, longer")
    assert gguf.converted_path(fake_gguf) != before


def test_a_corrupt_gguf_is_a_clear_error(fake_gguf: Path) -> None:
    from minichat.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="cannot read GGUF file"):
        gguf.ensure_converted(fake_gguf)
