"""Constrained decoding: only tokens that keep a tool call valid (llguidance).

The grammar is lazy where the model may answer in words (``tool_choice`` auto):
any text, until the model writes ``<tool_call>``; from there only tokens that
continue a call to one of the tools, with arguments valid against its JSON
Schema, then ``</tool_call>``, and words or another call after it. ``required``
forces a call from the first token, and allows more, one a line (OpenAI's parallel
calls); a named tool forces one call to it. The mask is computed from the tokens so
far before each token is sampled (0.1 ms at the median on the default model;
bench/tools.py), and the end-of-turn tokens are allowed only where the grammar may
end, so a call always parses. It works on logits, so the KV cache and the compiled
step are untouched. ``tools.schema.schema_problem`` says, before any of that, why a
schema cannot become a grammar (the server refuses such a request before it queues).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from minichat.errors import ConfigError, ModelNotFoundError
from minichat.tools.copying import Copier
from minichat.tools.hermes import CALL_SUFFIX, OPEN, call_prefix
from minichat.tools.schema import arguments_schema, closed
from minichat.tools.spec import Tools

if TYPE_CHECKING:
    import torch

INSTALL = "pip install llguidance (or minichat[tools])"


def grammar(tools: Tools) -> str:
    """The Lark grammar (llguidance's dialect) for calls to ``tools`` as ``choice`` says,
    and for an answer in ``tools.schema``'s shape where the reply may answer."""
    offered = [t for t in tools.tools if tools.choice in ("auto", "required", t.name)]
    calls = [
        f"{json.dumps(call_prefix(t.name))} "
        f"%json {json.dumps(arguments_schema(closed(t.parameters)))} {json.dumps(CALL_SUFFIX)}"
        for t in offered
    ]
    if tools.schema is not None and tools.choice in ("auto", "none"):
        # the answer is JSON in the schema's shape; under auto, calls may come instead
        answer = f"answer: %json {json.dumps(arguments_schema(tools.schema))}\n"
        if not calls:
            return f"%llguidance {{}}\nstart: answer\n{answer}"
        alternatives = "\n    | ".join(calls)
        return (
            f'%llguidance {{}}\nstart: answer | call ("\\n" call)*\ncall: {alternatives}\n{answer}'
        )
    if tools.choice == "auto":  # words, or a call once the model opens one
        from llguidance import StructTag

        tags = [
            StructTag(
                trigger="<tool_call>",
                begin=call_prefix(t.name),
                grammar=arguments_schema(closed(t.parameters)),
                end=CALL_SUFFIX,
            )
            for t in offered
        ]
        return str(StructTag.to_grammar(tags, assume_special=False))
    alternatives = "\n    | ".join(calls)
    if tools.choice == "required":  # one call or several, each on a line, then the turn ends
        return f'%llguidance {{}}\nstart: call ("\\n" call)*\ncall: {alternatives}\n'
    return f"%llguidance {{}}\nstart: {alternatives}\n"  # the named tool, once


class Constraint:
    """One reply's mask: ``mask`` the logits before sampling, ``consume`` the token."""

    def __init__(self, tokenizer: Any, tools: Tools, copier: Copier | None = None):
        from llguidance import LLMatcher

        self.matcher = LLMatcher(tokenizer, LLMatcher.grammar_from_lark(grammar(tools)))
        error = self.matcher.get_error()
        if error:
            raise ConfigError(f"the tools' schemas cannot be turned into a grammar: {error}")
        import numpy
        import torch

        self.size = tokenizer.vocab_size
        # llguidance writes the mask into this array; the tensor shares its memory
        self.words = numpy.zeros((1, (self.size + 31) // 32), dtype=numpy.int32)
        self.bits = torch.from_numpy(self.words[0])
        self.tokenizer = tokenizer
        # a call is under way (from the start if forced), or JSON in a schema's shape: what
        # it writes copies the user's words, so the engine lifts the repetition penalty
        self.calling = tools.choice != "auto" or tools.schema is not None
        self.tail = b""  # the end of the text so far, to see a call open under auto
        self.copier = copier  # favours the words and numbers given, as given

    def mask(self, logits: torch.Tensor) -> torch.Tensor:
        # llguidance.numpy, not llguidance.torch: that one compiles a kernel with
        # torch.compile on import, about 3 s before a first reply with tools
        import torch
        from llguidance.numpy import fill_next_token_bitmask

        fill_next_token_bitmask(self.matcher, self.words)
        if not self.words.any():  # a schema no call can finish (beyond schema_problem's)
            raise ConfigError(
                "the tools' schemas allow no call to be finished here: "
                f"{self.matcher.get_error() or 'no token fits'}; relax their limits"
            )
        shifts = torch.arange(32, dtype=torch.int32)
        allowed = ((self.bits.unsqueeze(-1) >> shifts) & 1).bool().flatten()[: self.size]
        allowed = allowed.to(logits.device)  # the mask is made on the CPU
        masked = torch.full_like(logits, float("-inf"))
        width = min(self.size, logits.shape[-1])
        masked[:width] = torch.where(allowed[:width], logits[:width], masked[:width])
        return masked if self.copier is None else self.copier.mask(masked)

    def consume(self, token: int) -> None:
        if not self.matcher.consume_token(token):  # the mask forbade it: a bug, not input
            raise RuntimeError(f"token {token} breaks the tool grammar: {self.matcher.get_error()}")
        if not self.calling:
            self.tail = (self.tail + self.tokenizer.decode_bytes([token]))[-2 * len(OPEN) :]
            self.calling = OPEN.encode() in self.tail
        if self.copier is not None:
            self.copier.consume(token)


def llg_tokenizer(tokenizer_json: str, end_ids: Collection[int]) -> Any:
    """llguidance's view of a model's tokenizer (about 0.5 s to build: keep it)."""
    try:
        from llguidance import LLTokenizer
    except ImportError as error:
        raise ModelNotFoundError(f"tool calling needs llguidance: {INSTALL}") from error
    return LLTokenizer(tokenizer_json, eos_token=sorted(end_ids))
