"""The decode loop: prefill the prompt once, then one token at a time.

``TokenModel`` (``engine.prefix``) is all the loop needs from a network: feed it
ids, it appends them to its KV cache and returns the logits of the last
position. The prompt is prefilled from where the cache stops matching it
(``prefix.prefill``), so a chat's earlier turns are not computed again. The loop
samples, ends on the model's end-of-turn ids, on ``max_new_tokens``, on a stop
string or on cancellation (checked between tokens), and yields text through the
incremental detokenizer and the stop matcher. A ``Constraint`` (tool calls)
masks the logits before each token is sampled.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Generator, Sequence
from typing import Protocol

import torch

from minichat.backend import FinishReason, Outcome
from minichat.config import GenerationConfig
from minichat.engine.detok import Decode, IncrementalDetokenizer
from minichat.engine.prefix import TokenModel, feed, prefill
from minichat.engine.sampling import Sampler
from minichat.engine.stops import StopMatcher
from minichat.errors import GenerationError
from minichat.prompt.budget import ensure_fits


class Constraint(Protocol):
    """What the loop needs of a grammar (``tools.grammar``): the tokens allowed next, and
    the token taken; ``calling`` while a tool call is being written."""

    calling: bool

    def mask(self, logits: torch.Tensor) -> torch.Tensor: ...

    def consume(self, token: int) -> None: ...


# never count a number: a reply that wrote "1234" must stay free to write the 2 of a
# result "7006652" (bench/grounded.py: calculator results stated 8 -> 9 of 12)
EXEMPT_NUMBERS = True
PROMPT_PENALISED = 0  # tokens of the prompt the repetition penalty counts (bench: 64, as before)
OUT_OF_MEMORY = (
    "out of memory while generating; the conversation is kept. "
    "Try a lower --max-tokens, --dtype bf16, or a smaller model"
)


def generate_text(
    model: TokenModel,
    decode: Decode,
    prompt_ids: Sequence[int],
    config: GenerationConfig,
    *,
    end_ids: Collection[int],
    cancel: threading.Event,
    extra_stops: Sequence[str] = (),
    reuse: bool = True,
    constraint: Constraint | None = None,
) -> Generator[str, None, Outcome]:
    """Yield the reply to ``prompt_ids`` as text; return why and how long it was.

    With ``reuse`` the KV cache of the previous call is kept as far as it matches the
    prompt; without it the whole prompt is prefilled (the reference). Running out of
    memory becomes a ``GenerationError`` the interface can show.
    """
    try:
        return (
            yield from _decode(
                model,
                decode,
                prompt_ids,
                config,
                end_ids,
                cancel,
                (*config.stop, *extra_stops),
                reuse,
                constraint,
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
    reuse: bool,
    constraint: Constraint | None,
) -> Generator[str, None, Outcome]:
    ensure_fits(len(prompt_ids), config.max_new_tokens, model.context_length)
    sampler = Sampler(config)
    stops = StopMatcher(stop)
    detok = IncrementalDetokenizer(decode)
    # the repetition penalty looks at the reply's own tokens (at most the window's last
    # few; PROMPT_PENALISED more of the prompt's): it is there to keep a reply from
    # looping, and over the prompt it pushed the model off the very words, names and
    # numbers a passage or a tool result gave it to copy (bench/grounded.py)
    recent = list(prompt_ids[len(prompt_ids) - PROMPT_PENALISED :]) if PROMPT_PENALISED else []
    new_tokens = 0
    reason: FinishReason = "length"
    numbers: dict[int, bool] = {}

    logits, reused = prefill(model, prompt_ids, reuse=reuse)
    while not cancel.is_set():
        penalised: Sequence[int] = recent
        if constraint is not None:  # only tokens that keep a tool call valid
            logits = constraint.mask(logits)
            if constraint.calling:
                # a call copies the user's words (a path, the numbers): the repetition
                # penalty would push it off them, and the grammar keeps it from looping
                penalised = ()
        if EXEMPT_NUMBERS:
            penalised = [t for t in penalised if not _is_number(t, decode, numbers)]
        token = sampler(logits, penalised)
        if constraint is not None:
            constraint.consume(token)
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
        logits = feed(model, [token])
    if cancel.is_set() and reason == "length":
        reason = "cancelled"
    if reason not in ("stop", "cancelled"):  # a cancelled reply ends where it was cut
        tail = stops.push(detok.flush())
        tail += stops.flush()
        if stops.stopped:
            reason = "stop"
        if tail:
            yield tail
    return Outcome(reason, len(prompt_ids), new_tokens, cached_tokens=reused)


def _is_number(token: int, decode: Decode, seen: dict[int, bool]) -> bool:
    """Whether ``token`` reads as digits (remembered in ``seen``, one reply's)."""
    if token not in seen:
        seen[token] = decode([token]).strip().isdigit()
    return seen[token]
