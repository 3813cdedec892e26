"""The contract every ChatBackend must keep; new backends join the parameter list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from minichat import ChatBackend, GenerationConfig, Message, PromptTooLongError, load_backend
from minichat.backends.native import load_native

GREEDY = GenerationConfig(temperature=0, max_new_tokens=30, repetition_penalty=1.0)
MESSAGES = [Message("system", "Be brief."), Message("user", "Tell me about tea please")]

BACKENDS: dict[str, Callable[[Path], ChatBackend]] = {
    "echo": lambda _: load_backend("echo"),
    "hf-tiny": lambda folder: load_backend(f"hf:{folder}", device="cpu", dtype="fp32", engine="hf"),
    "native-tiny": lambda folder: load_native(folder, device="cpu", dtype="fp32"),
}


@pytest.fixture(params=[*sorted(BACKENDS), "tinygpt", "openai-remote"], scope="module")
def backend(request: pytest.FixtureRequest, tiny_model_dir: Path) -> Iterator[ChatBackend]:
    if request.param == "tinygpt":  # a random TinyGPT checkpoint, as minichat train writes it
        folder = request.getfixturevalue("tiny_checkpoint")
        tiny = load_backend(f"tiny:{folder}", device="cpu", dtype="fp32")
        yield tiny
        tiny.close()
        return
    if request.param == "openai-remote":  # minichat serve on loopback, reached over HTTP
        from minichat.backends.remote import OpenAIBackend
        from tests.test_server import serving

        with serving(
            load_backend(f"hf:{tiny_model_dir}", device="cpu", dtype="fp32", engine="hf")
        ) as url:
            remote = OpenAIBackend(f"hf:{tiny_model_dir}", url)
            yield remote
            remote.close()
        return
    backend = BACKENDS[request.param](tiny_model_dir)
    yield backend
    backend.close()


def reply(backend: ChatBackend, config: GenerationConfig = GREEDY) -> tuple[str, str, int]:
    stream = backend.stream(MESSAGES, config)
    pieces = list(stream)
    assert all(isinstance(p, str) and p for p in pieces)
    assert stream.stats is not None and stream.finish_reason is not None
    return "".join(pieces), stream.finish_reason, stream.stats.new_tokens


def test_identity(backend: ChatBackend) -> None:
    assert backend.name and backend.model_id and backend.context_length > 0
    assert backend.model_id in backend.describe()


def test_token_count_is_what_the_stream_reports(backend: ChatBackend) -> None:
    stream = backend.stream(MESSAGES, GREEDY)
    list(stream)
    assert stream.stats is not None
    assert stream.stats.prompt_tokens == backend.count_tokens(MESSAGES)
    longer = [*MESSAGES, Message("assistant", "Tea is a drink."), Message("user", "More?")]
    assert backend.count_tokens(longer) > backend.count_tokens(MESSAGES)


def test_greedy_is_deterministic_and_bounded(backend: ChatBackend) -> None:
    first = reply(backend)
    assert first == reply(backend)
    text, reason, new_tokens = first
    assert text and reason in ("stop", "end_turn", "length") and 0 < new_tokens <= 30


def test_max_new_tokens_ends_with_length(backend: ChatBackend) -> None:
    full = backend.stream(MESSAGES, GREEDY)
    list(full)
    assert full.stats is not None
    _, reason, new_tokens = reply(backend, GREEDY.with_values(max_new_tokens=3))
    if full.stats.new_tokens > 3:  # the unbounded reply was longer: this one was cut
        assert (reason, new_tokens) == ("length", 3)
    else:
        assert new_tokens == full.stats.new_tokens


def test_stop_sequence_is_never_printed(backend: ChatBackend) -> None:
    full, _, _ = reply(backend)
    stop = full[len(full) // 3 : len(full) // 3 + 3]
    text, reason, _ = reply(backend, GREEDY.with_values(stop=(stop,)))
    assert text == full[: full.find(stop)]
    assert reason == "stop" and stop not in text


def test_close_cancels_and_keeps_the_partial_reply(backend: ChatBackend) -> None:
    stream = backend.stream(MESSAGES, GREEDY)
    first = next(stream)
    stream.close()
    assert stream.finish_reason == "cancelled"
    assert stream.text == first
    assert stream.stats is not None
    assert stream.stats.prompt_tokens == backend.count_tokens(MESSAGES)
    assert list(stream) == []


def test_prompt_too_long_is_refused_not_cut(backend: ChatBackend) -> None:
    huge = [Message("user", "tea " * (backend.context_length + 10))]
    with pytest.raises(PromptTooLongError):
        list(backend.stream(huge, GREEDY))


def test_fallback_template_and_system_merge(tiny_model_dir: Path, tmp_path: Path) -> None:
    from minichat.backends.hf import HFBackend
    from tests.conftest import build_byte_tokenizer

    model = load_backend(
        f"hf:{tiny_model_dir}", device="cpu", dtype="fp32", engine="hf"
    ).token_model.model
    plain = HFBackend(model, build_byte_tokenizer(chat_template=None), "plain")
    text = plain.tokenizer.decode(plain.encode(MESSAGES))
    assert text == "Be brief.\n\nUser: Tell me about tea please\nAssistant:"
    assert "\nUser:" in plain.extra_stops

    no_system = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('no system role') }}{% endif %}"
        "[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] "
    )
    strict = HFBackend(model, build_byte_tokenizer(chat_template=no_system), "strict")
    text = strict.tokenizer.decode(strict.encode(MESSAGES))
    assert text == "[user] Be brief.\n\nTell me about tea please\n[assistant] "
    assert strict.end_ids == {strict.tokenizer.convert_tokens_to_ids("<|im_end|>")} | {
        model.config.eos_token_id
    }
