"""Chat formatting: messages to token ids through the model's chat template.

One home for what every local backend needs to turn a conversation into a
prompt: the template (the model's own, or a plain fallback for base models),
the system-turn workaround for templates that refuse one, and which tokens end
a turn. ``ChatFormat`` does it from a model folder's files with the
``tokenizers`` library and jinja2 alone, rendered the way transformers'
``apply_chat_template`` renders it, so the fast path never imports transformers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from minichat.backend import Message

# For base models with no chat template: plain "User:/Assistant:" turns, and a
# stop sequence so the model does not go on to write the user's next line.
FALLBACK_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}User: {{ m['content'] }}\n"
    "{% else %}Assistant: {{ m['content'] }}\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)
FALLBACK_STOPS = ("\nUser:",)
# End-of-turn markers of common chat formats; whichever the vocabulary has ends a reply.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")
SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")


def merge_system_into_first_user(dicts: list[dict[str, str]]) -> list[dict[str, str]]:
    """For templates that refuse a system turn: prepend it to the first user turn."""
    system = "\n\n".join(d["content"] for d in dicts if d["role"] == "system")
    rest = [dict(d) for d in dicts if d["role"] != "system"]
    if rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    else:
        rest.insert(0, {"role": "user", "content": system})
    return rest


def render_with_system_fallback(render: Any, messages: Sequence[Message]) -> Any:
    """Call ``render(dicts)``; if the template refuses the system turn, merge it and retry."""
    dicts = [m.to_dict() for m in messages]
    try:
        return render(dicts)
    except Exception:  # jinja2's TemplateError, raised by the template's raise_exception
        if not any(m.role == "system" for m in messages):
            raise
        return render(merge_system_into_first_user(dicts))


def end_of_turn_ids(vocab: dict[str, int], *declared: object) -> frozenset[int]:
    """The declared end-of-sequence ids plus every known end-of-turn marker in ``vocab``."""
    ids: set[int] = set()
    for source in declared:
        if isinstance(source, int):
            ids.add(source)
        elif isinstance(source, list):
            ids.update(i for i in source if isinstance(i, int))
    ids.update(vocab[token] for token in END_OF_TURN_TOKENS if token in vocab)
    return frozenset(ids)


@cache
def compile_template(source: str) -> Any:
    """A jinja2 template in the sandbox and with the helpers transformers provides."""
    from jinja2 import TemplateError
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    def tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(source)


class ChatFormat:
    """A model folder's tokenizer and chat template, without transformers."""

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config = _read_json(folder / "tokenizer_config.json")
        template_file = folder / "chat_template.jinja"
        template = (
            template_file.read_text(encoding="utf-8")
            if template_file.is_file()
            else config.get("chat_template")
        )
        self.extra_stops: tuple[str, ...] = () if template else FALLBACK_STOPS
        self.template = compile_template(
            template if isinstance(template, str) else FALLBACK_TEMPLATE
        )
        self.special_tokens = {
            key: _token_text(config[key]) for key in SPECIAL_TOKEN_KEYS if config.get(key)
        }
        vocab = self.tokenizer.get_vocab(with_added_tokens=True)
        eos = self.special_tokens.get("eos_token")
        self.end_ids = end_of_turn_ids(
            vocab,
            vocab.get(eos) if eos else None,
            _read_json(folder / "generation_config.json").get("eos_token_id"),
        )

    def render(self, messages: Sequence[Message], generation_prompt: bool = True) -> str:
        """The template's text for ``messages``; with the prompt that opens the assistant's
        reply, unless the text is a finished chat (finetuning data)."""

        def render(dicts: list[dict[str, str]]) -> str:
            return str(
                self.template.render(
                    messages=dicts, add_generation_prompt=generation_prompt, **self.special_tokens
                )
            )

        return str(render_with_system_fallback(render, messages))

    def encode(self, messages: Sequence[Message]) -> list[int]:
        # like apply_chat_template: the template writes the special tokens itself
        return list(self.tokenizer.encode(self.render(messages), add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _token_text(value: Any) -> str:
    return str(value["content"]) if isinstance(value, dict) else str(value)
