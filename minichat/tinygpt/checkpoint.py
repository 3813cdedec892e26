"""TinyGPT checkpoints: a model folder any Llama reader loads, plus the training state.

A checkpoint folder holds:

- ``config.json`` and ``model.safetensors``: the weights in transformers' Llama
  layout (``weights.save_llama``), with the run's step, validation loss and
  settings under ``"minichat"`` in the config;
- ``tokenizer.json``, ``tokenizer_config.json``, ``chat_template.jinja``;
- ``training_state.pt``: fp32 weights, optimiser moments, step, random state
  and loss history, everything ``--resume`` needs (not needed for chatting);
- ``loss.png``: the loss curve so far.

Every file is written atomically, weights first and training state last: a
crash mid-save leaves each file whole, and a resume restarts from the last
complete training state.
"""

from __future__ import annotations

import io
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from minichat.errors import InputError
from minichat.safety.files import read_regular, replacing
from minichat.tinygpt.model import TinyGPT
from minichat.tinygpt.train import History, TrainConfig, Trainer
from minichat.tinygpt.weights import save_llama

STATE_FILE = "training_state.pt"
STATE_LIMIT = 4 << 30  # bytes: a TinyGPT's or an adapter's run is far smaller
CURVE_FILE = "loss.png"


def save_checkpoint(
    folder: Path, trainer: Trainer, run: dict[str, Any], weights_dtype: torch.dtype
) -> None:
    """Write ``trainer``'s model and state; ``run`` says how it was started (data, preset)."""
    assert isinstance(trainer.model, TinyGPT)
    config = asdict(trainer.config)
    summary = {**run, "step": trainer.step, "validation_loss": trainer.validation_loss}
    save_llama(trainer.model, folder, weights_dtype, {**summary, "train": config})
    state = {
        **trainer.state(),
        "model": trainer.model.state_dict(),
        "model_config": asdict(trainer.model.config),
        "train_config": config,
        "run": run,
    }
    with replacing(folder / STATE_FILE) as temporary:
        torch.save(state, temporary)
    draw_losses(trainer.history, folder / CURVE_FILE)


def load_state(folder: Path) -> dict[str, Any]:
    path = folder / STATE_FILE
    if not path.is_file():
        raise InputError(f"{folder} has no {STATE_FILE} to resume from")
    try:  # read once, as a regular file (a FIFO swapped in would hang torch.load), capped
        data = read_regular(path, STATE_LIMIT)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > STATE_LIMIT:
        raise InputError(f"{path} is larger than {STATE_LIMIT >> 30} GiB; it is no run's state")
    try:
        state: dict[str, Any] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        state["model"], state["step"]
    except Exception as error:  # pickle, zip and key errors alike mean a damaged file
        raise InputError(f"{path} is damaged and cannot be resumed from: {error}") from None
    return state


def resume_state(folder: Path, steps: int | None) -> tuple[dict[str, Any], TrainConfig]:
    """The saved state of the run in ``folder`` and its settings, to go on from its last
    step (to ``steps`` if given)."""
    state = load_state(folder)
    config = TrainConfig(**state["train_config"])
    if steps is not None:
        if steps <= state["step"]:
            raise InputError(
                f"the run in {folder} is already at step {state['step']}; "
                "give --steps above that to train on"
            )
        config = replace(config, steps=steps)
    return state, config


def draw_losses(history: History, path: Path) -> None:
    """The training and validation loss curves as a PNG (matplotlib, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    if history.train:
        steps, losses = zip(*history.train, strict=True)
        axes.plot(steps, losses, label="training", linewidth=1)
    if history.validation:
        steps, losses = zip(*history.validation, strict=True)
        axes.plot(steps, losses, "o-", label="validation", linewidth=1.5, markersize=3)
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy loss (nats per token)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    with replacing(path) as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)
