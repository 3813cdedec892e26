"""TinyGPT end to end: tokenizer, data, training, checkpoints and the tiny backend."""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minichat import GenerationConfig, Message, load_backend
from minichat.errors import InputError, ModelLoadError
from minichat.tinygpt import data
from minichat.tinygpt.checkpoint import load_state, save_checkpoint
from minichat.tinygpt.model import GPTConfig
from minichat.tinygpt.tokenizer import SPECIAL_TOKENS, train_tokenizer
from minichat.tinygpt.train import TrainConfig, Trainer, learning_rate, new_model
from tests.conftest import TINY_SHAPE, arithmetic_chats

TOKENIZER = train_tokenizer([m.content for c in arithmetic_chats(80) for m in c], 400)


def corpus_ids(chats: int = 80) -> torch.Tensor:
    return data.encode([data.render_chat(c) for c in arithmetic_chats(chats)], TOKENIZER)


def tiny_config(**changes: object) -> GPTConfig:
    shape = {**TINY_SHAPE, "vocab_size": TOKENIZER.get_vocab_size(), "context_length": 64}
    return GPTConfig(**{**shape, **changes})  # type: ignore[arg-type]


def trainer_for(ids: torch.Tensor, config: TrainConfig, model_config: GPTConfig) -> Trainer:
    block = model_config.context_length
    return Trainer(
        new_model(model_config, config.seed),
        config,
        lambda step, generator: data.sample_batch(ids, config.batch_size, block, generator),
        data.fixed_batches(ids, config.batch_size, block, 2),
        lambda trainer: None,
    )


# -- tokenizer ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_tokenizer_round_trips_any_text(text: str) -> None:
    assert TOKENIZER.decode(TOKENIZER.encode(text).ids, skip_special_tokens=False) == text


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["hi", " there", "plus", "é", "\n", *SPECIAL_TOKENS]), max_size=12))
def test_special_tokens_are_never_split(parts: list[str]) -> None:
    ids = TOKENIZER.encode("".join(parts), add_special_tokens=False).ids
    specials = {TOKENIZER.token_to_id(token) for token in SPECIAL_TOKENS}
    assert sum(i in specials for i in ids) == sum(p in SPECIAL_TOKENS for p in parts)


def test_chat_format_renders_one_marker_per_message() -> None:
    text = data.render_chat([Message("user", "hi"), Message("assistant", "hello")])
    assert text == "<|user|>hi<|end|><|assistant|>hello<|end|>"


# -- data -----------------------------------------------------------------------------


def test_chitchat_is_split_by_whole_conversation() -> None:
    chats = data.chitchat_chats()
    assert len(chats) > 4000 and all(len(c) >= 2 for c in chats)
    assert [m.role for m in chats[0][:3]] == ["user", "assistant", "user"]
    corpus = data.build_corpus(chats, 0.05, seed=1)
    assert len(corpus.validation) == round(len(chats) * 0.05)
    assert not set(corpus.validation) & set(corpus.train)
    assert len(corpus.train) + len(corpus.validation) == len(chats)


def test_jsonl_and_text_files_are_read(tmp_path: Path) -> None:
    chats = tmp_path / "chats.jsonl"
    chats.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}]})
        + "\n\n"
        + json.dumps([{"role": "assistant", "content": "yo"}])
        + "\n"
    )
    assert data.read_file(chats) == [[Message("user", "hi")], [Message("assistant", "yo")]]
    text = tmp_path / "book.txt"
    text.write_text("One paragraph.\n\nAnother\none.\n\n\n")
    assert data.read_file(text) == ["One paragraph.", "Another\none."]


def test_a_bad_jsonl_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "chats.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [{"x": 1}]}\n')
    with pytest.raises(InputError, match="line 2 is not a chat"):
        data.read_file(bad)


# -- training -------------------------------------------------------------------------


def test_learning_rate_warms_up_then_decays_to_the_floor() -> None:
    config = TrainConfig(steps=100, warmup_steps=10, learning_rate=1.0, min_learning_rate=0.1)
    rates = [learning_rate(step, config) for step in range(101)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(rates[10:]))
    assert rates[100] == pytest.approx(0.1)


def test_the_model_overfits_a_tiny_corpus() -> None:
    ids = corpus_ids()
    config = TrainConfig(
        steps=150, batch_size=8, learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=10,
        eval_every=150, precision="fp32",
    )  # fmt: skip
    trainer = trainer_for(ids, config, tiny_config())
    trainer.run()
    first, last = trainer.history.train[0][1], trainer.history.train[-1][1]
    assert first > 4.0  # about ln(vocabulary) at the start
    assert last < 1.0 and trainer.validation_loss is not None and trainer.validation_loss < 1.0


def test_kv_cache_gives_the_logits_of_full_recomputation() -> None:
    model = new_model(tiny_config(), seed=3).eval()
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (1, 40), generator=generator)
    with torch.no_grad():
        full = model(ids)
        cache = model.new_cache()
        pieces = [model(ids[:, :20], cache)]  # a prefill, then a chunk, then single tokens
        pieces.append(model(ids[:, 20:30], cache))
        pieces += [model(ids[:, i : i + 1], cache) for i in range(30, 40)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-4)


def test_resuming_continues_exactly(tmp_path: Path) -> None:
    ids = corpus_ids()
    config = TrainConfig(steps=6, batch_size=4, warmup_steps=2, eval_every=3, precision="fp32")
    straight = trainer_for(ids, config, tiny_config())
    straight.run()

    halfway = trainer_for(ids, replace(config, steps=3), tiny_config())
    halfway.run()
    save_checkpoint(tmp_path, halfway, {"data": "test"}, torch.float32)
    state = load_state(tmp_path)
    model = new_model(tiny_config(), 0)
    model.load_state_dict(state["model"])
    resumed = Trainer(
        model, config, halfway.sample, halfway.validation, lambda trainer: None, state=state
    )
    resumed.run()
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert resumed.history.validation == straight.history.validation


# -- checkpoints and the backend ------------------------------------------------------


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Trainer]:
    folder = tmp_path_factory.mktemp("checkpoint")
    from minichat.tinygpt.tokenizer import save_tokenizer

    save_tokenizer(TOKENIZER, folder, 64)
    config = TrainConfig(steps=40, batch_size=8, learning_rate=3e-3, warmup_steps=5, eval_every=20)
    trainer = trainer_for(corpus_ids(), config, tiny_config())
    trainer.run()
    save_checkpoint(folder, trainer, {"data": "test", "preset": "test"}, torch.float32)
    return folder, trainer


def test_save_then_load_gives_identical_outputs(trained_checkpoint: tuple[Path, Trainer]) -> None:
    folder, trainer = trained_checkpoint
    backend = load_backend(f"tiny:{folder}", device="cpu", dtype="fp32")
    assert backend.name == "tiny" and backend.context_length == 64
    loaded = backend.token_model.model  # type: ignore[attr-defined]
    original = trainer.model.state_dict()
    for name, tensor in loaded.state_dict().items():  # fp32 CPU keeps matrices transposed
        expected = original[name] if name in original else original[name[:-2]].t()
        torch.testing.assert_close(tensor, expected, atol=0, rtol=0)
    ids = torch.tensor([backend.encode([Message("user", "what is 2 plus 3?")])])  # type: ignore[attr-defined]
    trainer.model.eval()
    with torch.no_grad():  # the same numbers, summed in another order: equal to rounding
        torch.testing.assert_close(loaded(ids), trainer.model(ids), atol=1e-5, rtol=1e-5)
    assert (folder / "loss.png").read_bytes().startswith(b"\x89PNG")
    saved = json.loads((folder / "config.json").read_text())["minichat"]
    assert saved["step"] == 40 and saved["validation_loss"] == trainer.validation_loss


def test_the_checkpoint_loads_in_transformers_too(trained_checkpoint: tuple[Path, Trainer]) -> None:
    folder = trained_checkpoint[0]
    tiny = load_backend(f"tiny:{folder}", device="cpu", dtype="fp32")
    hf = load_backend(f"hf:{folder}", device="cpu", dtype="fp32", engine="hf")
    messages = [Message("user", "what is 4 plus 1?")]
    config = GenerationConfig(temperature=0, max_new_tokens=12)
    assert tiny.count_tokens(messages) == hf.count_tokens(messages)
    assert "".join(tiny.stream(messages, config)) == "".join(hf.stream(messages, config))


def test_a_truncated_checkpoint_is_a_clear_error(
    trained_checkpoint: tuple[Path, Trainer], tmp_path: Path
) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(trained_checkpoint[0], folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="corrupt or incomplete"):
        load_backend(f"tiny:{folder}")


def test_a_mismatched_tokenizer_is_a_clear_error(
    trained_checkpoint: tuple[Path, Trainer], tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(trained_checkpoint[0], folder)
    bigger = train_tokenizer([m.content for c in data.chitchat_chats()[:300] for m in c], 1000)
    (folder / "tokenizer.json").write_text(bigger.to_str())
    with pytest.raises(ModelLoadError, match="different runs"):
        load_backend(f"tiny:{folder}")


def test_missing_files_and_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no TinyGPT checkpoint at"):
        load_backend(f"tiny:{tmp_path / 'nowhere'}")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match=r"model.safetensors, tokenizer.json missing"):
        load_backend(f"tiny:{tmp_path}")


def test_a_damaged_training_state_cannot_be_resumed(tmp_path: Path) -> None:
    (tmp_path / "training_state.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="damaged"):
        load_state(tmp_path)


# -- the shipped checkpoint -----------------------------------------------------------


def test_the_shipped_tiny_chitchat_model_answers_in_words() -> None:
    from tests.test_cli import minichat

    result = minichat("ask", "hi, how are you?", "-m", "tiny-chitchat", "--json", "--seed", "1")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["finish_reason"] == "end_turn"  # it ends its turn by itself
    words = answer["text"].split()
    assert 1 <= len(words) <= 60 and sum(w.isascii() for w in words) == len(words)
