"""Incremental detokenisation: no broken characters, no lost spaces."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import assume, given
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
    # A real U+FFFD as the very last character cannot be told from an incomplete
    # one by the text a decode gives; anywhere else it is kept (tested below).
    assume(not text.endswith("\ufffd"))
    pieces = stream(byte_decode, list(text.encode()))
    assert "".join(pieces) == text


def test_reply_cut_inside_a_character_drops_it() -> None:
    # `minichat ask hi -n 12 --seed 4` ended with the first bytes of an emoji: "😊\ufffd"
    ids = list("hi 😊😊".encode())
    for cut in (1, 2, 3):  # one, two or three of the second emoji's four bytes
        pieces = stream(byte_decode, ids[: len(ids) - 4 + cut])
        assert "".join(pieces) == "hi 😊"
        assert not any("\ufffd" in p for p in pieces)


@given(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\ufffd"), max_size=20),
    st.data(),
)
def test_cut_anywhere_gives_the_complete_characters(text: str, data: st.DataObject) -> None:
    encoded = text.encode()
    cut = data.draw(st.integers(0, len(encoded)))
    pieces = stream(byte_decode, list(encoded[:cut]))
    assert "".join(pieces) == encoded[:cut].decode("utf-8", errors="ignore")


def test_real_replacement_characters_inside_the_text_are_kept() -> None:
    ids = list("a\ufffd\ufffdb".encode()) + list("🍵".encode())[:2]
    assert "".join(stream(byte_decode, ids)) == "a\ufffd\ufffdb"
    ids = list("x\ufffd\ufffdy".encode())
    assert "".join(stream(byte_decode, ids)) == "x\ufffd\ufffdy"
    ids = list("\ufffd\ufffd\ufffd\ufffd.".encode())
    assert "".join(stream(byte_decode, ids)) == "\ufffd\ufffd\ufffd\ufffd."


def test_byte_fallback_decoder_incomplete_character_is_dropped() -> None:
    # SentencePiece byte fallback writes one U+FFFD per byte of an incomplete character
    from tokenizers import decoders

    fallback = decoders.ByteFallback()

    def decode(ids: Sequence[int]) -> str:
        return str(fallback.decode([f"<0x{i:02X}>" for i in ids]))

    for text in ("ok 🍵", "ok ✓🍵", "ok ✓a🍵"):
        ids = list(text.encode())
        for cut in (1, 2, 3):
            pieces = stream(decode, ids[: len(ids) - 4 + cut])
            assert "".join(pieces) == text[:-1]
    # it writes "✓" + two bytes of "🍵" as five U+FFFDs, "✓" included
    assert decode([*"✓".encode(), *"🍵".encode()[:2]]) == "\ufffd" * 5


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


def test_real_tokenizer_reply_cut_inside_a_character() -> None:
    from tests.conftest import build_byte_tokenizer

    tokenizer = build_byte_tokenizer()
    ids = tokenizer.encode("done ✓✓", add_special_tokens=False)[:-1]

    def decode(part: Sequence[int]) -> str:
        return str(tokenizer.decode(list(part)))

    assert decode(ids).endswith("\ufffd")  # what used to be printed
    pieces = stream(decode, ids)
    assert "".join(pieces) == "done ✓"
    assert not any("\ufffd" in p for p in pieces)
