"""Reusing the KV cache from one call to the next: the longest common token prefix.

In a chat every prompt is the previous prompt, plus the previous reply, plus one
new message. A token model remembers which ids its KV cache holds
(``cached_ids``); before a new prompt is prefilled, the cache is cut back to the
longest prefix it shares with the prompt and only the rest is computed. The
comparison is on token ids, so any change under the cache (an undone turn, a
new system prompt, old turns dropped to fit the context, a reply cut short, a
chat template that writes a reply differently from how it was sampled) simply
ends the shared prefix earlier: nothing needs to be told to invalidate it.

The record is cleared while a forward pass runs and restored after it, so an
interruption mid-pass (a second Ctrl+C, running out of memory) leaves a cache
that is never reused, rather than one that claims ids it does not hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch


class TokenModel(Protocol):
    context_length: int
    cached_ids: list[int]  # the ids whose keys and values the cache holds, in order

    def keep(self, length: int) -> int:
        """Keep the first ``length`` cached positions and forget the rest; return how many
        were kept (0: a fresh sequence, also where the cache cannot be cut back)."""

    def forward(self, ids: Sequence[int]) -> torch.Tensor:
        """Append ``ids`` to the cached sequence; return the last position's logits."""


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading ids ``a`` and ``b`` share."""
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def feed(model: TokenModel, ids: Sequence[int]) -> torch.Tensor:
    """Run ``ids`` through the model, keeping ``cached_ids`` true to its cache."""
    known, model.cached_ids = model.cached_ids, []
    logits = model.forward(ids)
    known.extend(ids)
    model.cached_ids = known
    return logits


def prefill(
    model: TokenModel, prompt_ids: Sequence[int], *, reuse: bool
) -> tuple[torch.Tensor, int]:
    """Bring the cache to ``prompt_ids``; return the last position's logits and how many
    prompt tokens came from the cache. At least the last prompt token is computed again,
    since its logits are what the reply starts from."""
    reused = min(common_prefix(model.cached_ids, prompt_ids), len(prompt_ids) - 1) if reuse else 0
    reused = model.keep(reused)
    del model.cached_ids[reused:]
    return feed(model, prompt_ids[reused:]), reused
