"""Memories still waiting for their vector (embed="later", another tier's writes, edited texts):
computed a batch at a time for a vector tier (memento/vectors/index.py) or the pocket tier
(memento/pocket/index.py), the same loop for both.

Each batch is computed outside the write lock (a model run can take seconds), then written in one
short transaction, each vector only if its memory is still pending with the same text: a memory
forgotten, computed or edited meanwhile is skipped, and the next pass sees it.
"""
from __future__ import annotations

from typing import Callable, ContextManager, List, Optional, Sequence

import apsw

from . import connection, sqlfiles
from .strict_json import text_of


def backfill(conn: apsw.Connection, embed: Callable[[Sequence[str]], List[bytes]],
             batch: Callable[[List[bytes]], ContextManager[None]], write: Callable[[int, bytes], None], *,
             batch_query: str, text_query: str, batch_size: int,
             progress: Optional[Callable[[int], None]] = None, limit: Optional[int] = None) -> int:
    """Compute the vectors of the pending memories with `embed`, and write each with `write(id,
    vector)` inside `batch(vectors)` (the index's context for one batch's writes); returns how many
    were written. batch_query: the next pending (id, text) rows after :after_id (:limit of them);
    text_query: a memory's current text. `limit`: look at no more than this many (None: all)."""
    done, after, seen = 0, 0, 0
    while True:
        take = batch_size if limit is None else min(batch_size, limit - seen)
        if take <= 0:
            return done
        rows = conn.execute(sqlfiles.query(batch_query), {"after_id": after, "limit": take}).fetchall()
        if not rows:
            return done
        seen += len(rows)
        after = rows[-1][0]
        vectors = embed([text_of(text) for _, text in rows])
        with connection.write_transaction(conn), batch(vectors):
            for (memory_id, text), vector in zip(rows, vectors):
                current = conn.execute(sqlfiles.query(text_query), {"id": memory_id}).fetchone()
                if current is None or current[0] != text:
                    continue  # forgotten, computed or edited meanwhile: the next pass sees it
                write(memory_id, vector)
                done += 1
        if progress is not None:
            progress(len(rows))
