"""``minichat finetune``: teach a local model a task with a LoRA adapter, on the CPU.

The work is in ``minichat.finetune`` (``data`` reads and masks, ``run`` sets the
run up); this module turns flags into that call, says before training what it
will cost (tokens, steps, an estimated time), runs it under the progress bar
``minichat train`` uses, and ends with the validation loss before and after and a
few validation prompts answered without and with the adapter, side by side.
"""

from __future__ import annotations

import importlib.util
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from minichat.errors import InputError
from minichat.safety.untrusted import printable

if TYPE_CHECKING:
    from rich.console import Console

    from minichat.finetune.run import Finetune

FINETUNE_INSTALL = "pip install 'minichat[finetune]'"


def finetune(
    data: Annotated[
        Path | None,
        typer.Argument(
            metavar="DATA",
            help="a .jsonl of chats ({messages, tools}), {prompt, completion} or {text}; "
            "a text file; or a folder with train.jsonl and valid.jsonl",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(metavar="DIR", help="the adapter's folder (default: adapter)")
    ] = None,
    model: Annotated[
        str, typer.Option("--model", "-m", help="the base: smollm2, tiny:PATH or hf:PATH")
    ] = "smollm2",
    resume: Annotated[
        Path | None, typer.Option(metavar="DIR", help="continue the run saved in DIR")
    ] = None,
    start_from: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="ADAPTER",
            help="start from this adapter's weights (a shipped one's name or a folder) "
            "instead of a new adapter; its rank, alpha and blocks are kept",
        ),
    ] = None,
    rank: Annotated[int, typer.Option(help="LoRA rank")] = 16,
    alpha: Annotated[float, typer.Option(help="LoRA alpha: updates are scaled alpha/rank")] = 32,
    layers: Annotated[
        int | None,
        typer.Option(
            help="adapt the last N blocks (default 8, all of a smaller model; 0: all; "
            "fewer is faster)"
        ),
    ] = None,
    epochs: Annotated[
        float | None,
        typer.Option(
            help="passes over the training examples (default 2, more for a small set: at "
            "least 100 steps, up to 10 passes)"
        ),
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="optimisation steps (overrides --epochs)")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="examples per step")] = 4,
    lr: Annotated[
        float | None,
        typer.Option(
            help="peak learning rate (default by the model's size: 1e-3 under 50M "
            "parameters, 5e-4 under 1B, else 2e-4)"
        ),
    ] = None,
    max_len: Annotated[
        int, typer.Option(help="longest example in tokens; longer ones are left out")
    ] = 1024,
    valid_fraction: Annotated[
        float, typer.Option(help="share of the examples held out for validation")
    ] = 0.1,
    eval_every: Annotated[int | None, typer.Option(help="steps between validations")] = None,
    save_every: Annotated[int, typer.Option(help="steps between checkpoints")] = 50,
    seed: Annotated[int, typer.Option(help="seed for the adapter, the split and the order")] = 0,
    compare: Annotated[
        int, typer.Option(metavar="N", help="validation prompts answered before and after")
    ] = 3,
    precision: Annotated[
        str, typer.Option(help="auto (bf16 where the hardware has it), bf16 or fp32")
    ] = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")] = "auto",
) -> None:
    """Finetune a local model with LoRA into an adapter (--adapter DIR uses it)."""
    from rich.console import Console

    from minichat.finetune import run
    from minichat.loading.device import resolve_device

    _check_flags(
        steps=steps, epochs=epochs, batch_size=batch_size, lr=lr, valid_fraction=valid_fraction,
        eval_every=eval_every, save_every=save_every, seed=seed, compare=compare,
    )  # fmt: skip
    if importlib.util.find_spec("peft") is None:
        raise InputError(f"minichat finetune needs PEFT: {FINETUNE_INSTALL}")
    config = run.train_config(  # without --lr, schedule sets the rate once the model is loaded
        batch_size=batch_size, lr=lr or run.default_lr(0), save_every=save_every, seed=seed,
        precision=precision, valid_fraction=valid_fraction,
    )  # fmt: skip
    console = Console(stderr=True, soft_wrap=True)
    target = resolve_device(device)
    if resume is not None:
        if data is not None or out is not None:
            raise InputError("--resume continues the saved run; give neither DATA nor --out")
        if start_from is not None:
            raise InputError("--resume continues the saved run; --from starts a new one")
        folder = resume
        job = run.resume(folder, device=target, steps=steps)
    else:
        if data is None:
            raise InputError("give the DATA to finetune on (or --resume DIR)")
        if not data.exists():
            raise InputError(f"no data at {data}")
        folder = out or Path("adapter")
        lora = run.LoraSettings(
            rank, alpha, run.LoraSettings.layers if layers is None else layers, max_len
        )
        job = run.start(
            folder, model=model, data=data, lora=lora, config=config, device=target,
            whole_if_smaller=layers is None, start_from=start_from,
        )  # fmt: skip
        job.schedule(steps=steps, epochs=epochs, eval_every=eval_every, lr=lr)
    _describe(job, console)
    trainer = job.trainer
    before = job.validation_before()
    seconds = run.estimate_seconds(job)
    from minichat.cli.train import run_with_progress

    header = f"estimated time: {_duration(seconds)}"
    first, started = trainer.step, time.perf_counter()
    if not run_with_progress(trainer, console, header, "finetune"):
        console.print(
            f"stopped at step {trainer.step}; checkpoint saved in {folder}; "
            f"continue with: minichat finetune --resume {folder}"
        )
        raise typer.Exit(130)
    took = time.perf_counter() - started
    tokens = job.tokens(first, trainer.step)
    console.print(
        f"trained steps {first} to {trainer.step} in {_duration(took)} (estimated "
        f"{_duration(seconds)}), {tokens / took:,.0f} tokens/s"
    )
    after = trainer.validation_loss
    console.print(f"validation loss: {before:.3f} before, {after:.3f} after")
    if after is not None and not math.isfinite(after):
        raise InputError(
            f"the run diverged (validation loss {after}), so the adapter in {folder} is "
            "unusable: delete it and start again with a lower --lr"
        )
    if compare > 0:
        _compare(job, compare, console)
    reason = run.still_learning(trainer.history.validation, before)
    if reason is not None:
        more = max(trainer.step // 2, 50)
        console.print(
            printable(
                f"the model has probably not learnt this data yet: {reason}; train on with "
                f"minichat finetune --resume {folder} --steps {trainer.step + more}"
            ),
            markup=False,
            style="yellow",
        )
    flag = "" if job.run["base"] == "smollm2" else f" -m {job.run['base']}"
    console.print(
        printable(f"done: adapter in {folder}; chat with: minichat{flag} --adapter {folder}"),
        markup=False,
    )


def _describe(job: Finetune, console: Console) -> None:
    trainer, dataset = job.trainer, job.dataset
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    lora, config = job.run["lora"], trainer.config
    amp = "bf16 autocast" if trainer.amp is not None else "fp32"
    starting = f", starting from {job.run['from']}" if "from" in job.run else ""
    console.print(  # the base's name comes from the saved run when resuming
        printable(
            f"{job.run['base']} + LoRA rank {lora['rank']} on the last {lora['layers'] or 'all'} "
            f"blocks{starting}: {trainable / 1e6:.2f}M parameters train; "
            f"{trainer.device.type}, {amp}"
        ),
        markup=False,
    )
    loss_tokens = sum(e.loss_tokens for e in dataset.train)
    console.print(
        f"data: {len(dataset.train)} examples to train on ({dataset.train_tokens:,} tokens, "
        f"{loss_tokens:,} of them carry loss), {len(dataset.validation)} to validate; "
        f"steps {trainer.step} to {config.steps}, {config.batch_size} examples each, "
        f"learning rate {config.learning_rate:g}"
    )
    if dataset.left_out:
        console.print(
            f"[yellow]{dataset.left_out} examples longer than --max-len {lora['max_len']} "
            "tokens were left out[/]"
        )
    if dataset.cut:
        console.print(f"{dataset.cut} text paragraphs longer than --max-len were cut into pieces")
    if dataset.no_loss:
        console.print(
            f"[yellow]{dataset.no_loss} examples with no token to learn (one token long) "
            "were left out[/]"
        )


def _compare(job: Finetune, count: int, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    from minichat.finetune import run

    rows = run.answer_before_after(job, count)
    if not rows:
        return
    table = Table("prompt", "before", "after", show_lines=True, title="validation prompts")
    for row in rows:  # the data's words and the model's: plain text, controls shown
        table.add_row(*(Text(printable(cell)) for cell in row))
    console.print(table)


def _check_flags(
    *,
    steps: int | None,
    epochs: float | None,
    batch_size: int,
    lr: float | None,
    valid_fraction: float,
    eval_every: int | None,
    save_every: int,
    seed: int,
    compare: int,
) -> None:
    """Refuse a flag out of its range in words that name it, before anything loads;
    --rank, --alpha, --layers and --max-len are ``LoraSettings``'s to check."""
    counts = {"--steps": steps, "--batch-size": batch_size, "--eval-every": eval_every}
    counts["--save-every"] = save_every
    for flag, count in counts.items():
        if count is not None and count < 1:
            raise InputError(f"{flag} must be 1 or more, not {count}")
    for flag, number in {"--epochs": epochs, "--lr": lr}.items():
        if number is not None and not (math.isfinite(number) and number > 0):
            raise InputError(f"{flag} must be a number above 0, not {number}")
    if not 0 < valid_fraction < 1:  # NaN fails this too
        raise InputError(
            f"--valid-fraction must be above 0 and below 1, not {valid_fraction}: "
            "some examples train, some check"
        )
    if not 0 <= seed < 2**32:
        raise InputError(f"--seed must be from 0 to {2**32 - 1}, not {seed}")
    if compare < 0:
        raise InputError(f"--compare must be 0 or more, not {compare}")


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
