"""Training data for TinyGPT: conversations and text, turned into token streams.

The default corpus is the ``chitchat-dataset`` package: 7,168 real open-domain
conversations between two people. The first speaker becomes the user and the
second the assistant, each turn's messages joined by newlines. A user's own
data is a JSONL file of chats (``{"messages": [{"role": ..., "content": ...}]}``
per line) or any other file read as plain text, paragraph by paragraph.

Train and validation are split by whole conversation (or paragraph), so no
validation text is ever seen in training. Each chat is rendered with the chat
template, exactly as a prompt is at inference time, and everything is joined
into one stream of token ids that training samples windows from.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from minichat.backend import Message
from minichat.errors import InputError
from minichat.settings.paths import package_file
from minichat.tinygpt.tokenizer import CHAT_TEMPLATE, END_OF_TEXT, END_OF_TURN, ROLE_TOKENS

CHITCHAT_PACKAGE = "chitchat_dataset"
CHITCHAT_INSTALL = "pip install chitchat-dataset  (or: pip install 'minichat[train]')"
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Corpus:
    train: list[str]  # documents, each a rendered chat or a paragraph of text
    validation: list[str]
    contents: list[str]  # the training split's raw message text, for learning the tokenizer


def chitchat_chats() -> list[list[Message]]:
    """Every conversation of the chitchat dataset as user/assistant messages."""
    data = json.loads(_chitchat_file().read_text(encoding="utf-8"))
    chats = []
    for key in sorted(data):  # a fixed order, so a seed always gives the same split
        chat: list[Message] = []
        for turn in data[key]["messages"]:
            text = "\n".join(u["text"].strip() for u in turn if u["text"].strip())
            if text:
                chat.append(Message("user" if len(chat) % 2 == 0 else "assistant", text))
        if len(chat) >= 2:
            chats.append(chat)
    return chats


def _chitchat_file() -> Path:
    path = package_file(CHITCHAT_PACKAGE, "dataset.json")
    if path is not None:
        return path
    raise InputError(f"training on chitchat needs its package: {CHITCHAT_INSTALL}")


def read_file(path: Path) -> list[list[Message]] | list[str]:
    """A JSONL file of chats, or paragraphs of a plain text file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read training data {path}: {error}") from None
    if path.suffix == ".jsonl":
        return [_chat(line, path, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    if not paragraphs:
        raise InputError(f"{path} has no text to train on")
    return paragraphs


def _chat(line: str, path: Path, number: int) -> list[Message]:
    try:
        data: Any = json.loads(line)
        items = data["messages"] if isinstance(data, dict) else data
        chat = [Message(m["role"], m["content"]) for m in items]
        if not chat or any(m.role not in ROLES or not isinstance(m.content, str) for m in chat):
            raise ValueError(f"each message needs a role ({', '.join(ROLES)}) and text content")
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(
            f'{path} line {number} is not a chat: {error}; expected {{"messages": '
            '[{"role": "user", "content": "..."}, ...]}'
        ) from None
    return chat


def build_corpus(
    source: Sequence[list[Message] | str], validation_fraction: float, seed: int
) -> Corpus:
    """Render and split ``source`` (chats or paragraphs) by whole document."""
    order = list(range(len(source)))
    random.Random(seed).shuffle(order)
    held_out = set(order[: max(1, round(len(order) * validation_fraction))])
    if len(held_out) >= len(order):
        raise InputError("the training data needs at least two conversations or paragraphs")
    train: list[str] = []
    validation: list[str] = []
    contents: list[str] = []
    for index, item in enumerate(source):
        if isinstance(item, str):
            document, texts = item + "\n\n" + END_OF_TEXT, [item]
        else:
            document, texts = render_chat(item), [m.content for m in item]
        if index in held_out:
            validation.append(document)
        else:
            train.append(document)
            contents.extend(texts)
    return Corpus(train, validation, contents)


def render_chat(chat: Sequence[Message]) -> str:
    from minichat.prompt.template import compile_template

    return str(
        compile_template(CHAT_TEMPLATE).render(
            messages=[m.to_dict() for m in chat], add_generation_prompt=False
        )
    )


def plain_text(document: str) -> str:
    """A rendered document without the chat markers: one message a line."""
    for token in (*ROLE_TOKENS.values(), END_OF_TEXT):
        document = document.replace(token, "")
    return document.replace(END_OF_TURN, "\n").strip()


def encode(documents: Sequence[str], tokenizer: Any) -> torch.Tensor:
    """All documents' token ids, one after another, as one int32 tensor."""
    ids: list[int] = []
    for encoding in tokenizer.encode_batch(list(documents), add_special_tokens=False):
        ids.extend(encoding.ids)
    return torch.tensor(ids, dtype=torch.int32)


def sample_batch(
    tokens: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows: inputs and the same windows shifted by one."""
    if len(tokens) < block_size + 2:
        raise InputError(
            f"the training split has {len(tokens)} tokens, too few for windows of "
            f"{block_size + 1}: give more data or a shorter --context"
        )
    starts = torch.randint(len(tokens) - block_size - 1, (batch_size,), generator=generator)
    windows = torch.stack([tokens[s : s + block_size + 1] for s in starts.tolist()]).long()
    return windows[:, :-1], windows[:, 1:]


def fixed_batches(
    tokens: torch.Tensor, batch_size: int, block_size: int, count: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Up to ``count`` batches of consecutive windows from the start: the same every time."""
    if len(tokens) < block_size + 1:
        raise InputError(
            f"the validation split has {len(tokens)} tokens, fewer than one window of "
            f"{block_size + 1}: give more data or a shorter --context"
        )
    windows = [
        tokens[start : start + block_size + 1]
        for start in range(0, len(tokens) - block_size, block_size)
    ][: batch_size * count]
    batches = []
    for i in range(0, len(windows), batch_size):
        stacked = torch.stack(windows[i : i + batch_size]).long()
        batches.append((stacked[:, :-1], stacked[:, 1:]))
    return batches
