"""Incremental detokenisation: no broken characters, no lost spaces."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from minichat.engine.detok import IncrementalDetokenizer


def byte_decode(ids: Sequence[int]) -> str:
    return bytes(ids).decode("utf-8", errors="replace")


def stream(decode, ids: list[int]) -> list[str]:  # type: ignore[no-untyped-def]
    detok = IncrementalDetokenizer(decode)
    pieces = [detok.push(i) for i in ids]
    return [*pieces, detok.flush()]


def test_multibyte_characters_wait_until_complete() -> None:
    ids = list("né 🍵".encode())
    pieces = stream(byte_decode, ids)
    assert "".join(pieces) == "né 🍵"
    assert not any("\ufffd" in p for p in pieces)
    assert "🍵" in pieces  # emitted whole, once its fourth byte arrived


@given(st.text(max_size=30))
def test_any_text_round_trips_without_replacement_characters(text: str) -> None:
    pieces = stream(byte_decode, list(text.encode()))
    assert "".join(pieces) == text


def test_sentencepiece_style_spaces_are_kept() -> None:
    # Tokens that carry their space as a leading marker, which a lone decode strips.
    vocab = {0: "▁Hello", 1: "▁world", 2: "!"}

    def decode(ids: Sequence[int]) -> str:
        return "".join(vocab[i] for i in ids).replace("▁", " ").lstrip(" ")

    assert "".join(stream(decode, [0, 1, 2])) == "Hello world!"


def test_real_tokenizer_incomplete_character_is_held() -> None:
    from tests.conftest import build_byte_tokenizer

    tokenizer = build_byte_tokenizer()
    ids = tokenizer.encode("ok ✓ done", add_special_tokens=False)

    def decode(part: Sequence[int]) -> str:
        return str(tokenizer.decode(list(part)))

    pieces = stream(decode, ids)
    assert "".join(pieces) == "ok ✓ done"
    assert not any("\ufffd" in p for p in pieces)
