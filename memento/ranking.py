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

The defaults were chosen on the LoCoMo dev set (categories 1-4, n=760, R@10; the data and how to
get it: docs/benchmarks.md) with leave-one-conversation-out (LOCO) over its 5 conversations, each
on a plateau rather than a peak; docs/ranking-weights.md holds the grids.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import cached_property
from typing import Any, Dict, Optional


@dataclass(frozen=True)
class RankingSettings:
    """Every weight of recall. Each default sits on a plateau of the LoCoMo dev set's R@10 chosen with
    leave-one-conversation-out; the grids that chose them are in docs/ranking-weights.md and
    bench/results/locomo_sweep.json (`python bench/locomo.py --sweep` re-runs the choice)."""
    # bm25 column weights of memories_fts (text, tags, context). context = the previous memory's text
    # in the thread: a reply is found through the turn it answers.
    text_weight: float = 1.0
    tag_weight: float = 0.5
    context_weight: float = 0.5
    # Fusion weights: keyword part bm25/best (best = 1), vector part the raw cosine. The vector
    # weight depends on the model's spread of similarities: see for_model() below.
    w_keyword: float = 1.0
    w_vector: float = 1.0
    # Neighbour smoothing: a memory gets this share of its best thread neighbour's fused score;
    # keyword_gamma in the keyword statement (minimal tier, mode="keyword"), gamma in the hybrid one.
    gamma: float = 0.3
    keyword_gamma: float = 0.6
    # Each side contributes max(k, candidates) candidates (their thread neighbours join them): R@10
    # is flat from 20 to 50, and 20 costs less time.
    candidates: int = 20
    # A query word held by more than this share of the memories is left out of the keyword search
    # when a rarer word of the query is in the store: bm25 weighs such a word little (idf ~ log(1 /
    # share)), yet FTS5 walks and scores every memory holding it, the most of a big store's recall
    # time. Counted per query up to the threshold (memento/word_counts.py). 1.0 (default): every word is
    # searched; on the dev set 0.02 cost 0.067 keyword R@10, 0.2 still 0.006 (bench/results/scale.json).
    common_word_share: float = 1.0
    # Keyword search reads overfetch_factor x candidates matches, then drops expired and superseded
    # ones; only when fewer than `candidates` are left (over half of the best matches hidden) does
    # it search again with every hidden memory left out inside the scan (sql/queries/recall_parts.sql).
    overfetch_factor: int = 2
    # Vector search: hamming-KNN list = prefilter_factor x candidates, then exact cosine.
    prefilter_factor: int = 2
    # A partitioned store (memento/vectors/partitions.py): the cells of this many centroids nearest the
    # query are searched, a hamming-KNN list of cell_prefilter_factor x candidates taken in each
    # (bench/scale.py; bench/scale_quality.py for the dev set).
    probe_cells: int = 16
    cell_prefilter_factor: float = 0.5
    # A filter passing at most this many memories is scored exactly (every filtered row's cosine).
    exact_limit: int = 2_000
    # Boosts: a memory's fused score is multiplied by 1 + w_speaker when the question names its speaker
    # (a question naming a person asks what that person said; the name, in about half the turns,
    # weighs almost nothing in bm25) and by + w_time more when the question asks when and the memory
    # names a time (memento/time_cues.py). keyword_* in the keyword statement, the others in the hybrid
    # one, whose cosine part lifts every turn of the named speaker alike and so needs a far smaller
    # factor. Chosen with bench/locomo_boosts.py: the best R@10 whose cost on questions naming the
    # wrong person (LoCoMo's adversarial category) stays under 0.01 (docs/ranking-weights.md).
    w_speaker: float = 0.1
    w_time: float = 0.5
    keyword_w_speaker: float = 3.0
    keyword_w_time: float = 1.0
    # A pinned memory's score is multiplied by 1 + pin_boost (sign-aware, see above): it ranks above
    # unpinned memories that score up to 25% more before the boost. 0 = pins do not rank.
    pin_boost: float = 0.25

    def params(self) -> Dict[str, Any]:
        return self._params

    @cached_property
    def _params(self) -> Dict[str, Any]:  # asdict() deep-copies: ~40 us a recall when rebuilt each time
        return asdict(self)


DEFAULT = RankingSettings()
# all-MiniLM-L6-v2 (full, and its int8 form in tiny) spreads similarities less than
# paraphrase-MiniLM-L3-v2 (light): its cosine needs twice the weight; light's plateau lies at a
# slightly larger neighbour share (docs/ranking-weights.md).
_BY_MODEL = {"all-MiniLM-L6-v2": replace(DEFAULT, w_vector=2.0),
             "all-MiniLM-L6-v2-int8": replace(DEFAULT, w_vector=2.0),
             "paraphrase-MiniLM-L3-v2": replace(DEFAULT, gamma=0.4)}


def for_model(model_id: Optional[str]) -> RankingSettings:
    """The default settings for a store whose vectors come from `model_id` (None: keyword-only)."""
    return _BY_MODEL.get(model_id, DEFAULT) if model_id else DEFAULT


@dataclass(frozen=True)
class RecallRequest:
    """One validated recall, ready for SQL (built by store.Memento.recall, completed by recall.run):
    with a RankingSettings, the one source of the recall statements' named parameters."""
    query: str
    match: Optional[str]       # safe FTS5 expression (memento/fts_query.py); None: no searchable word
    k: int
    mode: str                  # "keyword", "hybrid" or "vector"
    tags: Optional[str] = None      # JSON array of normalized tags (all required), or None
    since: Optional[str] = None     # ISO-8601 UTC bounds on created_at, or None
    until: Optional[str] = None
    thread: Optional[str] = None    # only memories of this thread, or None
    qvec: Optional[bytes] = None    # the query's vector in stored form: the caller's, or the model's
    model: Optional[str] = None     # the store's embedding model (None: keyword-only)
    top: Optional[str] = None       # the split scan's best keyword matches (split_scan.py); None: the
                                    # statement searches itself
    query_names: Optional[str] = None   # JSON array: the question's words and word runs, folded as names
    asks_when: bool = False             # the question asks when (memento/time_cues.py)
    now: Optional[str] = None       # ISO-8601 UTC: memories with expires_at <= now are left out
    include_superseded: bool = False     # False: memories with superseded_by set are left out
    half_life_days: Optional[float] = None  # recency decay (None: none), age counted up to as_of
    as_of: Optional[str] = None          # ISO-8601 UTC; None: now
    hidden: Optional[int] = None         # how many memories are expired/superseded (None: not counted)
    any_hidden: bool = True              # False: none is (the statements then read no row to check)
    partitioned: bool = False            # the store's vectors are in cells (vectors/partitions.py)

    def params(self, settings: RankingSettings) -> Dict[str, Any]:
        """The named parameters of the recall statements (recall_keyword.sql, recall_hybrid.sql and the
        split scan's best_matches_between), built here and nowhere else."""
        return {**settings.params(), "match": self.match, "k": self.k, "tags": self.tags,
                "since": self.since, "until": self.until, "thread": self.thread,
                "now": self.now, "include_superseded": int(self.include_superseded),
                "hidden": self.hidden or 0, "any_hidden": int(self.any_hidden),
                "half_life_days": self.half_life_days, "as_of": self.as_of or self.now,
                "candidates": max(self.k, settings.candidates),
                "overfetch": settings.overfetch_factor * max(self.k, settings.candidates),
                "filtering": int(any(f is not None for f in (self.tags, self.since, self.until, self.thread))),
                "prefilter": max(1, round(max(self.k, settings.candidates) * (
                    settings.cell_prefilter_factor if self.partitioned else settings.prefilter_factor))),
                "probe": settings.probe_cells,
                "w_keyword": 0.0 if self.mode == "vector" else settings.w_keyword,
                "qvec": self.qvec, "model": self.model,
                "top": self.top, "low_id": -2 ** 63, "high_id": 2 ** 63 - 1,  # the split scan's halves
                "query_names": self.query_names, "asks_when": int(self.asks_when),
                "w_speaker": settings.keyword_w_speaker if self.mode == "keyword" else settings.w_speaker,
                "w_time": settings.keyword_w_time if self.mode == "keyword" else settings.w_time,
                "gamma": settings.keyword_gamma if self.mode == "keyword" else settings.gamma}
