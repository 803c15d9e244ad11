"""Per-word document counts of a query: how many memories hold each word, read once per query.

    word_counts.row_count(conn)                                   # memories in the keyword index (bm25's N)
    word_counts.read(conn, ["caroline", "adoption"], cap=2_001)   # {"caroline": 2001, "adoption": 37}

Used by recall's common-word rule (recall.py: a query word held by more than common_word_share of
the memories is left out of the keyword search when a rarer word of the query is in the store) and
by relevance (relevance.py: the query's words' idf, and which of them no memory holds). Words are
FTS5 words as fts_query.keywords gives them; each is quoted before it reaches MATCH. A count stops
at `cap` (None: exact), because counting costs one step per memory holding the word and the
common words are what a cap saves. The SQL is in sql/queries/word_counts.sql.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import apsw

from . import fts_query, sqlfiles

EXACT = 2 ** 62  # the cap meaning "no cap"


def read(conn: apsw.Connection, words: Sequence[str], cap: Optional[int] = None) -> Dict[str, int]:
    """word -> how many memories hold it, counted up to `cap` (None: exact), read on `conn` (inside
    the caller's read transaction, so that the counts and the recall see one snapshot)."""
    # One short statement a word: the same count as one statement over json_each(words), whose
    # correlated MATCH costs ~0.15 ms more a word (measured at 10k memories).
    statement = sqlfiles.query("word_document_count")
    limit = EXACT if cap is None else max(0, int(cap))
    return {w: conn.execute(statement, {"match": fts_query.quote(w), "cap": limit}).get or 0 for w in words}


def row_count(conn: apsw.Connection) -> int:
    """bm25's N: the first varint of FTS5's averages record, 0 for an index never written."""
    block = conn.execute(sqlfiles.query("fts_indexed_rows")).get
    return _varint(block) if block else 0


def _varint(data: bytes) -> int:
    """SQLite's varint (FTS5 writes its averages record with it): 7 bits a byte, high bit = more,
    the ninth byte whole."""
    value = 0
    for i, byte in enumerate(data[:9]):
        if i == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return value
