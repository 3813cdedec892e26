"""Search a collection: BM25 and dense vectors, fused by reciprocal rank.

Keyword search (``bm25s``) finds rare names and codes that an embedding blurs;
the embedding (an inner product over unit vectors in ``faiss``) finds a passage
that says the same thing in other words. Each ranks its candidates and the two
lists are fused by reciprocal rank (RRF: a passage scores the sum of
``weight / (K + rank)`` over the lists it is in), which needs no score
calibration between them. A passage that shares no word with the query is not in
the keyword list at all; the dense list always ranks every passage.

The keyword list weighs half as much as the dense one and K is 20, not the usual
60: with equal weights a passage ranked first by the embedding but sharing no
word with a paraphrased question lost to near-misses that both lists placed
around fifth. Chosen on the generated test corpus (``tests/docs_corpus.py``, 40
questions), which it was also measured on, so take it as a sensible default, not a
tuned optimum: ``bench/retrieval.py`` gives recall@4 of 0.925 fused, 0.85 dense
and 0.80 BM25 at 1,762 chunks; at 59 chunks, 0.925 fused against 1.0 dense.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from minichat.docs.chunks import Chunk
from minichat.docs.embedder import Embedder, missing
from minichat.errors import InputError

if TYPE_CHECKING:
    import numpy as np

Mode = Literal["fused", "bm25", "dense"]
MODES: tuple[Mode, ...] = ("fused", "bm25", "dense")
KEYWORDS_VERSION = 1  # how text becomes BM25 terms; a collection records it
TOP_K = 4
RRF_K = 20  # ranks past the first few weigh about the same
KEYWORD_WEIGHT = 0.5  # the keyword list's vote beside the dense list's 1.0
DEPTH = 50  # candidates each retriever hands to the fusion
# a question, not a document: longer is refused rather than embedded in hundreds of pieces
MAX_QUERY_CHARS = 20_000
_LONE_SURROGATES = re.compile("[\ud800-\udfff]")  # an argument that is not UTF-8


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # what ranked it: the fused RRF score, BM25 score or cosine similarity
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
        keyword = self._keyword(query, depth) if mode != "dense" else []
        dense = self._dense(query, depth) if mode != "bm25" else []
        keyword_rank = {i: rank for rank, (i, _) in enumerate(keyword, 1)}
        dense_rank = {i: rank for rank, (i, _) in enumerate(dense, 1)}
        if mode == "fused":
            scores: dict[int, float] = {}
            for weight, ranks in ((KEYWORD_WEIGHT, keyword_rank), (1.0, dense_rank)):
                for i, rank in ranks.items():
                    scores[i] = scores.get(i, 0.0) + weight / (RRF_K + rank)
            ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        else:
            ranked = keyword if mode == "bm25" else dense
        return [
            Hit(self.chunks[i], score, keyword_rank.get(i), dense_rank.get(i))
            for i, score in ranked[:k]
        ]

    def _keyword(self, query: str, depth: int) -> list[tuple[int, float]]:
        tokens = keyword_tokens([query])
        if self.keywords is None or not any(tokens[0]):
            return []
        found, scores = self.keywords.retrieve(tokens, k=depth, show_progress=False, n_threads=1)
        # a passage sharing no word with the query scores 0: it is not a keyword match
        return [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if s > 0]

    def _dense(self, query: str, depth: int) -> list[tuple[int, float]]:
        vector = self.embedder.embed_query(query)
        scores, found = self.vectors.search(vector, depth)
        return [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if i >= 0]
