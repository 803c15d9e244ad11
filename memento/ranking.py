"""Ranking: every weight of recall in one frozen value, and the recall request that goes with it.

Both become the named parameters of sql/queries/recall_keyword.sql and recall_hybrid.sql, where
the formula lives:

    keyword part  = bm25 / best bm25 of the query        (0..1; 0 = the memory does not match)
    vector part   = cosine similarity                    (-1..1, fixed bounds; 0 = no trusted vector)
    fused         = w_keyword * keyword part + w_vector * vector part
    final         = fused + gamma * max(0, fused of the previous memory, fused of the next memory)
                    (previous/next in the memory's thread; ranked over the candidates of both
                    sides plus their thread neighbours, each scored on BOTH sides exactly)

No score is divided by the best similarity: with fixed bounds the score is monotonic in
similarity for every query, including one whose similarities are all negative or all zero.

The defaults were chosen on the LoCoMo dev set (../shared/eval, categories 1-4, n=760, R@10)
with leave-one-conversation-out (LOCO) over its 5 conversations, each on a plateau rather than a
peak; `python bench/locomo.py --sweep` re-runs the choice and prints the tables quoted here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional


@dataclass(frozen=True)
class RankingSettings:
    # bm25 column weights of memories_fts (text, tags, context). Tags at half the text's weight,
    # as before threads. context (the previous memory's text in the thread) at 0.5: keyword-only
    # dev R@10 with threads, context weight 0.25: see --sweep; 0.5 sits mid-plateau.
    text_weight: float = 1.0
    tag_weight: float = 0.5
    context_weight: float = 0.5
    # Fusion weights. The vector part is the raw cosine (MiniLM similarities of relevant turns are
    # ~0.3-0.7), the keyword part bm25/best (best = 1).
    w_keyword: float = 1.0
    w_vector: float = 1.0
    # Neighbour smoothing: a memory gets this share of its best thread neighbour's fused score;
    # keyword_gamma in the keyword statement (minimal tier, mode="keyword"), gamma in the hybrid one.
    gamma: float = 0.3
    keyword_gamma: float = 0.5
    # Each side contributes max(k, candidates) candidates.
    candidates: int = 50
    # Vector search: hamming-KNN list = prefilter_factor x candidates, then exact cosine.
    prefilter_factor: int = 2
    # A filter passing at most this many memories is scored exactly (every filtered row's cosine).
    exact_limit: int = 2_000

    def params(self) -> Dict[str, Any]:
        return asdict(self)


DEFAULT = RankingSettings()


@dataclass(frozen=True)
class RecallRequest:
    """One validated recall, ready for SQL (built by store.Memento.recall)."""
    query: str
    match: Optional[str]       # safe FTS5 expression (memento/fts_query.py); None: no searchable word
    k: int
    mode: str                  # "keyword", "hybrid" or "vector"
    tags: Optional[str] = None      # JSON array of normalized tags (all required), or None
    since: Optional[str] = None     # ISO-8601 UTC bounds on created_at, or None
    until: Optional[str] = None
    thread: Optional[str] = None    # only memories of this thread, or None
    qvec: Optional[bytes] = None    # the caller's query vector in stored form, if given

    def params(self, settings: RankingSettings) -> Dict[str, Any]:
        """Named parameters for the recall statements (qvec, model: added by the vector side)."""
        return {**settings.params(), "match": self.match, "k": self.k, "tags": self.tags,
                "since": self.since, "until": self.until, "thread": self.thread,
                "candidates": max(self.k, settings.candidates),
                "prefilter": settings.prefilter_factor * max(self.k, settings.candidates),
                "w_keyword": 0.0 if self.mode == "vector" else settings.w_keyword,
                "gamma": settings.keyword_gamma if self.mode == "keyword" else settings.gamma}
