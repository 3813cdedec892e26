"""How much quantization changes a model: the quality guard's two measures.

- ``perplexity``: exp of the mean next-token loss over a fixed text; a quantized
  model should stay within a few percent of the unquantized one. Computed in
  windows of many tokens, it measures the products a prompt goes through;
  ``stepwise_perplexity`` feeds the text one token at a time through the KV cache,
  as decoding does, so it measures the decoding kernels (``quant``, ``kernels``).
- ``greedy_agreement``: the reference model decodes greedily from each prompt;
  the other model is fed the same tokens (teacher forcing), one at a time as it
  would decode them, and we count how often its own top choice is the reference's.
  Teacher forcing keeps one early near-tie from making every later token differ,
  so the figure measures the model, not the luck of the first divergence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from minichat.tinygpt.model import TinyGPT


@torch.inference_mode()
def perplexity(model: TinyGPT, ids: Sequence[int], window: int = 512) -> float:
    """Perplexity of ``ids``, in consecutive windows of at most ``window`` tokens."""
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, window):
        chunk = torch.tensor([list(ids[start : start + window + 1])])
        logits = model(chunk[:, :-1]).float()
        loss = F.cross_entropy(logits[0], chunk[0, 1:], reduction="sum")
        total, count = total + loss.item(), count + chunk.shape[1] - 1
    return math.exp(total / count)


@torch.inference_mode()
def stepwise_perplexity(model: TinyGPT, ids: Sequence[int]) -> float:
    """Perplexity of ``ids`` (at most the context) read one token at a time."""
    cache = model.new_cache()
    total = 0.0
    for position in range(len(ids) - 1):
        logits = model(torch.tensor([[ids[position]]]), cache, last_only=True)[0, -1]
        total -= F.log_softmax(logits.float(), dim=-1)[ids[position + 1]].item()
    return math.exp(total / (len(ids) - 1))


@torch.inference_mode()
def greedy_tokens(model: TinyGPT, prompt: Sequence[int], count: int) -> list[int]:
    cache = model.new_cache()
    logits = model(torch.tensor([list(prompt)]), cache, last_only=True)
    out: list[int] = []
    for _ in range(count):
        token = int(logits[0, -1].argmax())
        out.append(token)
        logits = model(torch.tensor([[token]]), cache, last_only=True)
    return out


@torch.inference_mode()
def greedy_agreement(
    reference: TinyGPT, other: TinyGPT, prompts: Sequence[Sequence[int]], count: int
) -> float:
    """The share of the reference's greedy tokens that ``other`` also ranks first."""
    same = total = 0
    for prompt in prompts:
        expected = greedy_tokens(reference, prompt, count)
        cache = other.new_cache()
        logits = other(torch.tensor([list(prompt)]), cache, last_only=True)
        for token in expected:
            same += int(logits[0, -1].argmax()) == token
            logits = other(torch.tensor([[token]]), cache, last_only=True)
        total += len(expected)
    return same / total
