"""Fused search keeps what keyword search finds first: a passage that alone holds a rare
flag the question names stays in the top four even when the embedding ranks it last, and
a weak keyword match does not push aside what the embedding finds.

The index is real (BM25 and faiss) but its vectors are set by hand, with a stand-in
embedder that maps every question to one vector, so each test fixes exactly how the
embedding ranks the passages; it runs in milliseconds and loads no model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minichat.retrieval.chunks import Chunk
from minichat.retrieval.search import DEPTH, TOP_K, Index

DIMENSIONS = 8
FLAG = "Pass --zephyrine to keep partial uploads when the link drops."


class Fixed:
    """An embedder whose every question is the first axis."""

    dimensions = DIMENSIONS

    def embed_query(self, text: str) -> Any:
        vector = np.zeros((1, DIMENSIONS), dtype=np.float32)
        vector[0, 0] = 1.0
        return vector


def unit(cosine: float, axis: int) -> list[float]:
    """A unit vector at ``cosine`` to the question's, leaning towards ``axis``."""
    vector = [0.0] * DIMENSIONS
    vector[0] = cosine
    vector[axis] = math.sqrt(1 - cosine * cosine)
    return vector


def index(passages: list[tuple[str, float]]) -> Index:
    """Passages with the cosine the embedding gives each against any question."""
    chunks = [Chunk(f"/notes/{n}.md", 1, 1, "", text) for n, (text, _) in enumerate(passages)]
    vectors = np.array([unit(c, 1 + n % 7) for n, (_, c) in enumerate(passages)], np.float32)
    return Index(chunks, vectors, Fixed())  # type: ignore[arg-type]


def backups(count: int, best: float, worst: float) -> list[tuple[str, float]]:
    """Passages about the nightly backup that never name the flag, the embedding's
    favourites first (cosines from ``best`` down to ``worst``)."""
    step = (best - worst) / max(count - 1, 1)
    return [
        (f"Backup note {n}: the nightly job copies archive {n} to the mirror.", best - n * step)
        for n in range(count)
    ]


def paths(hits: list[Any]) -> list[str]:
    return [hit.chunk.path for hit in hits]


def test_the_only_passage_naming_a_rare_flag_stays_in_the_top_four() -> None:
    # more passages than each list hands on, all closer to the question by embedding
    passages = [*backups(DEPTH + 10, 0.9, 0.3), (FLAG, 0.0)]
    flag = f"/notes/{len(passages) - 1}.md"
    search = index(passages)
    question = "What does --zephyrine do?"
    assert paths(search.search(question, 1, "bm25")) == [flag]  # the only keyword match
    assert flag not in paths(search.search(question, DEPTH, "dense"))
    assert flag in paths(search.search(question, TOP_K))
    assert paths(search.search(question, 10))[:TOP_K] == paths(search.search(question))


def test_a_keyword_only_passage_outranks_weak_embedding_matches() -> None:
    # reciprocal rank fusion put it below the embedding's top 20 whatever its BM25 score
    passages = [*backups(DEPTH + 10, 0.5, 0.1), (FLAG, 0.0)]
    hits = index(passages).search("What does --zephyrine do?")
    assert hits[0].chunk.text == FLAG and hits[0].dense_rank is None


def test_common_words_do_not_outweigh_a_close_paraphrase() -> None:
    # twenty passages share the question's two commonest words: that is weak evidence
    answer = "Copies are kept for ninety days, then deleted."
    other = "Long uploads are retained in a queue until the link returns."
    passages = [*backups(20, 0.45, 0.2), (other, 0.1), (answer, 0.8)]
    hits = index(passages).search("How long is the nightly backup retained?")
    assert hits[0].chunk.text == answer and hits[0].keyword_rank is None
