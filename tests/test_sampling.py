"""Sampling: greedy is argmax, seeds reproduce, filters keep exactly the right tokens."""

from __future__ import annotations

import torch

from minichat.config import GenerationConfig
from minichat.engine.sampling import Sampler, apply_repetition_penalty, apply_top_k, apply_top_p


def kept(logits: torch.Tensor) -> set[int]:
    return {int(i) for i in torch.nonzero(torch.isfinite(logits)).flatten()}


def test_temperature_zero_is_argmax() -> None:
    sampler = Sampler(GenerationConfig(temperature=0, repetition_penalty=1.0))
    for seed in range(5):
        logits = torch.randn(100, generator=torch.Generator().manual_seed(seed))
        assert sampler(logits, []) == int(torch.argmax(logits))


def test_fixed_seed_reproduces_and_different_seeds_differ() -> None:
    logits = torch.zeros(1000)  # uniform: every draw is up to the generator

    def draws(seed: int) -> list[int]:
        sampler = Sampler(GenerationConfig(temperature=1.0, top_k=0, top_p=1.0, seed=seed))
        return [sampler(logits, []) for _ in range(20)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)


def test_top_k_keeps_the_k_best() -> None:
    logits = torch.tensor([0.1, 3.0, 2.0, -1.0, 5.0])
    assert kept(apply_top_k(logits, 2)) == {1, 4}
    assert kept(apply_top_k(logits, 0)) == set(range(5))


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log()
    assert kept(apply_top_p(logits, 0.5)) == {0}
    assert kept(apply_top_p(logits, 0.6)) == {0, 1}
    assert kept(apply_top_p(logits, 0.9)) == {0, 1, 2}
    assert kept(apply_top_p(logits, 1.0)) == {0, 1, 2, 3}
    assert kept(apply_top_p(torch.tensor([0.1, 0.9]).log(), 0.01)) == {1}  # best always stays


def test_sampling_only_ever_picks_kept_tokens() -> None:
    logits = torch.tensor([4.0, 3.9, 0.0, 0.0, 0.0, 0.0])
    sampler = Sampler(
        GenerationConfig(temperature=1.0, top_k=2, top_p=1.0, seed=0, repetition_penalty=1.0)
    )
    assert {sampler(logits, []) for _ in range(200)} == {0, 1}


def test_repetition_penalty_lowers_recent_tokens_only() -> None:
    logits = torch.tensor([2.0, -2.0, 2.0, 1.0])
    out = apply_repetition_penalty(logits, [0, 1, 1], 2.0)
    assert out.tolist() == [1.0, -4.0, 2.0, 1.0]
    assert logits.tolist() == [2.0, -2.0, 2.0, 1.0]  # input untouched


def test_repetition_penalty_changes_the_greedy_choice() -> None:
    logits = torch.tensor([2.0, 1.5])
    greedy = Sampler(GenerationConfig(temperature=0, repetition_penalty=1.5))
    assert greedy(logits, []) == 0
    assert greedy(logits, [0]) == 1
