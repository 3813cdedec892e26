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
import math
import os
import stat
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from minichat.errors import InputError, ModelLoadError, ModelNotFoundError
from minichat.finetune.data import IGNORE, Batches, Dataset, fixed_batches, load_dataset
from minichat.loading.adapter import CONFIG_FILE, INFO_FILE, PREFIX, WEIGHTS_FILE, Adapter
from minichat.prompt.template import ChatFormat
from minichat.safety.files import kind_of, replacing, write_atomically
from minichat.safety.untrusted import one_line
from minichat.tinygpt.checkpoint import CURVE_FILE, STATE_FILE, draw_losses, resume_state
from minichat.tinygpt.train import Precision, TrainConfig, Trainer, evaluate

SAMPLED_STEPS = 500  # steps whose batches estimate_seconds counts, at most
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 16  # the adapter's rank: each adapted matrix W gets W + B @ A, A rank x in
    alpha: float = 32.0  # B @ A is scaled by alpha / rank
    layers: int = 8  # adapt the last N blocks (0: all); the earlier ones only run forward
    max_len: int = 1024  # longest example, in tokens; longer ones are left out, and counted

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise InputError(f"--rank must be 1 or more, not {self.rank}")
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise InputError(f"--alpha must be a number above 0, not {self.alpha}")
        if self.layers < 0:
            raise InputError(f"--layers must be 0 (all) or more, not {self.layers}")
        if self.max_len < 2:
            raise InputError(
                f"--max-len must be 2 or more, not {self.max_len}: an example needs a token "
                "to read and one to predict"
            )


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

    def schedule(
        self,
        *,
        steps: int | None,
        epochs: float | None,
        eval_every: int | None,
        lr: float | None = None,
    ) -> None:
        """A new run's length and learning rate. ``steps``, else ``epochs`` passes over the
        training examples, else ``default_steps``; a tenth of it (at most 100 steps) warms
        up, four validations by default. ``lr`` None: ``default_lr`` for the model's size."""
        per_epoch = self.dataset_batches.per_epoch
        if steps is not None:
            total = steps
        elif epochs is not None:
            total = max(1, round(epochs * per_epoch))
        else:
            total = default_steps(per_epoch)
        rate = lr if lr is not None else default_lr(self.base_parameters)
        self.trainer.config = replace(
            self.trainer.config,
            steps=total,
            learning_rate=rate,
            min_learning_rate=rate / 10,
            warmup_steps=max(1, min(100, total // 10)),
            eval_every=eval_every or max(1, total // 4),
        )

    @property
    def base_parameters(self) -> int:
        """The base model's size, its adapter's few parameters aside."""
        return sum(p.numel() for p in self.trainer.model.parameters() if not p.requires_grad)

    def validation_before(self) -> float:
        """The validation loss before any training, measured once and kept in the run."""
        if "validation_loss_before" not in self.run:
            trainer = self.trainer
            self.run["validation_loss_before"] = evaluate(
                trainer.model, trainer.validation, trainer.amp, trainer.loss
            )
        return float(self.run["validation_loss_before"])

    def tokens(self, first: int, last: int) -> int:
        """The training tokens of steps ``first`` to ``last``."""
        trainer = self.trainer
        return sum(trainer.sample(s, trainer.generator)[0].numel() for s in range(first, last))

    @property
    def dataset_batches(self) -> Batches:
        sample = self.trainer.sample
        assert isinstance(sample, Batches)
        return sample


# The defaults that teach a small task (sixty chats stating one fact: the greedy answer
# states it after a default run, on tiny-chitchat and on smollm2; tests/test_finetune.py).
# At the old fixed 2e-4 and two passes (28 steps) neither had learnt it. A LoRA on a small
# model takes a higher rate; a small data set needs more passes than two.
EPOCHS = 2  # passes over the data by default ...
MIN_STEPS = 100  # ... but at least this many steps ...
MAX_EPOCHS = 10  # ... as long as that is at most this many passes


def default_lr(parameters: int) -> float:
    """The peak learning rate for a LoRA on a base of ``parameters``."""
    if parameters < 50_000_000:
        return 1e-3
    if parameters < 1_000_000_000:
        return 5e-4
    return 2e-4


def default_steps(per_epoch: int) -> int:
    """``EPOCHS`` passes, raised toward ``MIN_STEPS`` where the data is small."""
    return max(EPOCHS * per_epoch, min(MIN_STEPS, MAX_EPOCHS * per_epoch))


def still_learning(history: Sequence[tuple[int, float]], before: float) -> str | None:
    """Why the model has probably not learnt the data yet, or None: the validation loss
    barely fell, or was still falling fast at the last validation."""
    if not history:
        return None
    last = history[-1][1]
    if last > 0.8 * before:
        return f"the validation loss fell only from {before:.3f} to {last:.3f}"
    if len(history) >= 2 and last < 0.85 * history[-2][1] and last > 0.05:
        return (
            f"the validation loss was still falling at the end ({history[-2][1]:.3f} at "
            f"step {history[-2][0]}, {last:.3f} at step {history[-1][0]})"
        )
    return None


def train_config(
    *,
    batch_size: int,
    lr: float,
    save_every: int,
    seed: int,
    precision: str,
    valid_fraction: float,
) -> TrainConfig:
    """A finetuning run's settings (its length comes later, from the data: ``schedule``);
    what is out of range is refused in words."""
    precisions: dict[str, Precision] = {"auto": "auto", "bf16": "bf16", "fp32": "fp32"}
    if precision not in precisions:
        raise InputError(f"--precision must be auto, bf16 or fp32, not {precision!r}")
    try:
        return TrainConfig(
            steps=1,
            batch_size=batch_size,
            learning_rate=lr,
            min_learning_rate=lr / 10,
            weight_decay=0.0,
            save_every=save_every,
            seed=seed,
            precision=precisions[precision],
            validation_fraction=valid_fraction,
        )
    except ValueError as error:
        raise InputError(str(error)) from None


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
    whole_if_smaller: bool = False,
    start_from: str | None = None,
) -> Finetune:
    """A new run: ``model`` (as minichat names it) finetuned on ``data`` into ``out``.
    ``whole_if_smaller``: ``lora.layers`` is a default, not the user's word, and a model
    with fewer blocks is adapted whole rather than refused. ``start_from``: an adapter
    (a shipped one's name or a folder) whose weights the run starts from, its rank,
    alpha and blocks kept, instead of a new adapter."""
    check_out(out)
    run: dict[str, Any] = {"base": model, "data": str(data), "lora": asdict(lora)}
    start = None
    if start_from is not None:
        start = _starting_adapter(start_from, model)  # read once: settings and weights
        run["from"] = start_from
        run["lora"] = asdict(_settings_of(start, lora.max_len))
        whole_if_smaller = False  # the adapter's blocks, not a default
    return _finetune(
        out, run, config, device, state=None, whole_if_smaller=whole_if_smaller, start=start
    )


def check_out(out: Path) -> None:
    """Refuse an ``--out`` the run could not be saved in, or would overwrite another in,
    before anything is read or written."""
    if (out / STATE_FILE).exists():
        raise InputError(
            f"{out} already holds a run: continue it with --resume {out}, or choose another --out"
        )
    if os.path.lexists(out) and not out.is_dir():
        kind = "a file" if out.is_file() else "not a folder"
        raise InputError(f"--out {out} is {kind}; give a folder for the adapter")
    if any(os.path.lexists(out / name) for name in (CONFIG_FILE, WEIGHTS_FILE, INFO_FILE)):
        raise InputError(f"{out} already holds an adapter; choose another --out")
    # the folder is made at the first save: its nearest existing parent must allow it
    existing = next(p for p in (out, *out.parents) if os.path.lexists(p))
    if not existing.is_dir():
        raise InputError(f"--out {out}: {existing} is a file, so no folder can be made there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: cannot write in {existing}; choose another --out")


def resume(out: Path, *, device: torch.device, steps: int | None = None) -> Finetune:
    """The run saved in ``out``, to go on from its last step (to ``steps`` if given).
    A state file that is damaged, or saved by something else, is refused in one line."""
    path = out / STATE_FILE
    try:
        mode: int | None = os.stat(path).st_mode
    except OSError:
        mode = None  # missing: resume_state says so
    if mode is not None and not stat.S_ISREG(mode):  # torch.load would wait on a FIFO
        raise InputError(f"{path} is {kind_of(mode)}, not a regular file; nothing to resume")
    try:
        state, config = resume_state(out, steps)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise _foreign(path, error) from None
    try:
        run = state["run"]
        LoraSettings(**run["lora"])
        if not (isinstance(run["base"], str) and isinstance(run["data"], str)):
            raise TypeError("the base model and the data must be named")
    except (KeyError, TypeError, ValueError, AttributeError, InputError) as error:
        raise _foreign(path, error) from None
    return _finetune(out, run, config, device, state=state)


def _foreign(path: Path, error: Exception) -> InputError:
    reason = one_line(f"{type(error).__name__}: {error}", 120)
    return InputError(
        f"{path} is not from minichat finetune or is damaged ({reason}); "
        "start a new run with minichat finetune DATA --out DIR"
    )


def _finetune(
    out: Path,
    run: dict[str, Any],
    config: TrainConfig,
    device: torch.device,
    state: dict[str, Any] | None,
    whole_if_smaller: bool = False,
    start: Adapter | None = None,
) -> Finetune:
    from minichat.catalog import model_folder

    folder = model_folder(run["base"])
    try:
        lora = _fitted(folder, LoraSettings(**run["lora"]), run["base"], whole_if_smaller)
    except InputError:
        if start is None:
            raise
        settings = run["lora"]
        raise InputError(
            f"--from {start.label} adapts {settings['layers']} blocks at rank "
            f"{settings['rank']}, which {run['base']} cannot take: it was made for another model"
        ) from None
    run = {**run, "lora": asdict(lora)}
    chat = ChatFormat(folder)
    dataset = load_dataset(
        Path(run["data"]), chat, lora.max_len, config.validation_fraction, config.seed
    )
    pad = chat.tokenizer.token_to_id(chat.special_tokens.get("pad_token", "")) or 0
    peft_model = _with_lora(folder, lora, config.seed).to(device)
    validation = fixed_batches(dataset.validation, config.batch_size, pad)
    run = {**run, "train_examples": len(dataset.train), "train_tokens": dataset.train_tokens}
    sample = Batches(dataset.train, config.batch_size, config.seed, pad)

    def new_trainer() -> Trainer:
        return Trainer(
            peft_model,
            config,
            sample,
            validation,
            lambda trainer: save(out, trainer, run),
            state=state,
            loss=masked_loss,
        )

    if state is None:
        if start is not None:
            _load_start(peft_model, start)
        return Finetune(new_trainer(), dataset, chat, run)
    path = out / STATE_FILE
    _load_saved(peft_model, state["model"], path, run["base"], lora)
    try:
        trainer = new_trainer()
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as error:
        raise _foreign(path, error) from None
    return Finetune(trainer, dataset, chat, run)


def _fitted(folder: Path, lora: LoraSettings, base: str, whole_if_smaller: bool) -> LoraSettings:
    """``--layers`` and ``--rank`` checked against the model, before the data is encoded."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(folder))
    blocks, width = config.num_hidden_layers, config.hidden_size
    if lora.layers > blocks and whole_if_smaller:
        lora = replace(lora, layers=0)
    if lora.layers > blocks:
        raise InputError(
            f"--layers {lora.layers}: {base} has {blocks} blocks; give {blocks} or fewer (0: all)"
        )
    if lora.rank > width:  # B @ A then has more rank than any adapted matrix can take
        raise InputError(
            f"--rank {lora.rank} is above {base}'s width of {width}; LoRA ranks are small (8 to 64)"
        )
    return lora


def _starting_adapter(name: str, base: str) -> Adapter:
    """The adapter ``--from`` names, which must be one made for ``base``."""
    from minichat.catalog import find_adapter

    try:
        adapter = find_adapter(name)
    except (ModelLoadError, ModelNotFoundError) as error:
        raise InputError(f"--from: {error}") from None
    if adapter.base is not None and adapter.base != base:
        raise InputError(
            f"--from {name} was trained on {adapter.base}, not {base}; "
            f"give -m {adapter.base} or another adapter"
        )
    if adapter.rslora:
        raise InputError(f"--from {name} scales by rank-stabilised LoRA, which finetune does not")
    return adapter


def _settings_of(adapter: Adapter, max_len: int) -> LoraSettings:
    """The LoRA settings that give ``adapter``'s matrices, so a run can start from them:
    its rank and alpha, on as many last blocks as it adapts (``_load_start`` checks
    they are the last)."""
    found = _block_numbers(adapter)
    if not found or found != list(range(found[0], found[0] + len(found))):
        raise InputError(f"--from {adapter.label} does not adapt a run of last blocks")
    return LoraSettings(adapter.rank, adapter.alpha, len(found), max_len)


def _block_numbers(adapter: Adapter) -> list[int]:
    return sorted(int(block.split(".")[1]) for block in adapter.blocks())


def _load_start(model: nn.Module, adapter: Adapter) -> None:
    """``adapter``'s matrices into the new run's LoRA weights, every one of them."""
    causal_lm: Any = model.base_model.model  # type: ignore[union-attr]
    blocks: int = causal_lm.config.num_hidden_layers
    found = _block_numbers(adapter)
    if found[-1] != blocks - 1:
        raise InputError(
            f"--from {adapter.label} adapts blocks {found[0]} to {found[-1]} of {blocks}, "
            "not the last ones, which are the blocks finetune adapts"
        )
    weights: dict[str, torch.Tensor] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        stem, _, which = name.removeprefix(PREFIX).partition(".lora_")
        pair = adapter.pairs.get(stem + ".weight")
        matrix = None if pair is None else pair[0 if which.startswith("A") else 1]
        if matrix is None or matrix.shape != param.shape:
            raise InputError(
                f"--from {adapter.label} does not adapt {stem} as this run would: it was "
                "made with other target layers"
            )
        weights[name] = matrix.to(param.dtype)
    if len(weights) != 2 * len(adapter.pairs):
        raise InputError(f"--from {adapter.label} adapts layers this run would not")
    model.load_state_dict(weights, strict=False)


def _load_saved(model: nn.Module, saved: Any, path: Path, base: str, lora: LoraSettings) -> None:
    """The LoRA weights of a saved run, which must be exactly this model's."""
    names = {name for name, p in model.named_parameters() if p.requires_grad}
    fits = isinstance(saved, dict) and set(saved) == names
    if fits:
        try:
            model.load_state_dict(saved, strict=False)
        except RuntimeError:  # a matrix of another shape
            fits = False
    if not fits:
        raise InputError(
            f"{path} does not fit {base} with LoRA rank {lora.rank} on "
            f"{lora.layers or 'all'} blocks: it is damaged or from another model; "
            "start a new run with minichat finetune DATA --out DIR"
        )


def _with_lora(folder: Path, lora: LoraSettings, seed: int) -> Any:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    base = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    blocks = base.config.num_hidden_layers
    layers = lora.layers or blocks  # _fitted kept it within the model
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
    remaining = range(trainer.step, config.steps)
    # a few hundred steps spread over the run tell the tokens to come as well as all of
    # them, and --steps may be in the billions
    sampled = remaining[:: max(1, len(remaining) // SAMPLED_STEPS)]
    tokens = sum(trainer.sample(step, trainer.generator)[0].numel() for step in sampled)
    train_seconds = (
        per_token * tokens * len(remaining) / max(1, len(sampled)) * 1.05
    )  # + the optimizer
    evals = []
    for _ in range(3):
        started = time.perf_counter()
        evaluate(trainer.model, trainer.validation[:1], trainer.amp, trainer.loss)
        evals.append(time.perf_counter() - started)
    per_eval_token = min(evals[1:]) / trainer.validation[0][0].numel()
    # the evaluations between this step and the last: every eval_every steps, and the last
    every, first, last = config.eval_every, trainer.step, config.steps
    evaluations = last // every - first // every + (last % every != 0 and last > first)
    eval_tokens = sum(x.numel() for x, _ in trainer.validation)
    return train_seconds + evaluations * eval_tokens * per_eval_token


@torch.no_grad()
def answer_before_after(finetune: Finetune, count: int) -> list[tuple[str, str, str]]:
    """The first reply to up to ``count`` validation chats, greedy, without the adapter
    and with it: (the user's message, before, after)."""
    from minichat.tools import hermes

    model, chat = finetune.peft_model, finetune.chat
    model.eval()
    rows = []
    for example in finetune.dataset.validation_examples[:count]:
        first = next(i for i, m in enumerate(example.messages) if m.role == "assistant")
        asked = list(example.messages[:first])
        if not asked:
            continue
        shown = hermes.prepare(asked, example.tools) if example.tools else asked
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
