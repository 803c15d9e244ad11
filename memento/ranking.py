"""Ranking: every weight of recall in one frozen value, and the recall request that goes with it.

Both become the named parameters of sql/queries/recall_keyword.sql and recall_hybrid.sql, where
the formula lives:

    keyword part  = bm25 / best bm25 of the query        (0..1; 0 = the memory does not match)
    vector part   = cosine similarity                    (-1..1, fixed bounds; 0 = no trusted vector)
    fused         = w_keyword * keyword part + w_vector * vector part
    smoothed      = fused + gamma * max(0, fused of the previous memory, fused of the next memory)
                    (previous/next in the memory's thread; ranked over the candidates of both
                    sides plus their thread neighbours, each scored on BOTH sides in the
                    hybrid statement (exactly: recall_hybrid.sql, memento/bm25.py); in the
                    keyword statement a neighbour outside the keyword candidates counts its own
                    keyword part as 0, see recall_keyword.sql)
                    + w_thread * max(0, best fused of a ranked memory of its thread)   (hybrid)
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

import math
from dataclasses import asdict, dataclass, fields, replace
from functools import cached_property
from typing import Any, Dict, Optional

from .errors import InvalidInputError

# The largest count a setting may hold: counts become LIMITs and products of LIMITs in SQL, which
# must stay inside SQLite's 64-bit integers; far beyond any useful value.
_MAX_COUNT = 2**31 - 1


def _check_fields(value: Any, floors: Dict[str, float], highs: Dict[str, float],
                  positive: tuple = ()) -> None:
    """Every number of a settings value is a real number (no bool, NaN or infinity: each reaches SQL
    as a named parameter), at least its floor (default: any), at most its high, above 0 if positive;
    an int field is a count up to _MAX_COUNT. Raises InvalidInputError naming the field."""
    for f in fields(value):
        v, name = getattr(value, f.name), f"{type(value).__name__}.{f.name}"
        if f.type in ("float", "int"):
            count = f.type == "int"
            if isinstance(v, bool) or not isinstance(v, int if count else (int, float)) or not math.isfinite(v):
                raise InvalidInputError(f"{name} must be a finite {'integer' if count else 'number'}, got {v!r}")
            low, high = floors.get(f.name, -math.inf), highs.get(f.name, _MAX_COUNT if count else math.inf)
            if v < low or v > high or (f.name in positive and v <= 0):
                bound = "above 0" if f.name in positive else f"at least {low:g}"
                raise InvalidInputError(f"{name} must be {bound}" + (f" and at most {high}" if high < math.inf else "")
                                        + f", got {v!r}")
        elif f.type == "Relevance" and not isinstance(v, Relevance):
            raise InvalidInputError(f"{name} must be a Relevance, got {v!r}")


@dataclass(frozen=True)
class Relevance:
    """How a hit's relevance (0..1) is estimated, and the floor below which recall leaves it out.
    relevance = sigmoid(bias + coverage * ln(c + 0.05) + unseen * u + cosine * s) * sigmoid(hit_bias + share * h),
    the formula and its inputs in sql/queries/recall_parts.sql (part hits). Fitted with logistic
    regressions on the LoCoMo dev set (bench/locomo_relevance.py; docs/relevance.md): the gate on
    questions about the store (with and without the people's names) against questions about other
    conversations, the hit term on which hits answer a question about the store."""
    bias: float = 0.0
    coverage: float = 0.0
    unseen: float = 0.0
    cosine: float = 0.0
    hit_bias: float = 0.0
    share: float = 0.0
    # recall(min_score=None) returns nothing when its best hit's relevance is below this ("nothing
    # relevant is stored"), every hit otherwise; 0: always every hit. The highest floor whose R@10
    # cost stays within a budget on dev questions with AND without names: 0.01, or less where a
    # floor chosen so costs more than 0.01 on the held-out conversation (bench/locomo_relevance.py
    # --max-cost; the budget is in bench/results/locomo_relevance_<tier>.json's rule).
    floor: float = 0.0

    def __post_init__(self) -> None:
        # share >= 0: relevance then falls down the list, as it must (the hit's share falls).
        _check_fields(self, {"share": 0.0, "floor": 0.0}, {"floor": 1.0})

    def params(self) -> Dict[str, float]:
        return {"r_bias": self.bias, "r_coverage": self.coverage, "r_unseen": self.unseen,
                "r_cosine": self.cosine, "r_hit_bias": self.hit_bias, "r_share": self.share}


# The keyword statement's (bench/results/locomo_relevance_minimal.json): every tier's mode="keyword".
KEYWORD_RELEVANCE = Relevance(bias=2.856, coverage=2.508, unseen=-2.864, hit_bias=-7.312, share=6.614, floor=0.04)


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
    # A query word held by more than common_word_share of the memories, or by more than
    # common_word_holders whatever the store's size, is not searched, only scored in the memories
    # holding a rarer word of the query (memento/rare_words.py), as long as the searched words'
    # holders number at least rare_word_depth x overfetch. common_word_share 1.0: every word searched.
    # The share changes nothing up to 100k memories; the holders bound the search's work by the query
    # in a bigger store (at 1M memories 20,000 is 2%: keyword p50 42.6 -> 28.5-32.9 ms wall).
    # bench/scale_quality.py (the dev set among other conversations' turns) and bench/scale.py.
    common_word_share: float = 0.05
    common_word_holders: int = 20_000
    # The hybrid statement scores its pool's other members (vector candidates, neighbours) on the
    # keyword side exactly, by a walk of every match of the question (recall_hybrid.sql, pool_bm25)
    # while the question's words are held by at most pool_walk_holders memories, else by
    # memento_bm25 from each member's own columns (memento/bm25.py: the same scores, ~15 us a member
    # at any size; the walk costs ~80 ns a holder, 5-8 ms at 100k memories). A speed choice only.
    pool_walk_holders: int = 10_000
    rare_word_depth: int = 5
    # Keyword search reads overfetch_factor x candidates matches, then drops expired and superseded
    # ones; only when fewer than `candidates` are left (over half of the best matches hidden) does
    # it search again with every hidden memory left out inside the scan (sql/queries/recall_parts.sql).
    overfetch_factor: int = 2
    # Vector search, a store without cells: hamming-KNN list = prefilter_factor x candidates, then
    # exact cosine. A partitioned store (memento/vectors/partitions.py): the cells of the probe_cells
    # centroids nearest the query, a list of cell_prefilter_factor x candidates by int8 distance in
    # each, then exact cosine. Chosen for recall@10 against exact KNN >= 0.95 at the least cost
    # (bench/ann_recall.py, distinct vectors: 10k 0.86 -> 0.97 for 2 -> 6; 100k 0.93 / 0.95 / 0.96 and
    # 1M 0.96 / 0.96 / 0.97 for 16 / 24 / 32 cells); the dev set's R@10 does not move with them
    # (bench/locomo.py --setting, bench/scale_quality.py).
    prefilter_factor: int = 6
    probe_cells: int = 32
    cell_prefilter_factor: float = 0.5
    # A filter passing at most this many memories is scored exactly (every filtered row's cosine).
    exact_limit: int = 2_000
    # Boosts: a memory's fused score is multiplied by 1 + w_speaker when the question names its speaker
    # (a question naming a person asks what that person said; the name, in about half the turns,
    # weighs almost nothing in bm25) and by + w_time more when the question asks when and the memory
    # names a time (memento/time_cues.py). keyword_* in the keyword statement, the others in the hybrid
    # one, whose cosine part lifts every turn of the named speaker alike: there the speaker factor
    # applies only when the query's best keyword match was said by a person it names
    # (recall_hybrid.sql, speaker_gate), else a question naming the wrong person buries the right
    # memory. Chosen with bench/locomo_boosts.py: the best R@10 whose cost on questions naming the
    # wrong person (LoCoMo's adversarial category) stays under 0.01 (docs/ranking-weights.md).
    w_speaker: float = 0.1
    w_time: float = 0.5
    keyword_w_speaker: float = 3.0
    keyword_w_time: float = 1.0
    # Dates (keyword statement; w_date below for the hybrid one): a question naming a month or a year
    # ("in May 2023", "on 7 July, 2023", "in June") also takes the best matches stored then, and a
    # memory stored then has its fused score multiplied by 1 + keyword_w_date (memento/time_cues.py
    # dates_named; recall_parts.sql, dated_matches and date_factor). 0 = off.
    # bench/results/locomo_boosts_minimal_date.json: every fold picks 1-2; dev and LOCO R@10 0.7386 ->
    # 0.7491 (temporal .8574 -> .8766, single-hop .8421 -> .8541, the others the same), adversarial
    # .8734 -> .8903.
    keyword_w_date: float = 1.0
    # Dates in the hybrid and pocket statements (the same parts of recall_parts.sql):
    # the keyword side also takes the best matches stored in the months or years the question names,
    # and a memory stored then has its fused score x (1 + w_date). 0 = off.
    # bench/results/locomo_boosts_full_date_cand_wide.json (bench/locomo_boosts.py --off-at-zero): full
    # dev R@10 0.7754 -> 0.7960, LOCO 0.7947 (was 0.7745; folds pick 1, one 2; temporal .8766 -> .9172,
    # single-hop .8828 -> .9027, the others and adversarial the same); tiny 0.7807 -> 0.7993 (LOCO
    # 0.7980), light 0.7656 -> 0.7854 (rule picks 2, LOCO 0.7841). The factor alone: full LOCO 0.7872
    # (locomo_boosts_full_date.json).
    w_date: float = 1.0
    # The dated search walks every match of the question's words and keeps those stored then (FTS5
    # cannot seek by date): it runs only while the words are held by at most this many memories in
    # all (a walk of ~1-2 ms). Beyond, in a big store, a dated question keeps the factor and the
    # keyword side's own candidates (bench/scale.py: without this, a dated question at 1M memories
    # walked every match the rare-word search avoids).
    date_search_holders: int = 10_000
    # Thread channel (hybrid statement only; the keyword statement, whose dev conversations disagreed
    # on it, and the pocket one have none: pocket's LOCO fell 0.7606 -> 0.7579 with it,
    # bench/results/locomo_boosts_pocket_date_thread.json): a memory's score gains w_thread x the best fused score
    # among the ranked memories of its thread (0 without a thread): a question about a conversation
    # finds the turns of the conversation that answers it best. 0 = off; on for every model, chosen
    # with its gated speaker factor (alone it gained too little).
    w_thread: float = 0.0
    # A pinned memory's score is multiplied by 1 + pin_boost (sign-aware, see above): it ranks above
    # unpinned memories that score up to 25% more before the boost. 0 = pins do not rank.
    pin_boost: float = 0.25
    # Relevance (see Relevance above): keyword_relevance in the keyword statement, relevance in the
    # hybrid one.
    relevance: Relevance = Relevance()
    keyword_relevance: Relevance = KEYWORD_RELEVANCE
    # Below this many memories recall applies no floor (relevance is still reported): the gate
    # was fitted on conversations of 400-700 turns, and idf means little in a handful of memories.
    floor_from: int = 50

    def __post_init__(self) -> None:
        # Weights and counts are never negative (a negative weight would invert what the statement
        # means, e.g. bury the memories a question names); the list sizes need at least one, and
        # common_word_share is a share of the store.
        _check_fields(self, dict.fromkeys((f.name for f in fields(self)), 0.0), {"common_word_share": 1.0},
                      positive=("candidates", "rare_word_depth", "common_word_holders", "pool_walk_holders",
                                "overfetch_factor", "prefilter_factor", "probe_cells", "cell_prefilter_factor",
                                "common_word_share"))

    def params(self) -> Dict[str, Any]:
        return self._params

    @cached_property
    def _params(self) -> Dict[str, Any]:  # asdict() deep-copies: ~40 us a recall when rebuilt each time
        flat = asdict(self)
        del flat["relevance"], flat["keyword_relevance"]  # bound per statement by RecallRequest.params
        return flat

    def relevance_for(self, mode: str) -> Relevance:
        """The relevance weights and floor of recall in this mode."""
        return self.keyword_relevance if mode == "keyword" else self.relevance

    def date_weight_for(self, mode: str) -> float:
        """The date factor's weight of recall in this mode (0: the question's dates are not read)."""
        return self.keyword_w_date if mode == "keyword" else self.w_date

    def floor_for(self, mode: str, rows: int) -> float:
        """recall's relevance floor in this mode for a store of `rows` memories. mode="vector" has
        none: it reads no keyword evidence, which the hybrid gate was fitted with. Nor has a store of
        fewer than floor_from memories: its word statistics say too little (in a store of two
        memories every word either is in both, which bm25 weighs ~0, or is unseen)."""
        return 0.0 if mode == "vector" or rows < self.floor_from else self.relevance_for(mode).floor


DEFAULT = RankingSettings()
# all-MiniLM-L6-v2 (full, and its int8 form in tiny) spreads similarities less than
# paraphrase-MiniLM-L3-v2 (light): its cosine needs twice the weight; light's plateau lies at a
# slightly larger neighbour share (docs/ranking-weights.md). Each model's speaker factor and thread
# channel were chosen together, with the speaker gate (bench/results/locomo_boosts_<tier>_gated.json).
# The hybrid statement's relevance is fitted per model (bench/results/locomo_relevance_<tier>.json):
# the gate leans on the best cosine, whose spread differs from model to model. tiny's floor is
# chosen with an R@10 budget of 0.008 (--max-cost): at 0.01 (floor 0.02) its held-out name-free cost
# is 0.011; at 0.008 (0.015) it is 0.008, and 39% of foreign named questions return nothing (LOCO 42%).
# full's budget is 0.009: on dev the same floor as with 0.01, but held out name-free questions cost
# 0.007, not 0.0103 (the folds' floors are lower).
_BY_MODEL = {
    "all-MiniLM-L6-v2": replace(DEFAULT, w_vector=2.0, w_speaker=1.2, w_thread=0.8, relevance=Relevance(
        bias=-2.84, coverage=1.594, unseen=-2.431, cosine=10.857, hit_bias=-11.097, share=10.518, floor=0.03)),
    "all-MiniLM-L6-v2-int8": replace(DEFAULT, w_vector=2.0, w_speaker=1.2, w_thread=0.8, relevance=Relevance(
        bias=-2.945, coverage=1.628, unseen=-2.482, cosine=11.052, hit_bias=-10.908, share=10.307, floor=0.015)),
    "paraphrase-MiniLM-L3-v2": replace(DEFAULT, gamma=0.4, w_speaker=1.6, w_thread=0.8, relevance=Relevance(
        bias=-2.518, coverage=1.55, unseen=-2.416, cosine=10.169, hit_bias=-9.914, share=9.215, floor=0.025))}


# The pocket tier's cosine is of static token vectors (memento/pocket/), re-scoring keyword
# candidates and their neighbours (recall_pocket.sql). Its keyword part carries the keyword
# statement's boosts (keyword_w_*); gamma x w_vector were chosen on the same dev set with them
# (bench/results/locomo_sweep_pocket.json, locomo_boosts_pocket_keyword_part.json), then the boost
# factor on the whole score, w_speaker / w_time, by bench/locomo_boosts.py's rule: a time share of
# 0.5 passes it (bench/results/locomo_boosts_pocket.json; docs/ranking-weights.md). Ungated, no
# speaker share did (0.05 cost questions naming the wrong person 0.013 R@10); with the hybrid
# statement's speaker gate, 0.2 did (locomo_boosts_pocket_date_gated.json: dev and LOCO 0.7619 ->
# 0.7639, adversarial -0.004) until the question's vector left out the stored speakers' names
# (pocket/index.py, query_vector): then none does, and w_time 0.5 stays
# (locomo_boosts_pocket_drop_boosts.json: LOCO 0.7641, adversarial 0.850; every fold picks
# w_speaker 0, w_time 0.25 or 0.5, both 0.7641). The dates as in the hybrid statement, w_date 1
# (locomo_boosts_pocket_date.json: dev 0.7483 -> 0.7619, LOCO 0.7606; folds pick 1, one 2;
# temporal .8686 -> .8900, single-hop .8385 -> .8553, adversarial .8080 -> .8291).
# Its relevance is fitted on its own statement (bench/results/locomo_relevance_pocket.json): the gate's
# cosine is the best static cosine among the candidates and their neighbours.
POCKET = replace(DEFAULT, w_vector=2.0, gamma=0.3, w_speaker=0.0, w_time=0.5, w_date=1.0, relevance=Relevance(
    bias=2.55, coverage=2.481, unseen=-2.86, cosine=0.39, hit_bias=-9.146, share=8.394, floor=0.04))


def for_model(model_id: Optional[str], tier: Optional[str] = None) -> RankingSettings:
    """The default settings for a store whose vectors come from `model_id` (None: keyword-only); the
    pocket tier's own whatever its table."""
    if tier == "pocket":
        return POCKET
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
    source: Optional[str] = None    # only memories whose thread starts with source + "/" (validate.source)
    qvec: Optional[bytes] = None    # the query's vector in stored form: the caller's, or the model's
    model: Optional[str] = None     # the store's embedding model (None: keyword-only)
    top: Optional[str] = None       # the split scan's best keyword matches (split_scan.py); None: the
                                    # statement searches itself
    query_names: Optional[str] = None   # JSON array: the question's words and word runs, folded as names
    speakers: Optional[str] = None      # JSON array: the stored speakers named so (None: not listed, too
                                        # many; the statement folds each memory's speaker itself)
    asks_when: bool = False             # the question asks when (memento/time_cues.py)
    query_dates: Optional[str] = None   # JSON array: [from, to) created_at bounds of the months/years it names
    date_search: bool = False           # the dated search runs (see RankingSettings.date_search_holders)
    now: Optional[str] = None       # ISO-8601 UTC: memories with expires_at <= now are left out
    include_superseded: bool = False     # False: memories with superseded_by set are left out
    half_life_days: Optional[float] = None  # recency decay (None: none), age counted up to as_of
    as_of: Optional[str] = None          # ISO-8601 UTC; None: now
    hidden: Optional[int] = None         # how many memories are expired/superseded (None: not counted)
    any_hidden: bool = True              # False: none is (the statements then read no row to check)
    idf_total: float = 0.0               # the query's words' weight, and the part of it no memory
    idf_unseen: float = 0.0              # holds (memento/relevance.py)
    rows: int = 0                        # how many memories the keyword index holds
    min_score: Optional[float] = None    # hits below this relevance are left out; None: the mode's floor,
                                         # which leaves out all of them or none (recall_parts.sql, hits)
    partitioned: bool = False            # the store's vectors are in cells (vectors/partitions.py)

    def params(self, settings: RankingSettings) -> Dict[str, Any]:
        """The named parameters of the recall statements (recall_keyword.sql, recall_hybrid.sql and the
        split scan's best_matches_between), built here and nowhere else."""
        relevance = settings.relevance_for(self.mode)
        return {**settings.params(), "match": self.match, "k": self.k, "tags": self.tags,
                "since": self.since, "until": self.until, "thread": self.thread,
                **self._source_range(),
                "now": self.now, "include_superseded": int(self.include_superseded),
                "hidden": self.hidden or 0, "any_hidden": int(self.any_hidden),
                "half_life_days": self.half_life_days, "as_of": self.as_of or self.now,
                "candidates": max(self.k, settings.candidates),
                "overfetch": settings.overfetch_factor * max(self.k, settings.candidates),
                "filtering": int(any(f is not None for f in (self.tags, self.since, self.until, self.thread,
                                                             self.source))),
                "prefilter": max(1, round(max(self.k, settings.candidates) * (
                    settings.cell_prefilter_factor if self.partitioned else settings.prefilter_factor))),
                "probe": settings.probe_cells, "partitioned": int(self.partitioned),
                "w_keyword": 0.0 if self.mode == "vector" else settings.w_keyword,
                "qvec": self.qvec, "model": self.model,
                "top": self.top, "low_id": -2 ** 63, "high_id": 2 ** 63 - 1,  # the split scan's halves
                "pool_terms": None,  # past pool_walk_holders, memento_bm25's question (memento/recall.py)
                "vector_top": None,  # the vector side's candidates when found beside the keyword search
                "query_names": self.query_names, "speakers": self.speakers, "asks_when": int(self.asks_when),
                "query_dates": self.query_dates, "date_search": int(self.date_search),
                "w_speaker": settings.keyword_w_speaker if self.mode == "keyword" else settings.w_speaker,
                "w_time": settings.keyword_w_time if self.mode == "keyword" else settings.w_time,
                "w_date": settings.date_weight_for(self.mode),
                "gamma": settings.keyword_gamma if self.mode == "keyword" else settings.gamma,
                **relevance.params(), "idf_total": self.idf_total, "idf_unseen": self.idf_unseen,
                "min_score": self.min_score, "floor": settings.floor_for(self.mode, self.rows)}

    def _source_range(self) -> Dict[str, Optional[str]]:
        """The source filter as a range of thread names, [source + "/", source + "0"): "0" is the
        character after "/", so under SQLite's binary order the range holds exactly the names that
        start with source + "/", whatever characters the source holds (no LIKE, nothing to escape),
        and it is one range seek on the thread index."""
        if self.source is None:
            return {"source_from": None, "source_to": None}
        return {"source_from": self.source + "/", "source_to": self.source + "0"}
