"""Shared fixtures: isolated user folders, a tiny real HF model, a scripted backend."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from minichat.backend import ChatBackend, Message, Outcome
from minichat.config import GenerationConfig
from minichat.settings.layered import KEYS, env_name

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep every test away from the user's real config, history and settings. The model
    cache stays shared, so the default model is converted once per machine, not per test."""
    for name in ("CONFIG", "DATA"):
        monkeypatch.setenv(f"MINICHAT_{name}_DIR", str(tmp_path / name.lower()))
    for key in KEYS:
        monkeypatch.delenv(env_name(key), raising=False)
    # each test decodes one known way: eagerly, unless it asks for the compiled step
    monkeypatch.setattr("minichat.catalog.COMPILE_DEFAULT", "off")
    monkeypatch.setenv("MINICHAT_COMPILE", "off")  # for the minichat processes tests start
    # and with a fixed thread count: the adaptive choice has tests of its own
    monkeypatch.setattr("minichat.engine.threads._policy", fixed_threads())
    yield


def fixed_threads():  # type: ignore[no-untyped-def]
    """A thread policy that never looks at the CPU (``engine.threads``)."""
    import os

    from minichat.engine.threads import ThreadPolicy

    return ThreadPolicy(os.cpu_count() or 1, lambda _: None, read=lambda: None)


def build_byte_tokenizer(chat_template: str | None = CHATML):  # type: ignore[no-untyped-def]
    """A real transformers tokenizer with one token per byte, plus ChatML specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    core = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(alphabet)}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    tokenizer.chat_template = chat_template
    return tokenizer


def build_tiny_llama(vocab_size: int, seed: int = 0, context: int = 512, tie: bool = True):  # type: ignore[no-untyped-def]
    """A randomly initialised two-layer Llama: real architecture, no download. Tied, its
    greedy replies mostly repeat the prompt's last token; untied, they vary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        eos_token_id=vocab_size - 2,
        bos_token_id=None,
        pad_token_id=None,
        tie_word_embeddings=tie,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with a byte tokenizer, saved as a transformers folder."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = build_byte_tokenizer()
    model = build_tiny_llama(len(tokenizer))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class ScriptedBackend(ChatBackend):
    """Replies with queued pieces, records every prompt it was sent."""

    name: ClassVar[str] = "scripted"

    def __init__(self, context_length: int = 4096):
        self.model_id = "scripted"
        self.context_length = context_length
        self.replies: list[list[str]] = []
        self.history: list[list[Message]] = []

    def enqueue(self, pieces: Sequence[str]) -> None:
        self.replies.append(list(pieces))

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(1 + len(m.content.split()) for m in messages) + 1

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        self.history.append(list(messages))
        pieces = self.replies.pop(0) if self.replies else ["ok"]
        sent = 0
        for piece in pieces:
            if cancel.is_set():
                return Outcome("cancelled", self.count_tokens(messages), sent)
            sent += 1
            yield piece
        return Outcome("end_turn", self.count_tokens(messages), sent)


@pytest.fixture
def scripted() -> ScriptedBackend:
    return ScriptedBackend()


def arithmetic_chats(count: int) -> list[list[Message]]:
    """Small, regular chats: enough structure for a tokenizer and a model to learn."""
    chats = []
    for i in range(count):
        a, b = i % 10, (i * 7) % 10
        chats.append(
            [
                Message("user", f"what is {a} plus {b}?"),
                Message("assistant", f"{a} plus {b} is {a + b}."),
                Message("user", "thanks!"),
                Message("assistant", "you are welcome."),
            ]
        )
    return chats


TINY_SHAPE = dict(  # a TinyGPT small enough to train in seconds
    vocab_size=512, dim=48, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=96, context_length=128
)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised TinyGPT checkpoint with a BPE tokenizer trained on chats."""
    import torch

    from minichat.tinygpt.model import GPTConfig
    from minichat.tinygpt.tokenizer import save_tokenizer, train_tokenizer
    from minichat.tinygpt.train import new_model
    from minichat.tinygpt.weights import save_llama

    folder = tmp_path_factory.mktemp("tinygpt")
    texts = [m.content for chat in arithmetic_chats(50) for m in chat]
    tokenizer = train_tokenizer(texts, 512)
    # untied: with tied embeddings a random model only repeats the last token it saw
    shape = {**TINY_SHAPE, "vocab_size": tokenizer.get_vocab_size(), "tie_embeddings": False}
    config = GPTConfig(**shape)  # type: ignore[arg-type]
    save_tokenizer(tokenizer, folder, config.context_length)
    save_llama(new_model(config, seed=0), folder, torch.float32, {})
    return folder
