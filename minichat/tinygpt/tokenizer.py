"""TinyGPT's tokenizer: byte-level BPE trained on the training text, plus the chat format.

Byte-level BPE (the GPT-2 scheme) can encode any text: it starts from the 256
byte values and learns merges of frequent neighbours until the vocabulary is
full. The chat format's markers are special tokens, so they are one id each and
never split or learned from text. The format itself is a chat template, saved
beside the tokenizer like any Hugging Face model's, so minichat's ``ChatFormat``
(and transformers) render TinyGPT prompts the same way they render SmolLM2's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from minichat.safety.files import write_atomically

END_OF_TEXT = "<|endoftext|>"  # separates plain-text documents
END_OF_TURN = "<|end|>"  # ends every message; generation stops on it
ROLE_TOKENS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}
SPECIAL_TOKENS = [END_OF_TEXT, END_OF_TURN, *ROLE_TOKENS.values()]

# <|user|>hi<|end|><|assistant|>hello!<|end|> ... and the assistant marker to answer after.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    """Learn a byte-level BPE vocabulary of ``vocab_size`` ids (specials included)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def save_tokenizer(tokenizer: Tokenizer, folder: Path, context_length: int) -> None:
    """Write the tokenizer and chat template in the layout transformers reads too."""
    write_atomically(folder / "tokenizer.json", tokenizer.to_str())
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": END_OF_TURN,
        "pad_token": END_OF_TEXT,
        "model_max_length": context_length,
    }
    write_atomically(folder / "tokenizer_config.json", json.dumps(config, indent=2) + "\n")
    write_atomically(folder / "chat_template.jinja", CHAT_TEMPLATE)
    # a reply ends at its end-of-turn marker, or at any other marker the model
    # might start instead: a role token means it has begun the next message
    ends = [tokenizer.token_to_id(token) for token in SPECIAL_TOKENS]
    generation = {"eos_token_id": ends}
    write_atomically(folder / "generation_config.json", json.dumps(generation, indent=2) + "\n")


def load_tokenizer(folder: Path) -> Tokenizer:
    return Tokenizer.from_file(str(folder / "tokenizer.json"))
