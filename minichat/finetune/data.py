"""Finetuning data: chats, prompt/completion pairs or text, as token ids with a loss mask.

A data file is JSONL, one example a line, in any of the shapes mlx-lm and PEFT
users write: ``{"messages": [...]}`` (OpenAI's chat format, tool calls and tool
results included, with the offered tools under ``"tools"``), ``{"prompt": ...,
"completion": ...}`` (a user turn and its reply), or ``{"text": ...}``; any other
file is plain text, split into paragraphs. A folder holding ``train.jsonl`` and
``valid.jsonl`` gives its own validation split.

A chat is rendered exactly as a prompt is at inference: the model's chat template
through ``ChatFormat``, tools and calls in the Hermes format of ``toolcalls``. The
loss falls on the assistant's tokens only (each reply and the marker that ends
it); everything else is context. Each span is tokenized on its own, so the prompt
part is the very ids inference feeds the model. Nothing is cut silently: an
example longer than ``max_len`` tokens is left out and counted, plain text is cut
into windows and counted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from minichat import toolcalls
from minichat.backend import Message, Tool, ToolCall, Tools
from minichat.chat_format import ChatFormat
from minichat.errors import InputError

ROLES = ("system", "user", "assistant", "tool")
IGNORE = -100  # a target that carries no loss (cross-entropy's ignore_index)


@dataclass(frozen=True)
class Example:
    """One line of data: a chat (with the tools it offered), or text."""

    line: int
    messages: tuple[Message, ...] = ()
    tools: Tools | None = None
    text: str | None = None


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    trained: list[bool]  # per token: whether predicting it carries loss

    @property
    def loss_tokens(self) -> int:
        return sum(self.trained[1:])


@dataclass(frozen=True)
class Dataset:
    train: list[Encoded]
    validation: list[Encoded]
    validation_examples: list[Example]  # for answering before and after
    left_out: int  # examples longer than max_len
    cut: int  # plain-text paragraphs cut into windows

    @property
    def train_tokens(self) -> int:
        return sum(len(e.ids) for e in self.train)


def read_examples(path: Path) -> list[Example]:
    """Every example in a data file; an error names the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the data {path}: {error}") from None
    if path.suffix != ".jsonl":
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        return [Example(n, text=p) for n, p in enumerate(paragraphs, 1)]
    examples = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                examples.append(parse_example(json.loads(line), number))
            except (ValueError, KeyError, TypeError) as error:
                raise InputError(
                    f"{path} line {number}: {error}; each line is "
                    '{"messages": [{"role": "user", "content": "..."}, ...]}, '
                    '{"prompt": "...", "completion": "..."} or {"text": "..."}'
                ) from None
    if not examples:
        raise InputError(f"{path} has no examples")
    return examples


def parse_example(data: Any, line: int) -> Example:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if "messages" in data:
        messages = tuple(_message(m) for m in data["messages"])
        if not any(m.role == "assistant" for m in messages):
            raise ValueError("a chat needs an assistant message to learn from")
        tools = data.get("tools")
        listed = tuple(_tool(t) for t in tools) if tools else ()
        return Example(line, messages, Tools(listed) if listed else None)
    if "prompt" in data and "completion" in data:
        prompt, completion = _text(data["prompt"]), _text(data["completion"])
        return Example(line, (Message("user", prompt), Message("assistant", completion)))
    if "text" in data:
        return Example(line, text=_text(data["text"]))
    raise ValueError("no messages, prompt and completion, or text")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _message(data: Any) -> Message:
    if not isinstance(data, dict) or data.get("role") not in ROLES:
        raise ValueError(f"a message needs a role of {', '.join(ROLES)}: {data!r}")
    content = data.get("content")
    calls = tuple(_call(c, n) for n, c in enumerate(data.get("tool_calls") or [], 1))
    if content is None and calls:
        content = ""
    call_id = data.get("tool_call_id")
    return Message(
        data["role"],
        _text(content),
        tool_calls=calls,
        tool_call_id=None if call_id is None else str(call_id),
    )


def _call(data: Any, number: int) -> ToolCall:
    function = data["function"]
    arguments = function.get("arguments", {})
    if not isinstance(arguments, str):  # some writers give the object, not its JSON text
        arguments = json.dumps(arguments, ensure_ascii=False)
    json.loads(arguments)
    return ToolCall(str(data.get("id", f"call_{number}")), _text(function["name"]), arguments)


def _tool(data: Any) -> Tool:
    function = data.get("function", data)
    return Tool(
        _text(function["name"]), function.get("description", ""), function.get("parameters", {})
    )


def encode_example(example: Example, chat: ChatFormat) -> Encoded:
    """Token ids of ``example`` rendered as at inference, and which carry loss."""
    if example.text is not None:
        text_ids = list(chat.tokenizer.encode(example.text, add_special_tokens=False).ids)
        return Encoded(text_ids, [True] * len(text_ids))
    messages = list(example.messages)
    rendered = (
        toolcalls.prepare(messages, example.tools)
        if example.tools is not None
        else toolcalls.history(messages)
    )
    # the text before each reply (with the prompt that opens it) and up to its end
    full = chat.render(rendered, generation_prompt=False)
    bounds = [0]
    for i, message in enumerate(rendered):
        if message.role == "assistant":
            before = chat.render(rendered[:i])
            upto = chat.render(rendered[: i + 1], generation_prompt=False)
            if not (upto.startswith(before) and full.startswith(upto)):
                raise InputError(
                    f"line {example.line}: the chat template does not write a chat as its "
                    "earlier turns plus the new one, so the replies cannot be told apart"
                )
            bounds += [len(before), len(upto)]
    bounds.append(len(full))
    ids: list[int] = []
    trained: list[bool] = []
    for k in range(len(bounds) - 1):
        piece = full[bounds[k] : bounds[k + 1]]
        piece_ids = list(chat.tokenizer.encode(piece, add_special_tokens=False).ids)
        ids += piece_ids
        trained += [k % 2 == 1] * len(piece_ids)  # odd pieces are replies
    return Encoded(ids, trained)


def load_dataset(
    source: Path, chat: ChatFormat, max_len: int, valid_fraction: float, seed: int
) -> Dataset:
    """Read, encode and split (by whole example, seeded, among those that fit) the data
    at ``source``."""
    if source.is_dir():
        train_file, valid_file = source / "train.jsonl", source / "valid.jsonl"
        if not train_file.is_file():
            raise InputError(f"the folder {source} needs a train.jsonl (and a valid.jsonl)")
        train, left_out, cut = _encode_all(read_examples(train_file), chat, max_len)
        if valid_file.is_file():
            validation, *counts = _encode_all(read_examples(valid_file), chat, max_len)
            return _dataset(train, validation, left_out + counts[0], cut + counts[1], max_len)
    else:
        train, left_out, cut = _encode_all(read_examples(source), chat, max_len)
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    held = set(order[: max(1, round(len(order) * valid_fraction))])
    if len(train) >= 1 and len(held) >= len(order):
        raise InputError(
            f"{len(train)} example fits in --max-len {max_len}: the data needs at least two, "
            "one to train on and one to check"
        )
    validation = [pair for i, pair in enumerate(train) if i in held]
    train = [pair for i, pair in enumerate(train) if i not in held]
    return _dataset(train, validation, left_out, cut, max_len)


def _dataset(
    train: list[tuple[Example, Encoded]],
    validation: list[tuple[Example, Encoded]],
    left_out: int,
    cut: int,
    max_len: int,
) -> Dataset:
    if not train or not validation:
        where = " in the validation split" if train else ""
        raise InputError(f"no example fits in --max-len {max_len} tokens{where}; raise --max-len")
    return Dataset(
        [e for _, e in train],
        [e for _, e in validation],
        [x for x, _ in validation if x.text is None],
        left_out,
        cut,
    )


def _encode_all(
    examples: Sequence[Example], chat: ChatFormat, max_len: int
) -> tuple[list[tuple[Example, Encoded]], int, int]:
    out: list[tuple[Example, Encoded]] = []
    left_out = cut = 0
    for example in examples:
        encoded = encode_example(example, chat)
        if len(encoded.ids) <= max_len:
            out.append((example, encoded))
        elif example.text is not None:  # text has no turns to keep whole: windows
            cut += 1
            for start in range(0, len(encoded.ids), max_len):
                window = encoded.ids[start : start + max_len]
                if len(window) > 1:
                    out.append((example, Encoded(window, [True] * len(window))))
        else:
            left_out += 1
    return out, left_out, cut


def batch(examples: Sequence[Encoded], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets, padded on the right (causal attention never looks ahead, so
    the padding changes nothing before it); padding and context carry no loss."""
    width = max(len(e.ids) for e in examples) - 1
    inputs = torch.full((len(examples), width), pad_id, dtype=torch.long)
    targets = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for row, example in enumerate(examples):
        ids = torch.tensor(example.ids, dtype=torch.long)
        mask = torch.tensor(example.trained[1:], dtype=torch.bool)
        inputs[row, : len(ids) - 1] = ids[:-1]
        targets[row, : len(ids) - 1] = torch.where(mask, ids[1:], IGNORE)
    return inputs, targets


class Batches:
    """The batch for each step: the training examples in a fresh seeded order each
    epoch. A function of the step alone, so a resumed run sees what an uninterrupted
    one would have."""

    def __init__(self, examples: Sequence[Encoded], batch_size: int, seed: int, pad_id: int):
        self.examples = list(examples)
        self.batch_size = batch_size
        self.seed = seed
        self.pad_id = pad_id
        self.per_epoch = -(-len(self.examples) // batch_size)

    def __call__(self, step: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, position = divmod(step, self.per_epoch)
        order = torch.randperm(
            len(self.examples), generator=torch.Generator().manual_seed(self.seed + epoch)
        ).tolist()
        chosen = order[position * self.batch_size : (position + 1) * self.batch_size]
        return batch([self.examples[i] for i in chosen], self.pad_id)


def fixed_batches(
    examples: Sequence[Encoded], batch_size: int, pad_id: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The validation split in order, batched the same way every time."""
    return [
        batch(examples[i : i + batch_size], pad_id) for i in range(0, len(examples), batch_size)
    ]
