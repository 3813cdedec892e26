"""From flags to a running ``Trainer`` for a LoRA adapter: a new run or a resumed one.

The base model loads through transformers in fp32, whichever local model it is
(``smollm2``, ``tiny:PATH``, ``hf:PATH``). PEFT adds LoRA matrices to the attention
and MLP projections of the last ``layers`` blocks: gradients then stop there, which
about halves the time of a step. The loop, the learning-rate schedule, checkpoints
and Ctrl+C are ``minichat train``'s (``tinygpt.train.Trainer``). The output layer
(49,152 words wide for SmolLM2) runs only at the positions that carry loss, not over
the prompt.

An output folder is an adapter in PEFT's format (``loading.adapter``), plus
``minichat.json`` (the base model and the run's settings), ``training_state.pt``
(what ``--resume`` needs) and ``loss.png``. Every file is written atomically.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from minichat.chat_format import ChatFormat
from minichat.errors import InputError
from minichat.files import replacing, write_atomically
from minichat.finetune.data import IGNORE, Batches, Dataset, fixed_batches, load_dataset
from minichat.loading.adapter import CONFIG_FILE, INFO_FILE, WEIGHTS_FILE
from minichat.tinygpt.checkpoint import CURVE_FILE, STATE_FILE, draw_losses, resume_state
from minichat.tinygpt.train import TrainConfig, Trainer, evaluate

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 16  # the adapter's rank: each adapted matrix W gets W + B @ A, A rank x in
    alpha: float = 32.0  # B @ A is scaled by alpha / rank
    layers: int = 8  # adapt the last N blocks (0: all); the earlier ones only run forward
    max_len: int = 1024  # longest example, in tokens; longer ones are left out, and counted

    def __post_init__(self) -> None:
        if self.rank < 1 or self.alpha <= 0 or self.layers < 0 or self.max_len < 2:
            raise InputError("--rank and --alpha must be positive, --layers 0 or more")


@dataclass
class Finetune:
    """A run ready to go: the trainer, and what the command shows around it."""

    trainer: Trainer
    dataset: Dataset
    chat: ChatFormat
    run: dict[str, Any]  # minichat.json: the base model, the data, the settings

    @property
    def peft_model(self) -> Any:
        return self.trainer.model


def masked_loss(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, amp: torch.dtype | None
) -> torch.Tensor:
    """Cross-entropy of the tokens that carry loss, the output layer run for them alone."""
    causal_lm: Any = model.base_model.model  # type: ignore[union-attr]
    keep = targets != IGNORE
    with torch.autocast(inputs.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        hidden = causal_lm.model(input_ids=inputs).last_hidden_state
        logits = causal_lm.lm_head(hidden[keep])
    return F.cross_entropy(logits.float(), targets[keep])


def start(
    out: Path,
    *,
    model: str,
    data: Path,
    lora: LoraSettings,
    config: TrainConfig,
    device: torch.device,
) -> Finetune:
    """A new run: ``model`` (as minichat names it) finetuned on ``data`` into ``out``."""
    if (out / STATE_FILE).exists():
        raise InputError(
            f"{out} already holds a run: continue it with --resume {out}, or choose another --out"
        )
    run = {"base": model, "data": str(data), "lora": asdict(lora)}
    return _finetune(out, run, config, device, state=None)


def resume(out: Path, *, device: torch.device, steps: int | None = None) -> Finetune:
    """The run saved in ``out``, to go on from its last step (to ``steps`` if given)."""
    state, config = resume_state(out, steps)
    return _finetune(out, state["run"], config, device, state=state)


def _finetune(
    out: Path,
    run: dict[str, Any],
    config: TrainConfig,
    device: torch.device,
    state: dict[str, Any] | None,
) -> Finetune:
    from minichat.loading.registry import model_folder

    lora = LoraSettings(**run["lora"])
    folder = model_folder(run["base"])
    chat = ChatFormat(folder)
    dataset = load_dataset(
        Path(run["data"]), chat, lora.max_len, config.validation_fraction, config.seed
    )
    pad = chat.tokenizer.token_to_id(chat.special_tokens.get("pad_token", "")) or 0
    peft_model = _with_lora(folder, lora, config.seed).to(device)
    if state is not None:
        peft_model.load_state_dict(state["model"], strict=False)
    validation = fixed_batches(dataset.validation, config.batch_size, pad)
    run = {**run, "train_examples": len(dataset.train), "train_tokens": dataset.train_tokens}
    trainer = Trainer(
        peft_model,
        config,
        Batches(dataset.train, config.batch_size, config.seed, pad),
        validation,
        lambda trainer: save(out, trainer, run),
        state=state,
        loss=masked_loss,
    )
    return Finetune(trainer, dataset, chat, run)


def _with_lora(folder: Path, lora: LoraSettings, seed: int) -> Any:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    base = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    blocks = base.config.num_hidden_layers
    layers = min(lora.layers or blocks, blocks)
    torch.manual_seed(seed)  # LoRA's A matrices start random, B at zero
    config = LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,  # type: ignore[arg-type]  # a float works as well
        target_modules=list(TARGETS),
        layers_to_transform=list(range(blocks - layers, blocks)),
        lora_dropout=0.0,  # no random state beyond the seed: a resumed run is exact
        bias="none",
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():  # PEFT asks transformers about a renamed attribute
        warnings.simplefilter("ignore", FutureWarning)
        return get_peft_model(base, config)


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    names = {name for name, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k in names}


def save(out: Path, trainer: Trainer, run: dict[str, Any]) -> None:
    """The adapter as PEFT writes it, minichat.json, the training state, the curve."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    model: Any = trainer.model
    weights = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    with replacing(out / WEIGHTS_FILE) as temporary:
        save_file(weights, str(temporary), metadata={"format": "pt"})
    config = model.peft_config["default"].to_dict()
    config["base_model_name_or_path"] = run["base"]
    write_atomically(out / CONFIG_FILE, json.dumps(config, indent=2, default=sorted) + "\n")
    summary = {
        **run,
        "step": trainer.step,
        "validation_loss": trainer.validation_loss,
        "train": asdict(trainer.config),
    }
    write_atomically(out / INFO_FILE, json.dumps(summary, indent=2) + "\n")
    state = {
        **trainer.state(),
        "model": trainable_state(model),
        "train_config": asdict(trainer.config),
        "run": run,
    }
    with replacing(out / STATE_FILE) as temporary:
        torch.save(state, temporary)
    draw_losses(trainer.history, out / CURVE_FILE)


def estimate_seconds(finetune: Finetune) -> float:
    """How long the run will take from its step on: a training step and a validation
    batch timed here, each at its fastest of three (the first passes warm up, and run
    slower), scaled to the tokens still to come."""
    trainer = finetune.trainer
    config = trainer.config
    inputs, targets = trainer.sample(0, trainer.generator)
    trainer.model.train()
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        loss = trainer.loss(trainer.model, inputs.to(trainer.device), targets, trainer.amp)
        loss.backward()
        seconds.append(time.perf_counter() - started)
    trainer.model.zero_grad(set_to_none=True)
    per_token = min(seconds[1:]) / inputs.numel()
    batches = [
        trainer.sample(step, trainer.generator) for step in range(trainer.step, config.steps)
    ]
    train_seconds = per_token * sum(x.numel() for x, _ in batches) * 1.05  # + the optimizer
    evals = []
    for _ in range(3):
        started = time.perf_counter()
        evaluate(trainer.model, trainer.validation[:1], trainer.amp, trainer.loss)
        evals.append(time.perf_counter() - started)
    per_eval_token = min(evals[1:]) / trainer.validation[0][0].numel()
    steps = range(trainer.step + 1, config.steps + 1)
    evaluations = sum(s % config.eval_every == 0 or s == config.steps for s in steps)
    eval_tokens = sum(x.numel() for x, _ in trainer.validation)
    return train_seconds + evaluations * eval_tokens * per_eval_token


@torch.no_grad()
def answer_before_after(finetune: Finetune, count: int) -> list[tuple[str, str, str]]:
    """The first reply to up to ``count`` validation chats, greedy, without the adapter
    and with it: (the user's message, before, after)."""
    from minichat import toolcalls

    model, chat = finetune.peft_model, finetune.chat
    model.eval()
    rows = []
    for example in finetune.dataset.validation_examples[:count]:
        first = next(i for i, m in enumerate(example.messages) if m.role == "assistant")
        asked = list(example.messages[:first])
        if not asked:
            continue
        shown = toolcalls.prepare(asked, example.tools) if example.tools else asked
        ids = torch.tensor([chat.encode(shown)], device=finetune.trainer.device)
        with model.disable_adapter():
            before = _greedy(model, ids, chat)
        rows.append((asked[-1].content, before, _greedy(model, ids, chat)))
    model.train()
    return rows


def _greedy(model: Any, ids: torch.Tensor, chat: ChatFormat, new_tokens: int = 64) -> str:
    out = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=new_tokens,
        do_sample=False,
        eos_token_id=sorted(chat.end_ids),
        pad_token_id=min(chat.end_ids),
    )
    return str(chat.tokenizer.decode(out[0, ids.shape[1] :].tolist(), skip_special_tokens=True))
