"""Choosing the next token from the logits: the one home of sampling.

The pipeline, in order: repetition penalty over the recent tokens, then
temperature (0 means greedy argmax, no randomness), top-k, top-p, and a draw
from the remaining distribution with a generator seeded from the config, so a
fixed seed reproduces a reply exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from minichat.config import GenerationConfig

# Like llama.cpp's repeat_last_n: penalise a recent window, not the whole reply. The
# decode loop passes the reply's own tokens only (engine.decode): the prompt's words,
# a passage's names and numbers, a tool's result, are the model's to copy.
REPETITION_WINDOW = 64


class Sampler:
    def __init__(self, config: GenerationConfig):
        self.config = config
        self.generator = torch.Generator()
        if config.seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(config.seed)

    def __call__(self, logits: torch.Tensor, recent: Sequence[int]) -> int:
        """Pick the next token id from one position's logits (shape: vocab)."""
        # Sample on the CPU: the seeded generator lives there, so a seed gives the
        # same reply on every device, and one vocabulary-sized copy per token is cheap.
        logits = logits.float().cpu()
        logits = apply_repetition_penalty(
            logits, recent[-REPETITION_WINDOW:], self.config.repetition_penalty
        )
        if self.config.greedy:
            return int(torch.argmax(logits))
        logits = logits / self.config.temperature
        logits = apply_top_k(logits, self.config.top_k)
        logits = apply_top_p(logits, self.config.top_p)
        probs = torch.softmax(logits, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self.generator))


def apply_repetition_penalty(
    logits: torch.Tensor, recent: Sequence[int], penalty: float
) -> torch.Tensor:
    """Make already-seen tokens less likely (CTRL paper): divide positive
    logits by ``penalty``, multiply negative ones by it."""
    if penalty == 1.0 or not recent:
        return logits
    ids = torch.tensor(sorted(set(recent)), dtype=torch.long)
    seen = logits[ids]
    logits = logits.clone()
    logits[ids] = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits


def apply_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` highest logits (ties at the boundary kept too); 0 keeps all."""
    if k <= 0 or k >= logits.numel():
        return logits
    threshold = torch.topk(logits, k).values[-1]
    return logits.masked_fill(logits < threshold, float("-inf"))


def apply_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probability reaches ``p``."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    # drop a token when the tokens before it already reach p; the first always stays
    drop_sorted = (cumulative - torch.softmax(sorted_logits, dim=-1)) >= p
    drop = torch.zeros_like(drop_sorted).scatter(0, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))
