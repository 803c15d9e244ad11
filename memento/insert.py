"""The remember pipeline: checked items -> duplicate keys -> vectors (outside the write lock) -> one
write transaction that inserts, merges duplicates, restores an export's id links and supersedes.

Memento.remember / remember_many / remember_stream (memento/store.py) call insert() with the
store's connection and vector index; the SQL is in sql/queries/memories.sql and history.sql.
"""
from __future__ import annotations

import contextlib
import itertools
from dataclasses import replace
from typing import Any, Callable, Iterable, Iterator, List, Mapping, Optional, Union

import apsw

from . import connection, duplicates, import_ids, sqlfiles, superseding, time_cues, times, validate
from .errors import InvalidInputError
from .values import Memory

Item = Union[str, Mapping[str, Any], validate.NewMemory]   # what remember_many takes
EMBED_CHOICES = ("now", "later")


def check_embed(embed: str) -> None:
    if embed not in EMBED_CHOICES:
        raise InvalidInputError(f"embed must be 'now' or 'later', not {embed!r}")


def numbered(index: int, item: Item, dim: Optional[int]) -> validate.NewMemory:
    """validate.new_memory, with the item's position in the caller's input in the error."""
    try:
        return validate.new_memory(item, dim)
    except InvalidInputError as e:
        raise InvalidInputError(f"items[{index}]: {e}") from None


def batches(conn: apsw.Connection, vectors, items: Iterable[Item], batch_size: int,
            progress: Optional[Callable[[int], None]], embed: str, dedup: bool,
            dim: Optional[int]) -> Iterator[List[Memory]]:
    """Read, embed and store `items` batch_size at a time, one transaction per batch."""
    batch_size = validate.positive_int(batch_size, "batch_size")
    check_embed(embed)
    numbered_items = enumerate(validate.items(items))
    ids = import_ids.ImportIds()  # one import's id links, across its batches
    while True:
        batch = [numbered(index, item, dim) for index, item in itertools.islice(numbered_items, batch_size)]
        if not batch:
            return
        stored = insert(conn, vectors, batch, embed, dedup, ids)
        if progress is not None:
            progress(len(stored))
        yield stored


def insert(conn: apsw.Connection, vectors, new: List[validate.NewMemory], embed: str, dedup: bool = True,
           ids: Optional[import_ids.ImportIds] = None,
           also: Optional[Callable[[apsw.Connection], None]] = None) -> List[Memory]:
    """Store checked memories in one write transaction; returns one Memory per item, in order.
    `vectors`: the store's VectorIndex, or None (keyword-only). `also(conn)` writes more in the same
    transaction (an importer's read positions: the memories and where they were read to commit together)."""
    check_embed(embed)
    now = times.now_utc()
    rows = [m.insert_params(now) for m in new]
    given = [m.vector for m in new]
    hidden = [m.hidden(now) for m in new]  # stored as history: never merged, never merged into
    ids = ids or import_ids.ImportIds()
    normalised = [duplicates.normalise(r["text"]) for r in rows]
    for r, norm in zip(rows, normalised):
        r["text_key"] = duplicates.text_key(r["text"], norm)
    keys = [r["text_key"] for r in rows]
    # Embed before taking the write lock: other writers are not kept waiting on the model.
    if dedup and vectors is not None:
        given = _skip_known(conn, rows, normalised, hidden, keys, given, now)
    made = vectors_for(vectors, [r["text"] for r in rows], given, embed)
    statement = sqlfiles.query("insert_memory")
    # A vector tier finds the cells of the batch's new vectors at once (forgotten when it ends).
    cells = vectors.batch(made) if vectors is not None and made else contextlib.nullcontext()
    with connection.write_transaction(conn), cells:
        time_cues.fill(conn)
        ids.begin()
        if dedup:
            duplicates.rekey(conn)
            current = duplicates.CurrentTexts(conn, keys, rows[0]["updated_at"])
        memories = []
        for m, r, norm, vector, history in zip(new, rows, normalised, made or [None] * len(rows), hidden):
            r["id"] = None if m.id is None else ids.target(conn, m.id)
            found = current.find(norm, r["thread"]) if dedup and not history else None
            if found is not None:
                memory = Memory.from_row(duplicates.merge_into(
                    conn, found, r["tags"], r["metadata"], r["pinned"], r["expires_at"],
                    r["updated_at"]), duplicate=True)
            else:
                memory = Memory.from_row(conn.execute(statement, r).fetchone())
                if vector:
                    memory = vectors.store([memory], [vector])[0]
                if dedup and not history:
                    current.added(memory.id, norm, r["thread"], r["expires_at"])
            if m.id is not None:
                ids.stored(conn, m.id, r["id"], memory.id)
            if m.superseded_by is not None:
                by = ids.superseder(conn, m.superseded_by)
                superseding.supersede(conn, memory.id, by)
                memory = replace(memory, superseded_by=by)
            if m.supersedes is not None:
                superseding.supersede(conn, m.supersedes, memory.id)
                if dedup:
                    current.superseded(m.supersedes)
            memories.append(memory)
        if also is not None:
            also(conn)
    return memories


def _skip_known(conn: apsw.Connection, rows: List[dict], normalised: List[str], hidden: List[bool],
                keys: List[int], given: List[Optional[bytes]], now: str) -> List[Optional[bytes]]:
    """`given` with b"" (not to be embedded) for each text already stored or repeated earlier in the
    batch: a read outside the lock. Should one be forgotten before the lock is taken, it is stored
    pending and backfill() embeds it."""
    current = duplicates.CurrentTexts(conn, keys, now)
    known = set()
    for i, (r, norm) in enumerate(zip(rows, normalised)):
        if hidden[i]:
            continue
        if current.find(norm, r["thread"]) is not None:
            known.add(i)
        current.added(-1, norm, r["thread"], r["expires_at"])
    return [b"" if i in known and g is None else g for i, g in enumerate(given)]


def vectors_for(vectors, texts: List[str], given: List[Optional[bytes]],
                embed: str) -> Optional[List[Optional[bytes]]]:
    """One stored-form vector per text: the caller's where given (checked by validate; b"": a
    known duplicate, not embedded), else the model's (embed="now") or None (pending until
    backfill). None for the whole batch in the minimal tier."""
    if vectors is None:
        return None
    out = list(given)
    missing = [i for i, v in enumerate(out) if v is None]
    if embed == "now" and missing:
        for i, vector in zip(missing, vectors.embed([texts[i] for i in missing])):
            out[i] = vector
    return out
