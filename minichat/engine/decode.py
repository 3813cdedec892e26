"""The decode loop: prefill the prompt once, then one token at a time.

``TokenModel`` is all the loop needs from a network: feed it ids, it appends
them to its KV cache and returns the logits of the last position. The loop
samples, ends on the model's end-of-turn ids, on ``max_new_tokens``, on a stop
string or on cancellation (checked between tokens), and yields text through the
incremental detokenizer and the stop matcher.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Generator, Sequence
from typing import Protocol

import torch

from minichat.backend import FinishReason, Outcome
from minichat.budget import ensure_fits
from minichat.config import GenerationConfig
from minichat.engine.detok import Decode, IncrementalDetokenizer
from minichat.engine.sampling import Sampler
from minichat.engine.stops import StopMatcher
from minichat.errors import GenerationError

OUT_OF_MEMORY = (
    "out of memory while generating; the conversation is kept. "
    "Try a lower --max-tokens, --dtype bf16, or a smaller model"
)


class TokenModel(Protocol):
    context_length: int

    def reset(self) -> None:
        """Forget the KV cache: the next ``forward`` starts a new sequence."""

    def forward(self, ids: Sequence[int]) -> torch.Tensor:
        """Append ``ids`` to the cached sequence; return the last position's logits."""


def generate_text(
    model: TokenModel,
    decode: Decode,
    prompt_ids: Sequence[int],
    config: GenerationConfig,
    *,
    end_ids: Collection[int],
    cancel: threading.Event,
    extra_stops: Sequence[str] = (),
) -> Generator[str, None, Outcome]:
    """Yield the reply to ``prompt_ids`` as text; return why and how long it was.

    Running out of memory becomes a ``GenerationError`` the interface can show.
    """
    try:
        return (
            yield from _decode(
                model, decode, prompt_ids, config, end_ids, cancel, (*config.stop, *extra_stops)
            )
        )
    except (torch.cuda.OutOfMemoryError, MemoryError) as error:
        raise GenerationError(OUT_OF_MEMORY) from error
    except RuntimeError as error:  # the CPU allocator's failure is a plain RuntimeError
        if "can't allocate memory" in str(error):
            raise GenerationError(OUT_OF_MEMORY) from error
        raise


@torch.inference_mode()
def _decode(
    model: TokenModel,
    decode: Decode,
    prompt_ids: Sequence[int],
    config: GenerationConfig,
    end_ids: Collection[int],
    cancel: threading.Event,
    stop: Sequence[str],
) -> Generator[str, None, Outcome]:
    ensure_fits(len(prompt_ids), config.max_new_tokens, model.context_length)
    sampler = Sampler(config)
    stops = StopMatcher(stop)
    detok = IncrementalDetokenizer(decode)
    recent = list(prompt_ids)
    new_tokens = 0
    reason: FinishReason = "length"

    model.reset()
    logits = model.forward(prompt_ids)
    while not cancel.is_set():
        token = sampler(logits, recent)
        if token in end_ids:
            reason = "end_turn"
            break
        recent.append(token)
        new_tokens += 1
        text = stops.push(detok.push(token))
        if text:
            yield text
        if stops.stopped:
            reason = "stop"
            break
        if new_tokens == config.max_new_tokens or cancel.is_set():
            break
        logits = model.forward([token])
    if cancel.is_set() and reason == "length":
        reason = "cancelled"
    if reason not in ("stop", "cancelled"):  # a cancelled reply ends where it was cut
        tail = stops.push(detok.flush())
        tail += stops.flush()
        if stops.stopped:
            reason = "stop"
        if tail:
            yield tail
    return Outcome(reason, len(prompt_ids), new_tokens)
