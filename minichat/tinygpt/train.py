"""Training TinyGPT: presets, the optimisation loop, evaluation and checkpoints.

The loop is nanoGPT's: sample random windows of the token stream, predict each
next token, AdamW with a linear warm-up then cosine decay of the learning rate,
gradients clipped to norm 1. Every ``eval_every`` steps the loss on fixed
validation windows is measured; every ``save_every`` steps, and at the end or
when asked to stop, a checkpoint is written (see ``checkpoint``). A resumed run
restores the weights, optimiser, step and random state, so it continues exactly
where the interrupted one stopped.

Matrix products run under bf16 autocast where the hardware has bf16 arithmetic
(CUDA, or CPUs with AVX512-BF16/AMX): ``bench/train.py`` measures the gain.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from minichat import cpu
from minichat.tinygpt.model import GPTConfig, TinyGPT

# Model shapes. Vocabulary and context are part of the shape: the tokenizer is
# trained to that size, and context_length is the window trained on.
PRESETS: dict[str, GPTConfig] = {
    "tiny": GPTConfig(
        vocab_size=4096,
        dim=192,
        n_layers=6,
        n_heads=6,
        n_kv_heads=2,
        ffn_dim=512,
        context_length=256,
    ),
    "small": GPTConfig(
        vocab_size=8192,
        dim=320,
        n_layers=8,
        n_heads=8,
        n_kv_heads=4,
        ffn_dim=864,
        context_length=512,
    ),
}
Precision = Literal["auto", "bf16", "fp32"]


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000  # optimisation steps in all
    batch_size: int = 16  # windows per step
    learning_rate: float = 2e-3  # peak, reached after the warm-up
    min_learning_rate: float = 2e-4  # the cosine decay ends here
    warmup_steps: int = 100  # linear warm-up from zero
    weight_decay: float = 0.1  # AdamW decay, on matrices only
    grad_clip: float = 1.0  # largest gradient norm
    eval_every: int = 250  # steps between validation losses
    eval_batches: int = 20  # fixed validation batches per evaluation
    save_every: int = 500  # steps between checkpoints
    seed: int = 1337  # initial weights, data split and window order
    precision: Precision = "auto"  # autocast dtype for matrix products
    validation_fraction: float = 0.05  # conversations held out for validation

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "eval_batches", "save_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0 < self.min_learning_rate <= self.learning_rate:
            raise ValueError("learning rates must satisfy 0 < min_learning_rate <= learning_rate")
        if not 0 < self.validation_fraction < 1:
            raise ValueError("validation_fraction must be between 0 and 1")


@dataclass
class History:
    """Losses so far, for the progress line, the checkpoint and the loss curve."""

    train: list[tuple[int, float]] = field(default_factory=list)  # (step, mean loss)
    validation: list[tuple[int, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Progress:
    step: int  # steps done
    loss: float  # training loss of the last step
    tokens_per_second: float  # training tokens per second since this run started
    validation_loss: float | None  # measured at this step, if it was an evaluation step


def learning_rate(step: int, config: TrainConfig) -> float:
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return config.min_learning_rate + cosine * (config.learning_rate - config.min_learning_rate)


def new_model(config: GPTConfig, seed: int) -> TinyGPT:
    """TinyGPT with GPT-2's initialisation: N(0, 0.02), residual outputs scaled down
    by sqrt(2 * layers) so the residual stream does not grow with depth."""
    torch.manual_seed(seed)
    model = TinyGPT(config)
    for name, parameter in model.named_parameters():
        if parameter.dim() == 2:
            std = 0.02
            if name.endswith(("out.weight", "down.weight")):
                std /= math.sqrt(2 * config.n_layers)
            nn.init.normal_(parameter, mean=0.0, std=std)
    return model


def new_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the parameters that train (all of TinyGPT's; an adapter's alone)."""
    training = [p for p in model.parameters() if p.requires_grad]
    matrices = [p for p in training if p.dim() >= 2]
    vectors = [p for p in training if p.dim() < 2]
    groups = [
        {"params": matrices, "weight_decay": config.weight_decay},
        {"params": vectors, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate, betas=(0.9, 0.95))


def autocast_dtype(precision: Precision, device: torch.device) -> torch.dtype | None:
    """bf16 for ``auto`` where the hardware computes in bf16; None means fp32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu" and cpu.has_bf16():
        return torch.bfloat16
    return None


Loss = Callable[[nn.Module, torch.Tensor, torch.Tensor, "torch.dtype | None"], torch.Tensor]


def loss_of(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, amp: torch.dtype | None
) -> torch.Tensor:
    """Mean cross-entropy of the next tokens; a target of -100 carries no loss."""
    device = inputs.device.type
    with torch.autocast(device, dtype=amp or torch.float32, enabled=amp is not None):
        logits = model(inputs)
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    amp: torch.dtype | None,
    loss: Loss = loss_of,
) -> float:
    model.eval()
    device = next(model.parameters()).device
    losses = [loss(model, x.to(device), y.to(device), amp).item() for x, y in batches]
    model.train()
    return sum(losses) / len(losses)


Sample = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


class Trainer:
    """Runs the loop from ``step`` to ``config.steps``; the data (``sample`` gives the
    batch for a step), the loss and the checkpoint writer are passed in, so the same
    loop trains TinyGPT from scratch, a LoRA adapter (``minichat.finetune``), and a
    tiny model on a tiny corpus in the tests."""

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        sample: Sample,
        validation: list[tuple[torch.Tensor, torch.Tensor]],
        save: Callable[[Trainer], None],
        *,
        state: dict[str, Any] | None = None,
        loss: Loss = loss_of,
    ):
        self.model = model.train()
        self.config = config
        self.sample = sample
        self.validation = validation
        self.save = save
        self.loss = loss
        self.device = next(model.parameters()).device
        self.amp = autocast_dtype(config.precision, self.device)
        self.optimizer = new_optimizer(model, config)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.history = History()
        self.stop = threading.Event()  # set it to end the run after the current step
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.generator.set_state(state["generator"])
            self.step = int(state["step"])
            self.history = History(
                [tuple(x) for x in state["history"]["train"]],
                [tuple(x) for x in state["history"]["validation"]],
            )

    def state(self) -> dict[str, Any]:
        """Everything a resumed run needs besides the weights."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "step": self.step,
            "history": {"train": self.history.train, "validation": self.history.validation},
        }

    @property
    def validation_loss(self) -> float | None:
        return self.history.validation[-1][1] if self.history.validation else None

    def train_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """One optimisation step on one batch; returns its loss."""
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.step, self.config)
        loss = self.loss(self.model, inputs.to(self.device), targets.to(self.device), self.amp)
        loss.backward()  # type: ignore[no-untyped-call]
        training = [p for p in self.model.parameters() if p.requires_grad]
        nn.utils.clip_grad_norm_(training, self.config.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return loss.item()

    def run(self, report: Callable[[Progress], None] = lambda progress: None) -> None:
        """Train until ``config.steps`` or ``stop``; a checkpoint is saved either way."""
        config, tokens, started = self.config, 0, time.perf_counter()
        losses: list[float] = []
        while self.step < config.steps and not self.stop.is_set():
            inputs, targets = self.sample(self.step, self.generator)
            loss = self.train_step(inputs, targets)
            losses.append(loss)
            tokens += inputs.numel()
            validation = None
            if self.step % config.eval_every == 0 or self.step == config.steps:
                validation = evaluate(self.model, self.validation, self.amp, self.loss)
                self.history.validation.append((self.step, validation))
            if len(losses) == 10 or validation is not None:
                self.history.train.append((self.step, sum(losses) / len(losses)))
                losses = []
            elapsed = time.perf_counter() - started
            report(Progress(self.step, loss, tokens / max(elapsed, 1e-9), validation))
            if self.step % config.save_every == 0 and self.step < config.steps:
                self.save(self)
        if losses:
            self.history.train.append((self.step, sum(losses) / len(losses)))
        self.save(self)
