"""The keyword search of a big store, led by the question's rare words.

FTS5 scores every memory that holds any word of the question with bm25 (~0.4 us a memory), so a
word that many memories hold (a speaker's name, "like", "time") makes a question cost what the
store's size costs: at 1M memories of conversation the words of a question are held by ~250,000
memories (p50) and the search took ~100 ms. bm25 weighs such a word little (its idf is small), so
the best matches are, nearly always, memories that hold a rarer word of the question too.

So when some of the question's words are common (held by more than
RankingSettings.common_word_share of the memories, 5%, or by more than common_word_holders, 20,000,
whatever the store's size; memento/word_counts.py counts them from the index's own vocabulary),
only the memories holding one of its rarer words are searched, in two FTS5 searches
(recall_parts.sql, best_matches_between; in a big store, one on each of two connections at once:
memento/split_scan.py):
  alone:  the rare words, OR-joined;
  both:   (the rare words) AND (the common words), which FTS5 scores with every word, once each.
A memory holding a rare word and no common word scores the same in `alone` as in the whole search
(the common words add nothing to it); one holding both kinds scores the same in `both`. So the
better of its two scores is its score in the whole search, exactly, and the best :overfetch of the
two lists are the best :overfetch of the whole search among the memories holding a rare word
(every memory ranked above one of those in its list is above it in the whole search too). They go
to the recall statement as its :top list, as the split scan's do, and fusion happens there.

What it misses, by design: memories holding only common words of the question. bench/scale_quality.py
measures what that costs (the dev set's conversations among other conversations' turns). A question
with no common word is searched as before; one with only common words searches its rarest ones.
What it still costs: `both` makes FTS5 count the common words' holders for their idf (a walk of
their lists, ~20 ns a holder: this part still grows with the store), and both searches score every
memory holding a rare word (~0.5 us each: at most common_word_holders a word).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import apsw

from . import fts_query, word_counts
from .ranking import RankingSettings
from .split_scan import Shared, SplitScan


def top(conn: apsw.Connection, params: Dict[str, Any], query: str, settings: RankingSettings,
        split: SplitScan, shared: Optional[Shared] = None) -> Optional[List[list]]:
    """The best params["overfetch"] keyword matches ([id, bm25], best first) found through the
    question's rare words, for the recall statement's :top; None when no word of the question is
    left out (or the rule is off: common_word_share >= 1), and the statement searches as before.
    shared: the hybrid recall's offer of the vector worker's help (split_scan.Shared)."""
    if settings.common_word_share >= 1.0 or params["match"] is None or params["w_keyword"] <= 0:
        return None
    words = fts_query.keywords(query)
    rows = word_counts.row_count(conn)
    held_by = word_counts.read(conn, words, cap=rows // 2 + 1)  # as relevance counts them: kept, not read again
    common_from = common_holders(rows, settings)
    searched = searched_words(words, held_by, common_from, settings.rare_word_depth * params["overfetch"])
    left_out = [w for w in words if held_by[w] > 0 and w not in searched]
    if not left_out:
        return None
    alone = fts_query.expression(searched)
    both = f"({alone}) AND ({fts_query.expression(left_out)})"
    best: Dict[int, float] = {}
    searches = ({**params, "match": alone, "top": None}, {**params, "match": both, "top": None})
    for found in split.best_of_two(conn, *searches, shared):
        for id_, bm25 in found:
            best[id_] = min(bm25, best.get(id_, bm25))  # bm25 is negative: lower is better
    ranked = sorted(best.items(), key=lambda row: (row[1], -row[0]))[:params["overfetch"]]
    return [[id_, bm25] for id_, bm25 in ranked]


def common_holders(rows: int, settings: RankingSettings) -> int:
    """A word held by more memories than this is common: a share of the store's `rows`, at most
    settings.common_word_holders (the rare words' holders, which both searches score, are then
    bounded by the question, not by the store's size)."""
    return max(0, min(int(settings.common_word_share * rows), settings.common_word_holders))


def searched_words(words: Sequence[str], held_by: Dict[str, int], common_word_rows: int, depth: int) -> List[str]:
    """The words searched: every word held by at most common_word_rows memories, and more words,
    rarest first, until the searched words' holders number at least `depth` (so a question of
    common words only searches its rarest, and one whose rare word three memories hold searches
    more than those three). Words no memory holds match nothing and are left out."""
    searched: List[str] = []
    listed = 0
    for word in sorted((w for w in words if held_by[w] > 0), key=lambda w: held_by[w]):
        if held_by[word] > common_word_rows and listed >= depth:
            break
        searched.append(word)
        listed += held_by[word]
    return searched
