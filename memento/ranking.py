"""Ranking: every weight of recall in one frozen value, and the recall request that goes with it.

Both become the named parameters of sql/queries/recall_keyword.sql and recall_hybrid.sql, where
the formula lives:

    keyword part  = bm25 / best bm25 of the query        (0..1; 0 = the memory does not match)
    vector part   = cosine similarity                    (-1..1, fixed bounds; 0 = no trusted vector)
    fused         = w_keyword * keyword part + w_vector * vector part
    smoothed      = fused + gamma * max(0, fused of the previous memory, fused of the next memory)
                    (previous/next in the memory's thread; ranked over the candidates of both
                    sides plus their thread neighbours, each scored on BOTH sides exactly in the
                    hybrid statement; in the keyword statement a neighbour outside the keyword
                    candidates counts its own keyword part as 0, see recall_keyword.sql)
    factor        = 1 + pin_boost                               for a pinned memory (never decays)
                    0.5 ** (max(0, age in days) / half_life)    otherwise, when a half-life is set
                    1                                           otherwise
    final         = smoothed * factor when smoothed >= 0, else smoothed / factor
                    (dividing a negative score keeps "a bigger factor ranks higher" true for every
                    score, so an older memory never outranks an otherwise identical newer one)

Expired memories (expires_at <= now) and, unless include_superseded, superseded ones are left out
before any LIMIT, so k results still come back when many are hidden.

No score is divided by the best similarity: with fixed bounds the score is monotonic in
similarity for every query, including one whose similarities are all negative or all zero.

The defaults were chosen on the LoCoMo dev set (../shared/eval, categories 1-4, n=760, R@10)
with leave-one-conversation-out (LOCO) over its 5 conversations, each on a plateau rather than a
peak; `python bench/locomo.py --sweep` re-runs the choice and prints the tables quoted here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import cached_property
from typing import Any, Dict, Optional


@dataclass(frozen=True)
class RankingSettings:
    # bm25 column weights of memories_fts (text, tags, context). Tags at half the text's weight, as
    # before threads. context = the previous memory's text in the thread. Keyword-only dev R@10
    # (sweep, minimal tier) by context weight (rows) x keyword_gamma (columns):
    #          0.0   0.1   0.2   0.3   0.4   0.5   0.6   0.7   0.8   0.9   1.0
    #   0.0   .643  .654  .660  .670  .682  .684  .701  .703  .703  .694  .678
    #   0.25  .694  .698  .701  .707  .714  .715  .718  .721  .719  .716  .711
    #   0.5   .704  .710  .707  .713  .716  .720  .723  .722  .719  .721  .711
    #   0.75  .702  .708  .708  .712  .710  .712  .714  .712  .713  .714  .712
    #   1.0   .702  .707  .707  .711  .713  .713  .714  .713  .715  .717  .716
    # Smoothed arg-max: ctx 0.5 / keyword_gamma 0.6, dev 0.7225, LOCO 0.716 (folds pick gamma
    # 0.6-0.8 at ctx 0.5; bench/results/locomo_sweep.json).
    text_weight: float = 1.0
    tag_weight: float = 0.5
    context_weight: float = 0.5
    # Fusion weights: keyword part bm25/best (best = 1), vector part the raw cosine. The vector
    # weight depends on the model's spread of similarities: see for_model() below.
    w_keyword: float = 1.0
    w_vector: float = 1.0
    # Neighbour smoothing: a memory gets this share of its best thread neighbour's fused score;
    # keyword_gamma in the keyword statement (minimal tier, mode="keyword"), gamma in the hybrid one.
    # Hybrid dev R@10 by gamma (rows) x w_vector (columns), one grid for both vector tiers:
    #               0.25  0.35   0.5   0.7   1.0   1.4   2.0   2.8   4.0
    #   full  0.0   .714  .717  .724  .727  .734  .735  .733  .726  .698
    #   (L6)  0.2   .718  .721  .727  .735  .740  .741  .743  .741  .728
    #         0.3   .718  .720  .729  .734  .740  .743  .748  .749  .734
    #         0.4   .725  .729  .734  .738  .742  .740  .746  .748  .732
    #         0.6   .729  .730  .732  .732  .734  .742  .741  .744  .730
    #         1.0   .724  .726  .732  .737  .733  .733  .732  .729  .705
    #   light 0.0   .714  .715  .719  .716  .720  .719  .714  .707  .694
    #   (L3)  0.2   .725  .726  .731  .735  .731  .732  .733  .734  .719
    #         0.3   .725  .724  .733  .734  .736  .735  .727  .735  .725
    #         0.4   .721  .726  .728  .739  .740  .732  .734  .737  .731
    #         0.6   .729  .730  .731  .734  .732  .733  .734  .728  .721
    #         1.0   .721  .724  .727  .724  .725  .720  .719  .710  .694
    # (rows 0.1, 0.5, 0.7-0.9: bench/results/locomo_sweep.json.) Smoothed arg-max: full gamma 0.3 /
    # w 2.0 (dev 0.748, LOCO 0.746), light gamma 0.4 / w 1.0 (dev 0.740, LOCO 0.733). Without
    # threads (full): w 2.0, 0.674 (LOCO 0.674); 0 (keyword only) 0.609. dev - LOCO is mostly
    # chance: re-running the whole choice on resampled questions (1,000 times) gives a gap of
    # 0.0127 +- 0.0077 (full), 0.0123 +- 0.0072 (light), 0.0093 +- 0.0065 (minimal); the dev
    # conversations disagree (in full, one is best near gamma 0.1, another at 0.7 or more).
    gamma: float = 0.3
    keyword_gamma: float = 0.6
    # Each side contributes max(k, candidates) candidates (their thread neighbours join them). Dev
    # R@10 with threads is the same with 20, 30 and 50 (at keyword_gamma 0.7 and light's gamma 0.3:
    # minimal 0.723, light 0.736, full 0.748; full without threads 0.674 vs 0.677 with 50), and 20 costs
    # ~25% less time than 50 (hybrid, 10k memories).
    candidates: int = 20
    # Keyword search reads overfetch_factor x candidates matches, then drops expired and superseded
    # ones; only when fewer than `candidates` are left (over half of the best matches hidden) does
    # it search again with every hidden memory left out inside the scan (sql/queries/recall_parts.sql).
    overfetch_factor: int = 2
    # Vector search: hamming-KNN list = prefilter_factor x candidates, then exact cosine.
    prefilter_factor: int = 2
    # A filter passing at most this many memories is scored exactly (every filtered row's cosine).
    exact_limit: int = 2_000
    # A pinned memory's score is multiplied by 1 + pin_boost (sign-aware, see above): it ranks above
    # unpinned memories that score up to 25% more before the boost. 0 = pins do not rank. No memory
    # of the dev set is pinned, so it does not change the numbers above.
    pin_boost: float = 0.25

    def params(self) -> Dict[str, Any]:
        return self._params

    @cached_property
    def _params(self) -> Dict[str, Any]:  # asdict() deep-copies: ~40 us a recall when rebuilt each time
        return asdict(self)


DEFAULT = RankingSettings()
# all-MiniLM-L6-v2 (full, and its int8 form in tiny, not swept separately) spreads similarities
# less than paraphrase-MiniLM-L3-v2 (light): its cosine needs twice the weight; light's plateau
# lies at a slightly larger neighbour share (sweep above).
_BY_MODEL = {"all-MiniLM-L6-v2": replace(DEFAULT, w_vector=2.0),
             "all-MiniLM-L6-v2-int8": replace(DEFAULT, w_vector=2.0),
             "paraphrase-MiniLM-L3-v2": replace(DEFAULT, gamma=0.4)}


def for_model(model_id: Optional[str]) -> RankingSettings:
    """The default settings for a store whose vectors come from `model_id` (None: keyword-only)."""
    return _BY_MODEL.get(model_id, DEFAULT) if model_id else DEFAULT


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
    now: Optional[str] = None       # ISO-8601 UTC: memories with expires_at <= now are left out
    include_superseded: bool = False     # False: memories with superseded_by set are left out
    half_life_days: Optional[float] = None  # recency decay (None: none), age counted up to as_of
    as_of: Optional[str] = None          # ISO-8601 UTC; None: now
    hidden: Optional[int] = None         # how many memories are expired/superseded (None: not counted)
    any_hidden: bool = True              # False: none is (the statements then read no row to check)

    def params(self, settings: RankingSettings) -> Dict[str, Any]:
        """Named parameters for the recall statements (qvec, model: added by the vector side)."""
        return {**settings.params(), "match": self.match, "k": self.k, "tags": self.tags,
                "since": self.since, "until": self.until, "thread": self.thread,
                "now": self.now, "include_superseded": int(self.include_superseded),
                "hidden": self.hidden or 0, "any_hidden": int(self.any_hidden),
                "half_life_days": self.half_life_days, "as_of": self.as_of or self.now,
                "candidates": max(self.k, settings.candidates),
                "overfetch": settings.overfetch_factor * max(self.k, settings.candidates),
                "filtering": int(any(f is not None for f in (self.tags, self.since, self.until, self.thread))),
                "prefilter": settings.prefilter_factor * max(self.k, settings.candidates),
                "w_keyword": 0.0 if self.mode == "vector" else settings.w_keyword,
                "top": None, "low_id": -2 ** 63, "high_id": 2 ** 63 - 1,  # the split scan's (keyword_scan.py)
                "gamma": settings.keyword_gamma if self.mode == "keyword" else settings.gamma}
