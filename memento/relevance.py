"""What recall's relevance needs from the query's words, computed once per query.

Hit.relevance is computed in the recall statements (sql/queries/recall_parts.sql, part hits); its
gate asks whether the store holds anything the query is about. Two of its inputs are properties
of the query's words in this store, cheaper to find with a few point reads here than inside the
statement (where the same counts cost ~5x more):
  idf_total   the sum of the bm25 weights (FTS5's idf) of the query's searchable words, and
  idf_unseen  the part of it carried by words no memory holds. A question about someone or
              something the store never heard of ("what does Zelda drink?") has its rarest, heaviest
              word unseen; that is a signal learned from no name in particular.
A word naming a date (a month, a weekday, a year: time_cues.names_a_date) that no memory holds counts
in neither: a memory's date is kept in created_at, not in its text, so "what did we decide in March
2024?" is no less about the store because no text says "March". (In the LoCoMo dev set, whose turns
carry their dates outside the text, 12% of a store's own questions hold such a word: two in five of
those with any unseen word.)
A stored speaker's name (any memory's speaker, folded as recall folds names) that no text holds
counts in neither either: the store knows the person, it keeps the name in memories.speaker (which
recall's speaker boost reads), and where texts do carry their speaker's name ("Bob: ...") it is in
a large share of the memories and weighs little; so "where did Bob go camping?" weighs as it would
in a store whose texts say "Bob". (The speakers are read only for a query with a word no text holds.)
"""
from __future__ import annotations

from typing import Tuple

import apsw

from . import bm25, connection, fts_query, time_cues, word_counts


def query_weights(conn: apsw.Connection, query: str) -> Tuple[float, float, int]:
    """(idf_total, idf_unseen) of the query's searchable words (fts_query.keywords) in this store,
    and the store's row count they were weighed against."""
    rows = word_counts.row_count(conn)
    words = fts_query.keywords(query)
    if not words:
        return 0.0, 0.0, rows
    # Holders are counted up to half the rows and one more: from there FTS5 weighs a word at its
    # floor (1e-6) whatever the count, so counting on would change nothing. (A fixed cap made a word
    # in most memories weigh far more here than in bm25, and a store where every memory says
    # "kiwi" answered "kiwi note" with nothing.)
    held_by = word_counts.read(conn, words, cap=rows // 2 + 1)
    missing = [w for w in words if held_by[w] == 0 and not time_cues.names_a_date(w)]
    speakers = word_counts.speaker_words(conn) if missing else frozenset()
    total = unseen = 0.0
    for word in words:
        if held_by[word] == 0 and (time_cues.names_a_date(word) or connection.fold_name(word) in speakers):
            continue  # the memories' dates are in created_at, their speakers in speaker: see above
        idf = bm25.idf(rows, held_by[word])
        total += idf
        if held_by[word] == 0:
            unseen += idf
    return total, unseen, rows
