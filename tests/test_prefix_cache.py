"""KV cache reuse from turn to turn: the same tokens as a cold prefill, the right counts.

One scripted chat (three turns, an undo, a retry, a new system prompt, long messages
that make the budget drop old turns) runs twice on the same backend: once reusing the
cache, once prefilling every prompt from scratch. Greedy replies must match at every
step, and the tokens taken from the cache must be what the conversation allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from minichat import ChatBackend, Conversation, GenerationConfig, Message, load_backend
from minichat.backends.local import LocalBackend
from minichat.backends.native import load_native
from minichat.chat.turn import Exchange
from minichat.engine.prefix import common_prefix
from tests.conftest import build_byte_tokenizer, build_tiny_llama

GREEDY = GenerationConfig(temperature=0, max_new_tokens=24)
SEED = 3


@dataclass
class Step:
    label: str
    reply: str
    prompt_tokens: int
    cached_tokens: int
    new_tokens: int
    newly_dropped: int


def long_message(backend: ChatBackend, share: float) -> str:
    """A message that alone takes about ``share`` of the room left for a prompt."""
    room = backend.context_length - GREEDY.max_new_tokens
    words = 1
    while backend.count_tokens([Message("user", "word " * words)]) < share * room:
        words += 8
    return "word " * words


def script(backend: ChatBackend) -> list[Step]:
    conversation = Conversation()
    steps: list[Step] = []
    long = long_message(backend, 0.2)

    def record(label: str, exchange: Exchange | None) -> None:
        assert exchange is not None
        stats, fitted = exchange.stats, exchange.fitted
        steps.append(
            Step(
                label,
                exchange.reply,
                stats.prompt_tokens,
                stats.cached_tokens,
                stats.new_tokens,
                fitted.newly_dropped,
            )
        )

    def ask(label: str, text: str) -> None:
        record(label, conversation.exchange(text, backend, GREEDY))

    ask("first", "Hello there, who are you?")
    ask("second", "Tell me more about that.")
    ask("third", "And what happened then?")
    conversation.undo()
    ask("after undo", "Say something else.")
    record("retry", conversation.retry(backend, GREEDY))
    conversation.system = "Answer briefly."
    ask("new system", "Why is the sky blue?")
    for i in range(8):  # until the budget drops old turns
        ask(f"long {i}", long)
        if steps[-1].newly_dropped:
            break
    ask("after drop", "Thanks.")
    return steps


def check_counts(steps: list[Step], backend: ChatBackend) -> None:
    by = {step.label: step for step in steps}
    assert by["first"].cached_tokens == 0
    # the whole previous prompt is reused, and at most what was computed of its reply
    for before, after in [("first", "second"), ("second", "third"), ("new system", "long 0")]:
        a, b = by[before], by[after]
        assert a.prompt_tokens <= b.cached_tokens <= a.prompt_tokens + a.new_tokens
    # undo: the prompt is turns one and two again, then a new message
    assert by["second"].prompt_tokens <= by["after undo"].cached_tokens
    assert by["after undo"].cached_tokens < by["after undo"].prompt_tokens
    # retry: the very same prompt; all but its last token come from the cache
    assert by["retry"].prompt_tokens == by["after undo"].prompt_tokens
    assert by["retry"].cached_tokens == by["retry"].prompt_tokens - 1
    # a system prompt in front changes the prompt from (nearly) its first token on
    assert by["new system"].cached_tokens <= 3
    # dropping old turns changes the prompt right after the system prompt
    system = backend.count_tokens([Message("system", "Answer briefly.")])
    drop = steps[-2]
    assert drop.newly_dropped, "the long messages never made the budget drop a turn"
    assert drop.cached_tokens <= system
    # in chunks: the next turn fits beside what was kept, and reuses the cache again
    after = by["after drop"]
    assert after.newly_dropped == 0 and after.cached_tokens >= drop.prompt_tokens
    for step in steps:
        assert step.prompt_tokens + GREEDY.max_new_tokens <= backend.context_length


def check_against_cold(backend: LocalBackend) -> list[Step]:
    backend.reuse_cache = False
    cold = script(backend)
    backend.close()  # frees the cache: the warm run starts from nothing too
    backend.reuse_cache = True
    warm = script(backend)
    assert len({step.reply for step in warm}) > 3, "a model that says one thing tests nothing"
    assert [s.label for s in warm] == [s.label for s in cold]
    for w, c in zip(warm, cold, strict=True):
        assert (w.label, w.reply, w.new_tokens) == (c.label, c.reply, c.new_tokens)
        assert w.prompt_tokens == c.prompt_tokens and c.cached_tokens == 0
    check_counts(warm, backend)
    return warm


@pytest.fixture(scope="module")
def talkative_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with a byte tokenizer whose greedy replies vary with the prompt."""
    folder = tmp_path_factory.mktemp("talkative")
    tokenizer = build_byte_tokenizer()
    build_tiny_llama(len(tokenizer), seed=SEED, tie=False).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(params=["hf", "native"])
def tiny(request: pytest.FixtureRequest, talkative_dir: Path) -> Iterator[LocalBackend]:
    if request.param == "hf":
        backend = load_backend(f"hf:{talkative_dir}", device="cpu", dtype="fp32", engine="hf")
    else:
        backend = load_native(talkative_dir, device="cpu", dtype="fp32")
    assert isinstance(backend, LocalBackend)
    yield backend
    backend.close()


def test_reuse_gives_the_cold_replies_and_counts(tiny: LocalBackend) -> None:
    check_against_cold(tiny)


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2


def test_an_interrupted_forward_is_never_reused(tiny: LocalBackend) -> None:
    conversation = Conversation()
    conversation.exchange("Hello there.", tiny, GREEDY)
    assert tiny.token_model.cached_ids
    real_forward = tiny.token_model.forward

    def interrupted(ids: object) -> object:
        raise KeyboardInterrupt

    tiny.token_model.forward = interrupted  # a second Ctrl+C during the prefill
    cut = conversation.exchange("And again.", tiny, GREEDY)
    tiny.token_model.forward = real_forward
    assert cut.cut_off and tiny.token_model.cached_ids == []
    conversation.undo()
    exchange = conversation.exchange("And again.", tiny, GREEDY)
    assert exchange.stats.cached_tokens == 0


def test_a_cancelled_reply_keeps_the_cache_true_to_the_history(tiny: LocalBackend) -> None:
    conversation = Conversation()
    stream = tiny.stream([Message("user", "Hello there.")], GREEDY)
    pieces = [next(stream) for _ in range(3)]
    stream.close()
    assert stream.finish_reason == "cancelled"
    conversation.messages = [
        Message("user", "Hello there."),
        Message("assistant", "".join(pieces), cut_off=True),
    ]
    warm = conversation.exchange("Go on.", tiny, GREEDY)
    tiny.reuse_cache = False
    conversation.undo()
    cold = conversation.exchange("Go on.", tiny, GREEDY)
    assert warm.reply == cold.reply and warm.stats.cached_tokens > 0


def test_closing_the_backend_frees_the_cache(tiny: LocalBackend) -> None:
    Conversation().exchange("Hello there.", tiny, GREEDY)
    assert tiny.token_model.cache is not None
    tiny.close()
    assert tiny.token_model.cache is None and tiny.token_model.cached_ids == []


@pytest.mark.slow
def test_reuse_on_the_real_default_model() -> None:
    # fp32: with bf16 activations (int4, the default) a prefill split in two rounds
    # differently from one in a piece, and greedy near-ties can then go either way
    backend = load_backend("smollm2", device="cpu", dtype="fp32", quant="none")
    assert isinstance(backend, LocalBackend)
    backend.context_length = 400  # a short context, so the script's long messages fill it
    check_against_cold(backend)


def test_reused_tokens_are_reported_everywhere(tiny: LocalBackend) -> None:
    from minichat.chat.report import line, rows, usage
    from minichat.chat.session import ChatSession
    from minichat.cli.oneshot import to_json

    session = ChatSession(tiny, GREEDY)
    first = session.send("Hello there.")
    second = session.send("Go on.")
    cached = second.stats.cached_tokens
    assert first.stats.prompt_tokens <= cached < second.stats.prompt_tokens
    details = {"cached_tokens": cached}
    assert to_json(session, second, 0.0)["usage"]["prompt_tokens_details"] == details  # type: ignore[index]
    assert usage(second.stats)["prompt_tokens_details"] == details  # the server's usage
    prefilled = second.stats.prompt_tokens - cached
    assert f"from cache {cached} · prefilled {prefilled} ·" in line(second.stats, "stop")
    assert rows(session.last_stats, session.totals)[0][2:4] == [str(cached), str(prefilled)]
