"""From flags to a running ``Trainer``: a new run or the resumption of one.

A new run reads the data, splits it, learns the tokenizer on the training split,
saves the tokenizer into the output folder and initialises the model from the
preset. A resumed run reads all of that back from the folder, so the same
data, split, tokenizer and schedule carry on.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from minichat.errors import InputError
from minichat.tinygpt import data
from minichat.tinygpt.checkpoint import STATE_FILE, resume_state, save_checkpoint
from minichat.tinygpt.model import GPTConfig, TinyGPT
from minichat.tinygpt.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from minichat.tinygpt.train import PRESETS, TrainConfig, Trainer, new_model

CHITCHAT = "chitchat"  # the data source name for the default corpus


def start(
    out: Path,
    *,
    source: str,
    preset: str,
    config: TrainConfig,
    device: torch.device,
    weights_dtype: torch.dtype,
    context_length: int | None = None,
) -> Trainer:
    """A new run in ``out`` on ``source`` (``chitchat`` or a file path)."""
    if (out / STATE_FILE).exists():
        raise InputError(
            f"{out} already holds a checkpoint: continue it with --resume {out}, "
            "or choose another --out"
        )
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    corpus = _corpus(source, config)
    shape = PRESETS[preset]
    if context_length is not None:
        shape = replace(shape, context_length=context_length)
    tokenizer = train_tokenizer(corpus.contents, shape.vocab_size)
    # a small corpus may have fewer distinct merges than the preset's vocabulary
    shape = replace(shape, vocab_size=tokenizer.get_vocab_size())
    save_tokenizer(tokenizer, out, shape.context_length)
    model = new_model(shape, config.seed).to(device)
    run = {"data": source, "preset": preset}
    return _trainer(out, model, config, corpus, run, weights_dtype, state=None)


def resume(
    out: Path, *, device: torch.device, weights_dtype: torch.dtype, steps: int | None = None
) -> Trainer:
    """The run saved in ``out``, to go on from its last step (to ``steps`` if given)."""
    state, config = resume_state(out, steps)
    model = TinyGPT(GPTConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    corpus = _corpus(state["run"]["data"], config)
    return _trainer(out, model.to(device), config, corpus, state["run"], weights_dtype, state=state)


def _corpus(source: str, config: TrainConfig) -> data.Corpus:
    items = data.chitchat_chats() if source == CHITCHAT else data.read_file(Path(source))
    return data.build_corpus(items, config.validation_fraction, config.seed)


def _trainer(
    out: Path,
    model: TinyGPT,
    config: TrainConfig,
    corpus: data.Corpus,
    run: dict[str, Any],
    weights_dtype: torch.dtype,
    state: dict[str, Any] | None,
) -> Trainer:
    tokenizer = load_tokenizer(out)
    block = model.config.context_length
    train_ids = data.encode(corpus.train, tokenizer)
    validation = data.fixed_batches(
        data.encode(corpus.validation, tokenizer), config.batch_size, block, config.eval_batches
    )
    data.sample_batch(train_ids, 1, block, torch.Generator())  # too little data fails now

    def sample(step: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return data.sample_batch(train_ids, config.batch_size, block, generator)

    run = {**run, "train_tokens": len(train_ids)}
    return Trainer(
        model,
        config,
        sample,
        validation,
        lambda trainer: save_checkpoint(out, trainer, run, weights_dtype),
        state=state,
    )
