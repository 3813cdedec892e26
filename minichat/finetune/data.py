"""Finetuning data: chats, prompt/completion pairs or text, as token ids with a loss mask.

A data file is JSONL, one example a line, in any of the shapes mlx-lm and PEFT
users write: ``{"messages": [...]}`` (OpenAI's chat format, tool calls and tool
results included, with the offered tools under ``"tools"``), ``{"prompt": ...,
"completion": ...}`` (a user turn and its reply), or ``{"text": ...}``; any other
file is plain text, split into paragraphs. A folder holding ``train.jsonl`` and
``valid.jsonl`` gives its own validation split.

A chat is rendered exactly as a prompt is at inference: the model's chat template
through ``ChatFormat``, tools and calls in the Hermes format of ``tools.hermes``. The
loss falls on the assistant's tokens only (each reply and the marker that ends
it); everything else is context. Each span is tokenized on its own, so the prompt
part is the very ids inference feeds the model. Nothing is cut silently: an
example longer than ``max_len`` tokens is left out and counted, plain text is cut
into windows and counted; an example with no token to learn (a one-token text) is
left out and counted.

Data is read as it may come: a data file must be a regular file (a device or FIFO
would be read forever or wait forever) of at most ``DATA_LIMIT`` bytes, and every
line is checked and encoded before training starts, so an odd one is refused with
its file and line, never met mid-run.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from jinja2 import TemplateError

from minichat.backend import Message
from minichat.errors import ConfigError, InputError
from minichat.prompt.template import ChatFormat
from minichat.safety.files import NotRegularFile, read_regular
from minichat.safety.untrusted import one_line
from minichat.tools import hermes
from minichat.tools.spec import Tool, ToolCall, Tools

ROLES = ("system", "user", "assistant", "tool")
IGNORE = -100  # a target that carries no loss (cross-entropy's ignore_index)
# the most a data file may hold: far beyond what a CPU finetunes on in a day, and low
# enough that reading it (and its token ids, several times its size) fits in memory
DATA_LIMIT = 256 * 2**20
SHAPES = (
    'each line is {"messages": [{"role": "user", "content": "..."}, ...]}, '
    '{"prompt": "...", "completion": "..."} or {"text": "..."}'
)


class _Shape(ValueError):
    """A line that is not one of the shapes at all: the error shows the shapes."""


@dataclass(frozen=True)
class Example:
    """One line of data: a chat (with the tools it offered), or text."""

    line: int
    messages: tuple[Message, ...] = ()
    tools: Tools | None = None
    text: str | None = None
    file: str = ""  # where it came from, for errors that name the line

    @property
    def where(self) -> str:
        return f"{self.file} line {self.line}" if self.file else f"line {self.line}"


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
    no_loss: int = 0  # examples with no token to learn (a one-token text)

    @property
    def train_tokens(self) -> int:
        return sum(len(e.ids) for e in self.train)


def read_text(path: Path) -> str:
    """The text of the data file ``path``: a regular file of at most ``DATA_LIMIT``
    bytes, UTF-8 (a byte order mark is allowed)."""
    try:
        raw = read_regular(path, DATA_LIMIT)
    except NotRegularFile as error:
        raise InputError(
            f"{error}; give a .jsonl or text file, or a folder with train.jsonl"
        ) from None
    except OSError as error:
        raise InputError(f"cannot read the data {path}: {error.strerror or error}") from None
    if len(raw) > DATA_LIMIT:
        raise InputError(
            f"{path} is over {DATA_LIMIT // 2**20} MiB, more than minichat finetune reads; "
            "train on a sample of it"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{path} is not UTF-8 text: {error}") from None


def read_examples(path: Path) -> list[Example]:
    """Every example in a data file; an error names the line."""
    text = read_text(path)
    if path.suffix != ".jsonl":
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        examples = [Example(n, text=p, file=str(path)) for n, p in enumerate(paragraphs, 1)]
    else:
        examples = []
        # "\n" alone ends a line: splitlines() would also split at U+2028 and the
        # like, which JSON allows raw inside a string
        for number, line in enumerate(text.split("\n"), 1):
            if line.strip():
                examples.append(_parse_line(line, number, path))
    if not examples:
        how = SHAPES if path.suffix == ".jsonl" else "each paragraph of a text file is one"
        raise InputError(f"{path} has no examples; {how}")
    return examples


def _parse_line(line: str, number: int, path: Path) -> Example:
    try:
        data = json.loads(line)
        _check_text(data)
        return replace(parse_example(data, number), file=str(path))
    except RecursionError:
        raise InputError(f"{path} line {number}: the JSON is nested too deeply") from None
    except _Shape as error:
        raise InputError(f"{path} line {number}: {error}; {SHAPES}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path} line {number}: not JSON ({error}); {SHAPES}") from None
    except (ValueError, ConfigError) as error:
        raise InputError(f"{path} line {number}: {error}") from None


def _check_text(data: Any) -> None:
    """JSON may escape half of a UTF-16 pair (``"\\ud800"``): that is no text a
    tokenizer can take."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        half = error.object[error.start : error.end]
        raise ValueError(
            f"{half[:1]!r} is half of a UTF-16 pair (a lone surrogate), not text; "
            "fix what wrote the file"
        ) from None


def parse_example(data: Any, line: int) -> Example:
    if not isinstance(data, dict):
        raise _Shape(f"not a JSON object but {_shown(data)}")
    if "messages" in data:
        raw = data["messages"]
        if not isinstance(raw, list):
            raise ValueError(f'"messages" must be a list of messages, not {_shown(raw)}')
        if not raw:
            raise ValueError('"messages" is empty; a chat needs an assistant message')
        messages = tuple(_message(m, n) for n, m in enumerate(raw, 1))
        if not any(m.role == "assistant" for m in messages):
            raise ValueError("a chat needs an assistant message to learn from")
        tools = data.get("tools")
        if tools is not None and not isinstance(tools, list):
            raise ValueError(f'"tools" must be a list of tools, not {_shown(tools)}')
        listed = tuple(_tool(t, n) for n, t in enumerate(tools or [], 1))
        return Example(line, messages, Tools(listed) if listed else None)
    if "prompt" in data and "completion" in data:
        prompt = _text(data["prompt"], "the prompt")
        completion = _text(data["completion"], "the completion")
        return Example(line, (Message("user", prompt), Message("assistant", completion)))
    if "text" in data:
        text = _text(data["text"], "the text")
        if not text:
            raise ValueError("the text is empty")
        return Example(line, text=text)
    raise _Shape("no messages, prompt and completion, or text")


def _shown(value: Any) -> str:
    """A value from the file, as an error shows it: short, and escaped."""
    return one_line(repr(value), 60)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, not {_shown(value)}")
    return value


def _message(data: Any, number: int) -> Message:
    if not isinstance(data, dict):
        raise ValueError(f"message {number} is not a JSON object but {_shown(data)}")
    role = data.get("role")
    if role not in ROLES:
        raise ValueError(
            f"message {number}: the role must be system, user, assistant or tool, "
            f"not {_shown(role)}"
        )
    calls_data = data.get("tool_calls") or []
    if not isinstance(calls_data, list):
        raise ValueError(f'message {number}: "tool_calls" must be a list, not {_shown(calls_data)}')
    calls = tuple(_call(c, number, n) for n, c in enumerate(calls_data, 1))
    content = data.get("content")
    if content is None and calls:
        content = ""
    call_id = data.get("tool_call_id")
    if call_id is not None and not isinstance(call_id, str | int):
        raise ValueError(
            f"message {number}: the tool_call_id must be a string, not {_shown(call_id)}"
        )
    return Message(
        role,
        _text(content, f"message {number}: the content"),
        tool_calls=calls,
        tool_call_id=None if call_id is None else str(call_id),
    )


def _call(data: Any, message: int, number: int) -> ToolCall:
    where = f"message {message}, tool call {number}"
    function = data.get("function") if isinstance(data, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise ValueError(
            f'{where}: "function" must be an object with a name, as '
            '{"function": {"name": "...", "arguments": {...}}}'
        )
    arguments = function.get("arguments", {})
    if not isinstance(arguments, str):  # some writers give the object, not its JSON text
        arguments = json.dumps(arguments, ensure_ascii=False)
    try:
        json.loads(arguments)
    except ValueError as error:
        raise ValueError(f"{where}: the arguments are not JSON ({error})") from None
    call_id = data.get("id", f"call_{number}")
    return ToolCall(str(call_id), function["name"], arguments)


def _tool(data: Any, number: int) -> Tool:
    function = data.get("function", data) if isinstance(data, dict) else None
    if not isinstance(function, dict):
        raise ValueError(f"tool {number} is not a JSON object but {_shown(data)}")
    name = _text(function.get("name"), f"tool {number}: the name")
    description = _text(function.get("description", ""), f"tool {number}: the description")
    parameters = function.get("parameters", {})
    if not isinstance(parameters, dict):
        raise ValueError(
            f"tool {number}: the parameters must be a JSON object (a JSON Schema), "
            f"not {_shown(parameters)}"
        )
    return Tool(name, description, parameters)


def encode_example(example: Example, chat: ChatFormat) -> Encoded:
    """Token ids of ``example`` rendered as at inference, and which carry loss."""
    if example.text is not None:
        text_ids = list(chat.tokenizer.encode(example.text, add_special_tokens=False).ids)
        return Encoded(text_ids, [True] * len(text_ids))
    messages = list(example.messages)
    rendered = (  # the tools at the top, where every reply learnt from this can see them
        hermes.prepare(messages, example.tools, near=False)
        if example.tools is not None
        else hermes.history(messages)
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
                    f"{example.where}: the chat template does not write a chat as its "
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
    at ``source``. Every line is read and encoded before anything trains, so an odd
    one is named here, not met mid-run."""
    if source.is_dir():
        train_file, valid_file = source / "train.jsonl", source / "valid.jsonl"
        if not os.path.lexists(train_file):
            raise InputError(f"the folder {source} needs a train.jsonl (and a valid.jsonl)")
        examples = read_examples(train_file)
        # a valid.jsonl that is there but no file is refused, not quietly passed over
        held_out = read_examples(valid_file) if os.path.lexists(valid_file) else None
        train, counts = _encode_all(examples, chat, max_len)
        if held_out is not None:
            validation, more = _encode_all(held_out, chat, max_len)
            totals = (counts[0] + more[0], counts[1] + more[1], counts[2] + more[2])
            return _dataset(train, validation, totals, max_len)
    else:
        train, counts = _encode_all(read_examples(source), chat, max_len)
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
    return _dataset(train, validation, counts, max_len)


Counts = tuple[int, int, int]  # examples left out as too long, texts cut, without loss


def _dataset(
    train: list[tuple[Example, Encoded]],
    validation: list[tuple[Example, Encoded]],
    counts: Counts,
    max_len: int,
) -> Dataset:
    left_out, cut, no_loss = counts
    if not train or not validation:
        where = " in the validation split" if train else ""
        if not left_out and no_loss:
            raise InputError(f"no example{where} has a token to learn: each is one token long")
        raise InputError(f"no example fits in --max-len {max_len} tokens{where}; raise --max-len")
    return Dataset(
        [e for _, e in train],
        [e for _, e in validation],
        [x for x, _ in validation if x.text is None],
        left_out,
        cut,
        no_loss,
    )


def _encode_all(
    examples: Sequence[Example], chat: ChatFormat, max_len: int
) -> tuple[list[tuple[Example, Encoded]], Counts]:
    out: list[tuple[Example, Encoded]] = []
    left_out = cut = no_loss = 0
    for example in examples:
        try:
            encoded = encode_example(example, chat)
        except TemplateError as error:  # a template may refuse an order of roles
            raise InputError(
                f"{example.where}: the chat template refuses this chat: {one_line(str(error))}"
            ) from None
        if encoded.loss_tokens == 0:
            # nothing to predict: a batch of such alone would make the loss NaN
            no_loss += 1
        elif len(encoded.ids) <= max_len:
            out.append((example, encoded))
        elif example.text is not None:  # text has no turns to keep whole: windows
            cut += 1
            for start in range(0, len(encoded.ids), max_len):
                window = encoded.ids[start : start + max_len]
                if len(window) > 1:
                    out.append((example, Encoded(window, [True] * len(window))))
        else:
            left_out += 1
    return out, (left_out, cut, no_loss)


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
