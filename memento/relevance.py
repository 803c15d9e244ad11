"""What recall's relevance needs from the query's words, computed once per query.

Hit.relevance is computed in the recall statements (sql/queries/recall_parts.sql, part hits); its
gate asks whether the store holds anything the query is about. Two of its inputs are properties
of the query's words in this store, cheaper to find with a few point reads here than inside the
statement (where the same counts cost ~5x more):
  idf_total   the sum of the bm25 weights (FTS5's idf) of the query's searchable words, and
  idf_unseen  the part of it carried by words no memory holds. A question about someone or
              something the store never heard of ("what does Zelda drink?") has its rarest, heaviest
              word unseen; that is a signal learned from no name in particular.
"""
from __future__ import annotations

import math
from typing import Tuple

import apsw

from . import fts_query, sqlfiles


def query_weights(conn: apsw.Connection, query: str) -> Tuple[float, float, int]:
    """(idf_total, idf_unseen) of the query's searchable words (fts_query.keywords) in this store,
    and the store's row count they were weighed against."""
    rows = fts_rows(conn)
    words = fts_query.keywords(query)
    if not words:
        return 0.0, 0.0, rows
    total = unseen = 0.0
    count = sqlfiles.query("word_document_count")
    # Holders are counted up to half the rows and one more: from there FTS5 weighs a word at its
    # floor (1e-6) whatever the count, so counting on would change nothing. (A fixed cap made a word
    # in most memories weigh far more here than in bm25, and a store where every memory says
    # "kiwi" answered "kiwi note" with nothing.)
    cap = rows // 2 + 1
    for word in words:
        held_by = conn.execute(count, {"match": fts_query.quote(word), "cap": cap}).get or 0
        idf = bm25_idf(rows, held_by)
        total += idf
        if held_by == 0:
            unseen += idf
    return total, unseen, rows


def bm25_idf(rows: int, held_by: int) -> float:
    """FTS5's idf of a word held by `held_by` of `rows` rows (fts5_aux.c: never below 1e-6)."""
    ratio = (rows - held_by + 0.5) / (held_by + 0.5)
    return max(1e-6, math.log(ratio)) if ratio > 0 else 1e-6


def fts_rows(conn: apsw.Connection) -> int:
    """How many rows the keyword index holds: FTS5's own count from its totals record (O(1)), or
    count(*) of memories when that record is missing or not what FTS5 writes."""
    block = conn.execute(sqlfiles.query("fts_averages")).get
    if isinstance(block, bytes):
        value = _varint(block)
        if value is not None:
            return value
    return conn.execute(sqlfiles.query("count_memories")).get or 0


def _varint(data: bytes):
    """SQLite's varint at the start of `data` (big-endian 7-bit groups; a 9th byte holds 8 bits), or
    None when `data` is too short to hold one."""
    value = 0
    for i, byte in enumerate(data[:9]):
        if i == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return None
