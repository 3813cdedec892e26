"""``minichat train``: train a TinyGPT chat model, with a live progress bar.

The work is in ``minichat.tinygpt`` (``recipe`` sets a run up, ``train`` runs
it); this module turns flags into that call and the run's progress into Rich
output. Ctrl+C finishes the current step, saves a checkpoint and exits 130.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from minichat.errors import InputError


def train(
    data: Annotated[
        str | None,
        typer.Option(
            metavar="FILE",
            help="chitchat (the chitchat-dataset package; the default), a .jsonl of chats, or text",
        ),
    ] = None,
    preset: Annotated[
        str | None, typer.Option(metavar="NAME", help="model size: tiny (the default) or small")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(metavar="DIR", help="checkpoint folder (default: tinygpt-PRESET)")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(metavar="DIR", help="continue the run saved in DIR")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="optimisation steps in all")] = None,
    batch_size: Annotated[int | None, typer.Option(help="windows per step")] = None,
    lr: Annotated[float | None, typer.Option(help="peak learning rate")] = None,
    warmup: Annotated[int | None, typer.Option(help="warm-up steps")] = None,
    eval_every: Annotated[int | None, typer.Option(help="steps between validations")] = None,
    save_every: Annotated[int | None, typer.Option(help="steps between checkpoints")] = None,
    seed: Annotated[int | None, typer.Option(help="seed for weights, split and batches")] = None,
    context: Annotated[
        int | None, typer.Option(metavar="N", help="window length (default: the preset's)")
    ] = None,
    precision: Annotated[
        str | None, typer.Option(help="auto (bf16 where the hardware has it), bf16 or fp32")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")] = "auto",
    weights_dtype: Annotated[
        str, typer.Option(help="dtype of model.safetensors: fp32 or bf16 (half the size)")
    ] = "fp32",
) -> None:
    """Train a TinyGPT chat model from scratch (or --resume one) and save checkpoints."""
    import importlib.util
    from dataclasses import replace

    from minichat.loading.device import resolve_device
    from minichat.tinygpt import recipe
    from minichat.tinygpt.train import TrainConfig

    if importlib.util.find_spec("matplotlib") is None:
        raise InputError(
            "minichat train draws its loss curve with matplotlib: pip install 'minichat[train]'"
        )
    dtypes = _dtypes()
    if weights_dtype not in dtypes:
        raise InputError(f"--weights-dtype must be fp32 or bf16, not {weights_dtype!r}")
    flags: dict[str, Any] = {
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": lr,
        "warmup_steps": warmup,
        "eval_every": eval_every,
        "save_every": save_every,
        "seed": seed,
        "precision": precision,
    }
    given = {key: value for key, value in flags.items() if value is not None}
    if precision is not None and precision not in ("auto", "bf16", "fp32"):
        raise InputError(f"--precision must be auto, bf16 or fp32, not {precision!r}")
    target = resolve_device(device)
    if resume is not None:
        if set(given) - {"steps"} or any(v is not None for v in (context, data, preset, out)):
            raise InputError("--resume continues the saved settings; only --steps may change")
        folder = resume
        trainer = recipe.resume(
            folder, device=target, weights_dtype=dtypes[weights_dtype], steps=steps
        )
    else:
        try:
            if "learning_rate" in given:
                given["min_learning_rate"] = given["learning_rate"] / 10
            config = replace(TrainConfig(), **given)
        except ValueError as error:
            raise InputError(str(error)) from None
        preset = preset or "tiny"
        folder = out or Path(f"tinygpt-{preset}")
        trainer = recipe.start(
            folder,
            source=data or "chitchat",
            preset=preset,
            config=config,
            device=target,
            weights_dtype=dtypes[weights_dtype],
            context_length=context,
        )
    _run(trainer, folder)


def _dtypes() -> dict[str, Any]:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16}


def _run(trainer: Any, folder: Path) -> None:
    from rich.console import Console

    console = Console(stderr=True, soft_wrap=True)  # whole lines, even in a log file
    model, config = trainer.model, trainer.config
    parameters = sum(p.numel() for p in model.parameters())
    amp = "bf16 autocast" if trainer.amp is not None else "fp32"
    header = (
        f"TinyGPT {parameters / 1e6:.2f}M parameters, context {model.config.context_length}, "
        f"vocabulary {model.config.vocab_size}; {trainer.device.type}, {amp}; "
        f"steps {trainer.step} to {config.steps}, {config.batch_size} windows each"
    )
    if not run_with_progress(trainer, console, header):
        console.print(
            f"stopped at step {trainer.step}; checkpoint saved in {folder}; "
            f"continue with: minichat train --resume {folder}"
        )
        raise typer.Exit(130)
    loss = trainer.validation_loss
    console.print(
        f"done: {folder} (step {trainer.step}"
        + (f", validation loss {loss:.3f}" if loss is not None else "")
        + f"); loss curve {folder / 'loss.png'}; chat with: minichat --model tiny:{folder}"
    )


def run_with_progress(trainer: Any, console: Any, header: str, label: str = "train") -> bool:
    """Run ``trainer`` under a Rich progress bar (loss, tokens/s, time left), after
    printing ``header``; Ctrl+C from then on ends it after the current step, with a
    checkpoint. False if it was stopped."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from minichat.safety.interrupts import first_ctrl_c
    from minichat.tinygpt.train import Progress as Step

    progress = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[speed]} tok/s"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
    )

    def report(step: Step) -> None:
        progress.update(
            task,
            completed=step.step,
            loss=f"{step.loss:.3f}",
            speed=f"{step.tokens_per_second:,.0f}",
        )
        if step.validation_loss is not None:
            progress.console.print(
                f"step {step.step}: validation loss {step.validation_loss:.3f}, "
                f"training loss {step.loss:.3f}"
            )

    with first_ctrl_c(trainer.stop.set), progress:
        console.print(header)
        task = progress.add_task(
            label, total=trainer.config.steps, completed=trainer.step, loss="-", speed="-"
        )
        trainer.run(report)
    return not trainer.stop.is_set()
