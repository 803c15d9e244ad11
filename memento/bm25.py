"""FTS5's bm25 of one memory, computed from its own indexed columns: the hybrid statement's keyword
part for the members of its pool that the keyword search did not list.

The hybrid statement (recall_hybrid.sql) ranks a pool: the keyword side's best matches, whose bm25
the search gave (:top), and the vector side's candidates and everyone's thread neighbours, which it
must score on the keyword side too. FTS5 scores only the rows a MATCH walks, and a walk of every
memory holding one of the question's words costs what the store's size costs: FTS5 counts each
word's holders again for its idf at every query (at 100k memories 5-8 ms, at 1M 33 ms, for ~80
members). So in a big store (RankingSettings.pool_walk_holders) each member is scored here instead,
from what bm25 reads, taken where it is cheap:
  - each word's idf from the index's vocabulary counts (memento/word_counts.py, kept between writes),
  - N and the average length from FTS5's averages record,
  - the member's term frequencies and length from its columns as the index holds them
    (memories_fts_source: text, tags, context), tokenized by the index's own tokenizer,
~15 us a member whatever the store's size. Same inputs, same formula and the same order of
operations as fts5_aux.c's bm25: the same double (a property test compares the two).

    terms = bm25.query_terms(conn, query)   # :pool_terms (JSON), or None: the statement walks instead
    memento_bm25(:pool_terms, text, tags, context, :text_weight, :tag_weight, :context_weight)
"""
from __future__ import annotations

import json
import math
from typing import Callable, List, Optional, Tuple

import apsw

from . import fts_query, word_counts

K1 = 1.2    # fts5_aux.c's constants
B = 0.75
FUNCTION = "memento_bm25"


def register(conn: apsw.Connection) -> None:
    """memento_bm25 on `conn` (the hybrid statement names it: it must exist even where apsw gives no
    tokenizer; query_terms is then None and the statement never calls it)."""
    conn.create_scalar_function(FUNCTION, Bm25(word_counts.tokenizer(conn)), 7, deterministic=True)


def query_terms(conn: apsw.Connection, query: str) -> Optional[str]:
    """What memento_bm25 needs of the question, as :pool_terms (JSON): each phrase of its MATCH
    expression (fts_query.build: one per keyword, in order) as the tokens FTS5 makes of it, each
    one's idf, and the index's average row length. None where it cannot be computed exactly (no
    tokenizer from apsw, an empty index, no keyword): the statement then walks the matches."""
    tokenize = word_counts.tokenizer(conn)
    words = fts_query.keywords(query)
    rows, tokens = word_counts.index_totals(conn)
    if tokenize is None or not words or rows <= 0:
        return None
    held_by = word_counts.read(conn, words)  # exact: as FTS5 counts a phrase's rows for its idf
    phrases = [tokenize(word.encode("utf-8"), apsw.FTS5_TOKENIZE_QUERY, None,
                        include_offsets=False, include_colocated=False) for word in words]
    return json.dumps({"phrases": phrases, "idf": [idf(rows, held_by[word]) for word in words],
                       "avgdl": float(tokens) / float(rows)})


def idf(rows: int, holders: int) -> float:
    """bm25's idf of a phrase held by `holders` of `rows` rows, as fts5_aux.c computes it: a value
    that is not above 0 becomes 1e-6 (so does a count above the rows, which FTS5 never reads)."""
    ratio = (rows - holders + 0.5) / (holders + 0.5)
    value = math.log(ratio) if ratio > 0 else 0.0
    return value if value > 0.0 else 1e-6


class Bm25:
    """memento_bm25(terms, text, tags, context, text_weight, tag_weight, context_weight): a memory's
    bm25 for the question `terms` describes (query_terms), negative as FTS5's (lower is better), or
    NULL when it holds none of the phrases (FTS5 would not have matched it). The columns come as
    BLOBs (CAST in the statement): the bytes FTS5 tokenized, whatever they are."""

    def __init__(self, tokenize: Optional[Callable[..., list]]):
        self._tokenize = tokenize
        self._terms: Optional[str] = None
        self._phrases: List[Tuple[str, ...]] = []
        self._idf: List[float] = []
        self._avgdl = 1.0

    def __call__(self, terms, text, tags, context, text_weight, tag_weight, context_weight):
        if self._tokenize is None or not isinstance(terms, str):
            return None
        if terms != self._terms:   # one question per statement: parsed once
            told = json.loads(terms)
            self._phrases = [tuple(phrase) for phrase in told["phrases"]]
            self._idf, self._avgdl, self._terms = told["idf"], told["avgdl"], terms
        freq = [0.0] * len(self._phrases)
        length = hits = 0
        for value, weight in ((text, text_weight), (tags, tag_weight), (context, context_weight)):
            if not isinstance(value, bytes):
                continue  # NULL: an empty column
            found = self._tokenize(value, apsw.FTS5_TOKENIZE_DOCUMENT, None,
                                   include_offsets=False, include_colocated=False)
            length += len(found)
            for i, phrase in enumerate(self._phrases):
                times = _occurrences(found, phrase)
                hits += times
                for _ in range(times):
                    freq[i] += weight  # one weight a hit, in column order, as FTS5 sums them
        if not hits:  # a hit in a column weighted 0 still matches (score -0.0), as in FTS5
            return None
        score = 0.0
        for weight_idf, f in zip(self._idf, freq):
            score += weight_idf * ((f * (K1 + 1.0)) / (f + K1 * (1 - B + B * length / self._avgdl)))
        return -1.0 * score


def _occurrences(tokens: List[str], phrase: Tuple[str, ...]) -> int:
    """How often `phrase` (its tokens in a row) occurs in `tokens`, overlaps counted as FTS5 counts
    them; a phrase of no token never does. The search for its first token runs in C (list.index)."""
    if len(phrase) == 1:
        return tokens.count(phrase[0])
    if not phrase:
        return 0
    n, found, at = len(phrase), 0, -1
    while True:
        try:
            at = tokens.index(phrase[0], at + 1, len(tokens) - n + 1)
        except ValueError:
            return found
        if tuple(tokens[at:at + n]) == phrase:
            found += 1
