"""Passages in a prompt: how the retrieved text is put before the user's question.

Each passage is numbered by rank and labelled with where it came from, so the
model can cite it as ``[n]`` and the user can check it. They are placed weakest
first, so the best one, ``[1]``, sits right before the question: the default
135M model answered 16 of the 40 test-corpus questions with the best passage
last against 12 with it first (``tests/docs_corpus.py``). A small model follows
a short, plain instruction best; it is told to prefer the passages and to say
when they do not hold the answer, rather than to make one up.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from minichat.retrieval.search import Hit

INSTRUCTION = (
    "Answer the question using these passages from my documents. Cite a passage you "
    "use as [1], [2]. If the passages do not answer it, say so."
)


def label(number: int, hit: Hit, root: Path | None = None) -> str:
    where = hit.chunk.location(root)
    return f"[{number}] {where}" + (f" ({hit.chunk.heading})" if hit.chunk.heading else "")


def render(hits: Sequence[Hit], root: Path | None = None) -> str:
    """The text the model reads before the question; empty when nothing was found."""
    if not hits:
        return ""
    ranked = list(enumerate(hits, 1))
    passages = "\n\n".join(
        f"{label(n, hit, root)}\n{hit.chunk.text.strip()}" for n, hit in reversed(ranked)
    )
    return f"{INSTRUCTION}\n\n{passages}\n\nQuestion:"
