"""Search a collection: BM25 and dense vectors, fused by weighted score.

Keyword search (``bm25s``) finds rare names, flags and codes that an embedding blurs;
the embedding (an inner product over unit vectors in ``faiss``) finds a passage that
says the same thing in other words. Each hands its top 50 to the fusion, which gives
every passage ``0.35 * keyword + 0.65 * cosine``. ``keyword`` is the passage's BM25
score over the most the question's words can score: the sum, over those words, of each
word's best score in any passage. It is 1.0 for a passage that matches every word as
well as any passage does and small for one that shares a single common word, so both
terms are absolute scales where a rank is not. A passage missing from a list scores 0
there. A passage that is the only keyword match, or scores at least twice the keyword
runner-up, ranks no lower than fourth (``TOP_K``): such a hit is the exact name or flag
asked about, and it stays in what the model reads even when the embedding missed it.

It replaced reciprocal rank fusion (``weight / (K + rank)`` summed over the lists, with
the keyword list at half weight and K = 20), which capped a passage found only by
keywords at 0.5 / 21: below the embedding's top 20, whatever its BM25 score, so a real
manual's right passage, first in BM25, was lost in three questions. Measured by
``bench/retrieval.py`` (recall@4 / MRR@10): on the 40 generated questions, fused
0.975/0.926 at 59 chunks (dense alone 1.000/0.902) and 0.950/0.883 at 1,762 (the
better single list 0.850/0.779); on 30 hand-written questions about the sqlite-utils
4.2.1 manual (1,226 chunks, ``--manual``), fused 0.767/0.563 where reciprocal rank
gives 0.733/0.511 and the better single list 0.700/0.528 (BM25). The one generated
question the fusion misses at 59 chunks, dense ranks fourth and BM25 not at all. The
weights suit all-MiniLM-L6-v2's cosines; another embedder would want them measured again.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from minichat.errors import InputError
from minichat.retrieval.chunks import Chunk
from minichat.retrieval.embedder import Embedder, missing

if TYPE_CHECKING:
    import numpy as np

Mode = Literal["fused", "bm25", "dense"]
MODES: tuple[Mode, ...] = ("fused", "bm25", "dense")
KEYWORDS_VERSION = 1  # how text becomes BM25 terms; a collection records it
TOP_K = 4
KEYWORD_WEIGHT = 0.35  # the normalised BM25 score's share; the cosine has the rest
STRONG_KEYWORD = 2.0  # a keyword top hit this many times the runner-up's score stays in TOP_K
DEPTH = 50  # candidates each retriever hands to the fusion
# a question, not a document: longer is refused rather than embedded in hundreds of pieces
MAX_QUERY_CHARS = 20_000
_LONE_SURROGATES = re.compile("[\ud800-\udfff]")  # an argument that is not UTF-8


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # what ranked it: the fused score, BM25 score or cosine similarity
    keyword_rank: int | None  # 1-based rank in each list; None when not in it
    dense_rank: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.chunk.path,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "unit": self.chunk.unit,
            "heading": self.chunk.heading,
            "score": round(self.score, 6),
            "keyword_rank": self.keyword_rank,
            "dense_rank": self.dense_rank,
            "text": self.chunk.text,
        }


def keyword_tokens(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased words without English stopwords, stemmed (``sensors`` and ``sensor``
    are one term), as the index and the queries both see them."""
    import bm25s

    return bm25s.tokenize(  # type: ignore[no-any-return]
        list(texts),
        stopwords="en",
        stemmer=_stemmer(),
        return_ids=False,
        show_progress=False,
    )


@functools.cache
def _stemmer() -> Any:
    try:
        import Stemmer
    except ImportError as error:
        raise missing("PyStemmer") from error
    return Stemmer.Stemmer("english").stemWords


def keyword_index(chunks: Sequence[Chunk]) -> Any | None:
    """A BM25 index over the chunks' text (with their headings); None when no chunk has
    a word to index (``x = 1``, "To be, or not to be."): then the search is dense only."""
    try:
        import bm25s
    except ImportError as error:
        raise missing("bm25s") from error
    tokens = keyword_tokens([c.embed_text for c in chunks])
    if not any(tokens):
        return None
    index = bm25s.BM25()
    index.index(tokens, show_progress=False)
    return index


def save_keywords(index: Any | None, folder: Path) -> None:
    if index is not None:
        index.save(str(folder), show_progress=False)


def load_keywords(folder: Path) -> Any | None:
    """The saved BM25 index; None when there is none (the chunks are indexed again)."""
    import bm25s

    if not folder.is_dir():
        return None
    try:
        return bm25s.BM25.load(str(folder), show_progress=False)
    except (OSError, ValueError):  # damaged: the chunks can build it again
        return None


def fuse(
    keyword: Sequence[tuple[int, float]], dense: Sequence[tuple[int, float]], ceiling: float
) -> list[tuple[int, float]]:
    """Passages and fused scores, best first, from each list's ``(passage, score)``, best
    first: BM25 scores (``ceiling`` the most the query's words can score) and cosines."""
    scores = {i: (1 - KEYWORD_WEIGHT) * cosine for i, cosine in dense}
    for i, score in keyword:
        scores[i] = scores.get(i, 0.0) + KEYWORD_WEIGHT * score / ceiling
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    if keyword and (len(keyword) == 1 or keyword[0][1] >= STRONG_KEYWORD * keyword[1][1]):
        position = next(n for n, (i, _) in enumerate(ranked) if i == keyword[0][0])
        if position >= TOP_K:  # the same place for any k, so search(q, 10)[:4] == search(q)
            ranked.insert(TOP_K - 1, ranked.pop(position))
    return ranked


class Index:
    """A collection in memory, ready to search."""

    def __init__(
        self,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        embedder: Embedder,
        keywords: Any | None = None,
    ):
        try:
            import faiss
        except ImportError as error:
            raise missing("faiss-cpu") from error
        self.chunks = list(chunks)
        self.embedder = embedder
        self.keywords = keywords if keywords is not None else keyword_index(self.chunks)
        self.vectors = faiss.IndexFlatIP(embedder.dimensions)
        if len(self.chunks):
            self.vectors.add(vectors)

    def __len__(self) -> int:
        return len(self.chunks)

    def search(self, query: str, k: int = TOP_K, mode: Mode = "fused") -> list[Hit]:
        """The ``k`` passages that best answer ``query``, best first."""
        if not self.chunks or not query.strip():
            return []
        if len(query) > MAX_QUERY_CHARS:
            raise InputError(
                f"the question is {len(query)} characters; a search reads at most "
                f"{MAX_QUERY_CHARS} characters: ask about a part of it"
            )
        query = _LONE_SURROGATES.sub("\ufffd", query)  # the tokenizers cannot take them
        depth = min(max(DEPTH, k), len(self.chunks))
        tokens = keyword_tokens([query])[0] if mode != "dense" else []
        keyword = self._keyword(tokens, depth)
        dense = self._dense(query, depth) if mode != "bm25" else []
        keyword_rank = {i: rank for rank, (i, _) in enumerate(keyword, 1)}
        dense_rank = {i: rank for rank, (i, _) in enumerate(dense, 1)}
        if mode == "fused":
            ranked = fuse(keyword, dense, self._keyword_ceiling(tokens) if keyword else 1.0)
        else:
            ranked = keyword if mode == "bm25" else dense
        return [
            Hit(self.chunks[i], score, keyword_rank.get(i), dense_rank.get(i))
            for i, score in ranked[:k]
        ]

    def _keyword(self, tokens: list[str], depth: int) -> list[tuple[int, float]]:
        if self.keywords is None or not tokens:
            return []
        found, scores = self.keywords.retrieve([tokens], k=depth, show_progress=False, n_threads=1)
        # a passage sharing no word with the query scores 0: it is not a keyword match
        return [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if s > 0]

    def _keyword_ceiling(self, tokens: list[str]) -> float:
        """The most the query's words can score: each word's best BM25 score in any passage,
        summed (a repeated word counts again, as it does in the query's own scores)."""
        assert self.keywords is not None  # asked only after a keyword match
        _, scores = self.keywords.retrieve(
            [[token] for token in tokens], k=1, show_progress=False, n_threads=1
        )
        return float(scores.sum())

    def _dense(self, query: str, depth: int) -> list[tuple[int, float]]:
        vector = self.embedder.embed_query(query)
        scores, found = self.vectors.search(vector, depth)
        return [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if i >= 0]
