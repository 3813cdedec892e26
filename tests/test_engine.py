"""The decode loop on a tiny random Llama: KV cache, stops, end of turn, cancel."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from minichat.backend import Message, Outcome
from minichat.backends.hf import HFBackend, HFTokenModel, load_hf
from minichat.config import GenerationConfig
from minichat.engine.decode import generate_text
from minichat.errors import PromptTooLongError
from tests.conftest import build_byte_tokenizer, build_tiny_llama

VOCAB = 64
PROMPT = [3, 14, 15, 9, 26, 5]


def one_char_per_id(ids: Sequence[int]) -> str:
    """Text that maps 1:1 to ids, so the text shows exactly which tokens came out."""
    return "".join(chr(0x4E00 + i) for i in ids)


class FullRecompute:
    """No KV cache: every step runs the whole sequence again (the reference)."""

    def __init__(self, model: torch.nn.Module, context_length: int):
        self.model, self.context_length, self.ids = model, context_length, list[int]()
        self.cached_ids: list[int] = []
        self.calls = 0

    def keep(self, length: int) -> int:
        del self.ids[length:]
        return length

    def forward(self, ids: Sequence[int]) -> torch.Tensor:
        self.calls += 1
        self.ids += list(ids)
        return self.model(input_ids=torch.tensor([self.ids]), use_cache=False).logits[0, -1]


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return build_tiny_llama(VOCAB, seed=1)


def run(token_model, config: GenerationConfig, end_ids=(), cancel=None):  # type: ignore[no-untyped-def]
    gen = generate_text(
        token_model,
        one_char_per_id,
        PROMPT,
        config,
        end_ids=end_ids,
        cancel=cancel or threading.Event(),
    )
    pieces: list[str] = []
    while True:
        try:
            pieces.append(next(gen))
        except StopIteration as done:
            outcome: Outcome = done.value
            return "".join(pieces), outcome


GREEDY = GenerationConfig(temperature=0, max_new_tokens=40, repetition_penalty=1.0)


def test_kv_cache_decoding_equals_full_recomputation(model: torch.nn.Module) -> None:
    cached, outcome = run(HFTokenModel(model, 512), GREEDY)
    reference, _ = run(FullRecompute(model, 512), GREEDY)
    assert cached == reference
    assert len(cached) == 40 and outcome == Outcome("length", len(PROMPT), 40)


def test_kv_cache_logits_match_full_recomputation(model: torch.nn.Module) -> None:
    cached, full = HFTokenModel(model, 512), FullRecompute(model, 512)
    cached.keep(0)
    full.keep(0)
    with torch.inference_mode():
        a, b = cached.forward(PROMPT), full.forward(PROMPT)
        for token in [7, 8, 9, 10, 11]:
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
            a, b = cached.forward([token]), full.forward([token])
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_seeded_sampling_reproduces(model: torch.nn.Module) -> None:
    config = GenerationConfig(temperature=1.0, seed=123, max_new_tokens=30)
    first, _ = run(HFTokenModel(model, 512), config)
    again, _ = run(HFTokenModel(model, 512), config)
    other, _ = run(
        HFTokenModel(model, 512), GenerationConfig(temperature=1.0, seed=124, max_new_tokens=30)
    )
    assert first == again != other


def test_stop_split_across_tokens_is_never_printed(model: torch.nn.Module) -> None:
    full, _ = run(HFTokenModel(model, 512), GREEDY)
    stop = full[10:13]  # three tokens
    text, outcome = run(HFTokenModel(model, 512), GREEDY.with_values(stop=(stop,)))
    assert text == full[: full.find(stop)]
    assert outcome.finish_reason == "stop"


def test_end_of_turn_token_ends_the_reply_unprinted(model: torch.nn.Module) -> None:
    full, _ = run(HFTokenModel(model, 512), GREEDY)
    end = ord(full[5]) - 0x4E00
    text, outcome = run(HFTokenModel(model, 512), GREEDY, end_ids={end})
    assert text == full[: full.find(full[5])]
    assert outcome.finish_reason == "end_turn"


def test_cancel_stops_before_the_next_token(model: torch.nn.Module) -> None:
    counting = FullRecompute(model, 512)
    cancel = threading.Event()
    gen = generate_text(counting, one_char_per_id, PROMPT, GREEDY, end_ids=(), cancel=cancel)
    received = [next(gen) for _ in range(3)]
    calls = counting.calls
    cancel.set()
    with pytest.raises(StopIteration) as done:
        next(gen)
    assert done.value.value == Outcome("cancelled", len(PROMPT), 3)
    assert counting.calls == calls  # no forward pass after the cancel
    assert len("".join(received)) == 3


def test_prompt_that_leaves_no_room_is_refused(model: torch.nn.Module) -> None:
    with pytest.raises(PromptTooLongError):
        run(HFTokenModel(model, 10), GREEDY)


def test_running_out_of_memory_is_a_clear_error() -> None:
    from minichat.errors import GenerationError

    class Exhausted:
        context_length = 512
        cached_ids: ClassVar[list[int]] = []

        def keep(self, length: int) -> int:
            return 0

        def forward(self, ids: Sequence[int]) -> torch.Tensor:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9 GB")

    with pytest.raises(GenerationError, match="out of memory while generating"):
        run(Exhausted(), GREEDY)


class Scripted:
    """A token model that writes ``script``: each forward's logits pick the next id;
    the ``cancel_after``-th forward pass sets ``cancel``, like a Ctrl+C during it."""

    def __init__(self, script: Sequence[int], vocab: int, cancel_after: int | None = None):
        self.context_length = 512
        self.cached_ids: list[int] = []
        self.script, self.vocab, self.fed = list(script), vocab, 0
        self.cancel_after, self.cancel = cancel_after, threading.Event()

    def keep(self, length: int) -> int:
        return 0

    def forward(self, ids: Sequence[int]) -> torch.Tensor:
        logits = torch.zeros(self.vocab)
        logits[self.script[self.fed]] = 1.0
        self.fed += 1
        if self.fed == self.cancel_after:
            self.cancel.set()
        return logits


@pytest.mark.parametrize("ending", ["length", "end_turn", "cancelled"])
def test_reply_cut_inside_a_character_never_ends_broken(ending: str) -> None:
    # `minichat ask hi -n 12 --seed 4` printed "😊\ufffd": the limit fell inside an emoji
    from tests.conftest import build_byte_tokenizer

    tokenizer = build_byte_tokenizer()
    eos = tokenizer.eos_token_id
    ids = tokenizer.encode("hi 😊😊", add_special_tokens=False)
    written = ids[:-2]  # the second emoji's first two bytes
    model = Scripted(
        [*written, eos],
        len(tokenizer),
        cancel_after=len(written) + 1 if ending == "cancelled" else None,  # mid-forward
    )
    config = GREEDY.with_values(max_new_tokens=len(written) if ending == "length" else 40)
    gen = generate_text(
        model,
        lambda part: str(tokenizer.decode(list(part), skip_special_tokens=True)),
        [ids[0]],
        config,
        end_ids={eos},
        cancel=model.cancel,
    )
    pieces: list[str] = []
    with pytest.raises(StopIteration) as done:
        while True:
            pieces.append(next(gen))
    outcome: Outcome = done.value.value
    assert outcome.finish_reason == ending
    assert outcome.new_tokens == len(written)
    assert "".join(pieces) == "hi 😊"
    assert not any("\ufffd" in piece for piece in pieces)


CHAT = GenerationConfig(temperature=0, max_new_tokens=16, repetition_penalty=1.3)


def chat_turns(backend: HFBackend) -> list[tuple[str, int]]:
    """Three greedy turns of one chat: each reply and how many prompt tokens were cached."""
    messages = [Message("system", "Be brief.")]
    turns = []
    for text in ("Hello there", "Tell me about tea", "And coffee?"):
        messages.append(Message("user", text))
        stream = backend.stream(messages, CHAT)
        reply = "".join(stream)
        assert stream.stats is not None
        turns.append((reply, stream.stats.cached_tokens))
        messages.append(Message("assistant", reply))
    cache = backend.token_model.cache
    assert cache.get_seq_length() == len(backend.token_model.cached_ids) > 0  # it was used
    backend.close()
    return turns


def test_hf_backend_decodes_without_deprecation_warnings(tiny_model_dir: Path) -> None:
    # transformers 5 warned "`past_key_values` is deprecated" on stderr mid-reply
    backend = load_hf(str(tiny_model_dir), device="cpu", dtype="fp32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chat_turns(backend)
    deprecations = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if issubclass(w.category, (FutureWarning, DeprecationWarning))
    ]
    assert deprecations == []


@pytest.fixture(scope="module")
def untied_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like ``tiny_model_dir``, untied: its greedy replies vary instead of repeating."""
    folder = tmp_path_factory.mktemp("tiny-llama-untied")
    tokenizer = build_byte_tokenizer()
    build_tiny_llama(len(tokenizer), seed=2, tie=False).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


HF_FOLDERS = ["tiny_model_dir", "untied_model_dir"]


@pytest.mark.parametrize("folder", HF_FOLDERS)
def test_hf_cache_reuse_across_turns_gives_the_cold_prefill_replies(
    folder: str, request: pytest.FixtureRequest
) -> None:
    backend = load_hf(str(request.getfixturevalue(folder)), device="cpu", dtype="fp32")
    reused = chat_turns(backend)
    backend.reuse_cache = False
    cold = chat_turns(backend)
    assert [reply for reply, _ in reused] == [reply for reply, _ in cold]
    assert [cached > 0 for _, cached in reused] == [False, True, True]
    assert all(cached == 0 for _, cached in cold)


@pytest.mark.parametrize("folder", HF_FOLDERS)
def test_hf_cache_argument_gives_the_replies_of_past_key_values(
    folder: str, request: pytest.FixtureRequest
) -> None:
    """The same chat through the deprecated argument, where transformers still takes it."""
    import transformers
    from packaging.version import Version

    if Version(transformers.__version__) >= Version("5.40"):
        pytest.skip("past_key_values is gone from this transformers")
    backend = load_hf(str(request.getfixturevalue(folder)), device="cpu", dtype="fp32")
    current = chat_turns(backend)
    backend.token_model.cache_argument = "past_key_values"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        legacy = chat_turns(backend)
    assert current == legacy


def test_the_repetition_penalty_leaves_the_prompt_copyable(
    model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A number from a passage or a tool result is in the prompt: the default penalty
    counts only the reply's own tokens, so the model may copy the prompt's."""
    from minichat.engine.sampling import Sampler

    seen: list[list[int]] = []
    real = Sampler.__call__

    def recording(self: Sampler, logits: torch.Tensor, recent: Sequence[int]) -> int:
        seen.append(list(recent))
        return real(self, logits, recent)

    monkeypatch.setattr(Sampler, "__call__", recording)
    text, _ = run(FullRecompute(model, 128), GenerationConfig(temperature=0, max_new_tokens=8))
    reply = [ord(character) - 0x4E00 for character in text]
    assert seen[0] == []  # the first token may be any of the prompt's
    for step, recent in enumerate(seen):
        assert recent == reply[:step]  # then only what the reply itself wrote


def test_the_repetition_penalty_never_counts_a_number(
    model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply that wrote "1234" must still be free to write the 2 of "7006652": a token
    that is a number is never one the penalty counts."""
    from minichat.engine.sampling import Sampler

    seen: list[list[int]] = []
    real = Sampler.__call__

    def recording(self: Sampler, logits: torch.Tensor, recent: Sequence[int]) -> int:
        seen.append(list(recent))
        return real(self, logits, recent)

    def digits_below_32(ids: Sequence[int]) -> str:  # ids under 32 read as digits
        return "".join(str(i % 10) if i < 32 else chr(0x4E00 + i) for i in ids)

    monkeypatch.setattr(Sampler, "__call__", recording)
    gen = generate_text(
        FullRecompute(model, 128),
        digits_below_32,
        PROMPT,
        GenerationConfig(temperature=1.0, seed=3, max_new_tokens=24),
        end_ids=(),
        cancel=threading.Event(),
    )
    text = "".join(gen)
    assert any(character.isdigit() for character in text)  # numbers were written
    assert all(token >= 32 for recent in seen for token in recent)  # and never counted
    assert any(recent for recent in seen)  # while the rest of the reply was
