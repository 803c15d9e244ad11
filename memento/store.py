"""The Memento facade: remember, recall, get, forget, update, iterate, stats.

It validates input, then hands work to SQL in sql/ (through sqlfiles) inside one transaction per
call. Vector tiers add a VectorIndex (memento/vectors.py); the minimal tier never imports it.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import math
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

import apsw

from . import db, fts_query, import_ids, keyword_scan, lifecycle, ranking, sqlfiles, storefile, tiers, validate
from .errors import InvalidInputError, MemoryNotFoundError, StoreError
from .records import Hit, Memory, Neighbour, Stats


PathLike = Union[str, os.PathLike]
MODES = ("hybrid", "keyword", "vector")
Item = Union[str, Mapping[str, Any], validate.NewMemory]   # what remember_many takes
STREAM_BATCH = 500   # remember_stream's default: memories per transaction (and held in memory)


def default_path() -> Path:
    """$MEMENTO_DB, else $XDG_DATA_HOME/memento/memento.db (~/.local/share/memento/memento.db)."""
    if os.environ.get("MEMENTO_DB"):
        return Path(os.environ["MEMENTO_DB"]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "memento" / "memento.db"


def store_path(path: Optional[PathLike] = None) -> Path:
    """The store file open(path) uses."""
    return Path(path).expanduser() if path is not None else default_path()


def recorded_tier(path: Path) -> Optional[str]:
    """The tier recorded in the store at path (None: no store there yet, or none recorded), read
    without creating or changing anything; open() resolves its tier against it."""
    meta = storefile.recorded_meta(path)
    return meta.tier if meta is not None else None


def open(path: Optional[PathLike] = None, *, tier: Optional[str] = None,  # noqa: A001
         reembed: bool = False) -> "Memento":
    """Open (or create) a store. `tier` overrides $MEMENTO_TIER, the store's tier and detection.

    A store whose vectors were made by another model than the tier's raises ModelMismatchError;
    reembed=True accepts the new model instead: the old vectors are dropped and every memory is
    pending until backfill() (or reembed()) has embedded it again."""
    file = store_path(path)
    opened = storefile.open_store(file)
    conn = opened.conn
    try:
        choice = tiers.resolve(tier, stored=opened.meta.tier)
        if choice.fallback:
            import logging  # only here: logging costs every start ~0.7 MB on an emulated Pi
            logging.getLogger("memento").warning("memento tier %r (%s): %s", choice.tier, choice.source, choice.reason)
        vectors = None
        if choice.tier in tiers.VECTOR_TIERS:
            from .vectors import VectorIndex  # vector tiers only: keeps the minimal path light
            vectors = VectorIndex.attach(opened, choice.tier, adopt_model=reembed)
        # A keyword-only visit (tier="minimal") never overwrites a vector tier's record, and a
        # stand-in tier is not recorded: the store upgrades once the wanted tier is installed.
        # Unchanged, nothing is written (opening an up-to-date store takes no write lock).
        if (opened.meta.tier is None and not choice.fallback) or choice.tier in tiers.VECTOR_TIERS:
            storefile.record_meta(conn, file, tier=choice.tier)
    except BaseException:
        conn.close()
        raise
    return Memento(conn, file, choice, vectors)


def _guarded(method):
    """Calls on one Memento run one at a time (an SQLite connection must not be used by two threads
    at once), so threads may share a Memento; after close() every call is a clear StoreError."""
    @functools.wraps(method)
    def guarded(self: "Memento", *args, **kwargs):
        with self._lock, db.translate_errors(self.path):  # a damaged page: our error, naming doctor
            self._check_open()
            return method(self, *args, **kwargs)
    return guarded


class Memento:
    """A memory store in one SQLite file. Use `memento.open()` to get one; close it when done
    (or use it as a context manager)."""

    def __init__(self, conn: apsw.Connection, path: Path, tier_choice: tiers.TierChoice, vectors=None):
        self._conn = conn
        self.path = path
        self.tier_choice = tier_choice
        self._vectors = vectors
        self._lock = threading.RLock()
        self._closed = False
        # A big store's keyword search runs on two connections at once (memento/keyword_scan.py).
        self._keyword_scan = keyword_scan.SplitScan(keyword_scan.reader(path, storefile.connect))
        # Every ranking weight (memento/ranking.py); replace it whole to tune recall (bench/locomo.py --sweep).
        self.ranking: ranking.RankingSettings = ranking.for_model(self.model)

    @property
    def tier(self) -> str:
        return self.tier_choice.tier

    @property
    def model(self) -> Optional[str]:
        """The embedding model of this store's vectors (None: keyword-only). Vectors passed to
        remember()/recall() must come from it."""
        return self._vectors.model_id if self._vectors is not None else None

    @property
    def dim(self) -> Optional[int]:
        """How many numbers the model's vectors have (None: keyword-only)."""
        return self._vectors.spec.dim if self._vectors is not None else None

    def __enter__(self) -> "Memento":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Memento {str(self.path)!r} tier={self.tier!r}>"

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._keyword_scan.close()
                self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path}: this Memento was closed; open the store again with memento.open()")

    # -- writing -------------------------------------------------------------------------------

    @_guarded
    def remember(self, text: str, *, tags: Iterable[str] = (), metadata: Optional[Mapping[str, Any]] = None,
                 created_at: validate.Timestamp = None, pinned: bool = False, embed: str = "now",
                 vector: Optional[Sequence[float]] = None, thread: Optional[str] = None,
                 expires_at: validate.Timestamp = None, supersedes: Optional[int] = None,
                 dedup: bool = True) -> Memory:
        """Store one memory and return it. embed="later" (vector tiers) defers its vector to backfill().
        `vector`: its embedding, computed by the caller with this store's model (`.model`); it is
        stored instead of running the model. `thread`: the sequence it belongs to (a conversation,
        a session, a log), ordered by created_at; its neighbours there help recall find it.
        `expires_at`: past this time the memory is not recalled nor listed (prune_expired() deletes it).
        `supersedes`: the id of the memory this one replaces; recall leaves that one out from now on.
        A text already stored (same after NFC and whitespace normalisation, same thread, current)
        adds nothing: the stored memory gets the new tags and metadata keys and is returned with
        duplicate_of set to its id. dedup=False stores a new memory regardless."""
        item = validate.new_memory({"text": text, "tags": tags, "metadata": metadata, "created_at": created_at,
                                    "pinned": pinned, "vector": vector, "thread": thread,
                                    "expires_at": expires_at, "supersedes": supersedes}, self.dim)
        return self._insert([item], embed, validate.flag(dedup, "dedup"))[0]

    @_guarded
    def remember_many(self, items: Iterable[Item], *, batch_size: Optional[int] = None,
                      progress: Optional[Callable[[int], None]] = None, embed: str = "now",
                      dedup: bool = True) -> List[Memory]:
        """Store many memories and return them. Items are texts or dicts with the keys of remember()
        (text, tags, metadata, created_at, pinned, vector, thread, expires_at, supersedes); any
        iterable, a generator included. Duplicates, of stored memories or of an earlier item of the
        same batch, are merged as remember() does: one Memory per item, in order.
        An export's `id` and `superseded_by` keys restore its links (memento/import_ids.py): an item
        keeps its id where this store never used it, superseded_by names another item's id (before or
        after it), and an item stored already superseded or expired is never merged.

        batch_size=None (default): all or none, in one transaction (every item is checked first).
        batch_size=n: items are read, embedded and stored n at a time, one transaction per batch; an
        error stops at its batch and the batches before it stay stored. progress(n) is called after
        each stored batch. The returned list holds every memory: for an input larger than memory,
        use remember_stream()."""
        dedup = validate.flag(dedup, "dedup")
        if batch_size is not None:
            return [m for batch in self._remember_batches(items, batch_size, progress, embed, dedup) for m in batch]
        _check_embed(embed)
        new = [_numbered(index, item, self.dim) for index, item in enumerate(validate.items(items))]
        stored = self._insert(new, embed, dedup, import_ids.ImportIds()) if new else []
        if progress is not None and stored:
            progress(len(stored))
        return stored

    @_guarded
    def remember_stream(self, items: Iterable[Item], *, batch_size: int = STREAM_BATCH,
                        progress: Optional[Callable[[int], None]] = None, embed: str = "now",
                        dedup: bool = True) -> int:
        """remember_many(batch_size=n) that keeps only one batch in memory and returns how many
        memories it stored: for imports of any size. An error stops at its batch; the batches before
        it stay stored (progress(n), called after each one, says how many)."""
        dedup = validate.flag(dedup, "dedup")
        return sum(len(batch) for batch in self._remember_batches(items, batch_size, progress, embed, dedup))

    def _remember_batches(self, items: Iterable[Item], batch_size: int,
                          progress: Optional[Callable[[int], None]], embed: str,
                          dedup: bool) -> Iterator[List[Memory]]:
        batch_size = validate.positive_int(batch_size, "batch_size")
        _check_embed(embed)
        numbered = enumerate(validate.items(items))
        ids = import_ids.ImportIds()  # one import's id links, across its batches
        while True:
            batch = [_numbered(index, item, self.dim) for index, item in itertools.islice(numbered, batch_size)]
            if not batch:
                return
            stored = self._insert(batch, embed, dedup, ids)
            if progress is not None:
                progress(len(stored))
            yield stored

    def _insert(self, new: List[validate.NewMemory], embed: str, dedup: bool = True,
                ids: Optional[import_ids.ImportIds] = None) -> List[Memory]:
        _check_embed(embed)
        now = validate.now_utc()
        rows = [m.insert_params(now) for m in new]
        given = [m.vector for m in new]
        hidden = [m.hidden(now) for m in new]  # stored as history: never merged, never merged into
        ids = ids or import_ids.ImportIds()
        normalised = [lifecycle.normalise(r["text"]) for r in rows]
        for r, norm in zip(rows, normalised):
            r["text_key"] = lifecycle.text_key(r["text"], norm)
        keys = [r["text_key"] for r in rows]
        # Embed before taking the write lock: other writers are not kept waiting on the model.
        # Texts already stored (a read, outside the lock) are not embedded; should one be forgotten
        # before the lock is taken, it is stored pending and backfill() embeds it.
        if dedup and self._vectors is not None:
            current = lifecycle.CurrentTexts(self._conn, keys, now)
            known = set()
            for i, (r, norm) in enumerate(zip(rows, normalised)):
                if hidden[i]:
                    continue
                if current.find(norm, r["thread"]) is not None:
                    known.add(i)
                current.added(-1, norm, r["thread"], r["expires_at"])
            given = [b"" if i in known and g is None else g for i, g in enumerate(given)]
        vectors = self._vectors_for([r["text"] for r in rows], given, embed)
        insert = sqlfiles.query("insert_memory")
        with db.translate_errors(self.path), db.write_transaction(self._conn):
            ids.begin()
            if dedup:
                lifecycle.rekey(self._conn)
                current = lifecycle.CurrentTexts(self._conn, keys, rows[0]["updated_at"])
            memories = []
            for m, r, norm, vector, history in zip(new, rows, normalised, vectors or [None] * len(rows), hidden):
                r["id"] = None if m.id is None else ids.target(self._conn, m.id)
                found = current.find(norm, r["thread"]) if dedup and not history else None
                if found is not None:
                    memory = Memory.from_row(lifecycle.merge_into(
                        self._conn, found, r["tags"], r["metadata"], r["pinned"], r["expires_at"],
                        r["updated_at"]), duplicate=True)
                else:
                    memory = Memory.from_row(self._conn.execute(insert, r).fetchone())
                    if vector:
                        memory = self._vectors.store([memory], [vector])[0]
                    if dedup and not history:
                        current.added(memory.id, norm, r["thread"], r["expires_at"])
                if m.id is not None:
                    ids.stored(self._conn, m.id, r["id"], memory.id)
                if m.superseded_by is not None:
                    by = ids.superseder(self._conn, m.superseded_by)
                    lifecycle.supersede(self._conn, memory.id, by)
                    memory = replace(memory, superseded_by=by)
                if m.supersedes is not None:
                    lifecycle.supersede(self._conn, m.supersedes, memory.id)
                    if dedup:
                        current.superseded(m.supersedes)
                memories.append(memory)
        return memories

    def _vectors_for(self, texts: List[str], given: List[Optional[bytes]], embed: str) -> Optional[List[Optional[bytes]]]:
        """One stored-form vector per text: the caller's where given (checked by validate; b"": a
        known duplicate, not embedded), else the model's (embed="now") or None (pending until
        backfill). None for the whole batch in the minimal tier."""
        if self._vectors is None:
            return None
        out = list(given)
        missing = [i for i, v in enumerate(out) if v is None]
        if embed == "now" and missing:
            for i, made in zip(missing, self._vectors.embed([texts[i] for i in missing])):
                out[i] = made
        return out

    @_guarded
    def update(self, memory_id: int, *, text: Optional[str] = None, tags: Optional[Iterable[str]] = None,
               metadata: Optional[Mapping[str, Any]] = None, pinned: Optional[bool] = None,
               thread: Optional[str] = None, expires_at: validate.Timestamp = None) -> Memory:
        """Change some fields of a memory (None keeps a field). New text gets a new vector.
        `expires_at`: a new expiry, checked as remember() checks it (a past time expires the memory
        now); "never" removes the expiry."""
        memory_id = validate.memory_id(memory_id)
        params = {
            "set_expires_at": expires_at is not None,
            "expires_at": validate.expiry(expires_at),
            "id": memory_id,
            "text": None if text is None else validate.text(text),
            "thread": validate.thread(thread),
            "tags": None if tags is None else json.dumps(validate.tags(tags), ensure_ascii=False),
            "metadata": None if metadata is None else validate.metadata(metadata),
            "pinned": None if pinned is None else validate.flag(pinned, "pinned"),
            "updated_at": validate.now_utc(),
        }
        vectors = None
        if self._vectors is not None and params["text"] is not None:
            vectors = self._vectors.embed([params["text"]])
        with db.translate_errors(self.path), db.write_transaction(self._conn):
            row = self._conn.execute(sqlfiles.query("update_memory"), params).fetchone()
            if row is None:
                raise MemoryNotFoundError(f"no memory with id {memory_id}")
            memory = Memory.from_row(row)
            if self._vectors is not None and params["text"] is not None:
                memory = self._vectors.store([memory], vectors)[0]
        return memory

    @_guarded
    def forget(self, memory_id: int) -> None:
        """Delete a memory and its index entries for good."""
        memory_id = validate.memory_id(memory_id)
        with db.translate_errors(self.path), db.write_transaction(self._conn):
            if self._conn.execute(sqlfiles.query("delete_memory"), {"id": memory_id}).fetchone() is None:
                raise MemoryNotFoundError(f"no memory with id {memory_id}")
            if self._vectors is not None:
                self._vectors.delete(memory_id)

    @_guarded
    def reinstate(self, memory_id: int) -> Memory:
        """Make a superseded memory current again (forgetting its superseder does not: see README)."""
        memory_id = validate.memory_id(memory_id)
        with db.translate_errors(self.path), db.write_transaction(self._conn):
            row = self._conn.execute(sqlfiles.query("reinstate"), {"id": memory_id}).fetchone()
        if row is None:
            raise MemoryNotFoundError(f"no memory with id {memory_id}")
        return Memory.from_row(row)

    @_guarded
    def prune_expired(self) -> List[int]:
        """Delete every expired memory for good (vectors too); returns their ids."""
        with db.translate_errors(self.path), db.write_transaction(self._conn):
            ids = [r[0] for r in self._conn.execute(sqlfiles.query("prune_expired"), {"now": validate.now_utc()})]
            if ids and self._vectors is not None:
                self._vectors.delete(ids[0])  # applies the queue the delete trigger filled
        return sorted(ids)

    @_guarded
    def duplicates(self, *, near: Optional[float] = None) -> List[lifecycle.DuplicateGroup]:
        """Groups of current memories with the same text (after normalisation) in the same thread,
        oldest id first. near=0.95 (vector tiers): groups by cosine similarity >= near instead."""
        if near is not None:
            near = validate.finite_weight(near, "near")
            if not 0.0 < near <= 1.0:
                raise InvalidInputError(f"near must be a cosine similarity in (0, 1], not {near}")
            if self._vectors is None:
                raise InvalidInputError(f"near-duplicates need a vector tier; this store is open in tier "
                                        f"{self.tier!r} (keyword-only)")
            return lifecycle.near_groups(self._conn, self._vectors.model_id, near)
        with db.translate_errors(self.path), db.write_transaction(self._conn):
            lifecycle.rekey(self._conn)
        return lifecycle.exact_groups(self._conn, validate.now_utc())

    @_guarded
    def merge_duplicates(self) -> List[lifecycle.DuplicateGroup]:
        """Merge every exact duplicate group into its oldest memory (tags and metadata merged, later
        values winning), deleting the others, in one transaction. Returns the groups merged."""
        with db.translate_errors(self.path), db.write_transaction(self._conn):
            lifecycle.rekey(self._conn)
            now = validate.now_utc()
            groups = lifecycle.exact_groups(self._conn, now)
            for group in groups:
                lifecycle.apply_group(self._conn, group, now)
            if groups and self._vectors is not None:
                self._vectors.delete(groups[0].keep)
        return groups

    @_guarded
    def config(self, key: str, value: Optional[str] = None, *, unset: bool = False) -> Optional[str]:
        """Read (value None), set or unset a store-wide setting kept in store_meta. Known keys:
        half_life_days (recall's default recency half-life, a positive number of days)."""
        if key not in CONFIG_KEYS:
            raise InvalidInputError(f"unknown setting {key!r}; known: {', '.join(sorted(CONFIG_KEYS))}")
        if value is None and not unset:
            return storefile.read_setting(self._conn, key)
        if value is not None:
            value = str(CONFIG_KEYS[key](value))
        with db.translate_errors(self.path), db.write_transaction(self._conn):
            storefile.write_setting(self._conn, key, None if unset else value)
        return value

    # -- reading -------------------------------------------------------------------------------

    @_guarded
    def get(self, memory_id: int) -> Memory:
        memory_id = validate.memory_id(memory_id)
        row = self._conn.execute(sqlfiles.query("get_memory"), {"id": memory_id}).fetchone()
        if row is None:
            raise MemoryNotFoundError(f"no memory with id {memory_id}")
        return Memory.from_row(row)

    def iter(self, *, tags: Optional[Iterable[str]] = None, thread: Optional[str] = None,
             page_size: int = 500, pinned: Optional[bool] = None, include_expired: bool = False) -> Iterator[Memory]:
        """All memories in id order (optionally only those carrying all `tags`), read page by page.
        With `thread`: that thread's memories in thread order (created_at, id). pinned=True: only
        pinned ones, False: only unpinned. Expired memories are left out unless include_expired=True
        (export); superseded ones are not."""
        # Checked here, not on the first next(): a bad argument fails where it is passed.
        after = {"after_id": 0, "after_created_at": "", "now": validate.now_utc(),
                 "pinned": None if pinned is None else validate.flag(pinned, "pinned"),
                 "include_expired": validate.flag(include_expired, "include_expired")}
        return self._pages(_tag_filter(tags), validate.thread(thread),
                           validate.positive_int(page_size, "page_size"), after)

    @_guarded
    def newest(self, limit: int = 20, *, tags: Optional[Iterable[str]] = None) -> List[Memory]:
        """The `limit` newest memories by created_at (then id), newest first; expired ones left out."""
        rows = self._conn.execute(sqlfiles.query("list_newest"), {
            "limit": validate.positive_int(limit, "limit"), "tags": _tag_filter(tags),
            "now": validate.now_utc()}).fetchall()
        return [Memory.from_row(row) for row in rows]

    def _pages(self, tag_filter: Optional[str], thread: Optional[str], page_size: int,
               after: dict) -> Iterator[Memory]:
        while True:
            # page by page: a caller may stop iterating or switch threads between pages
            with self._lock, db.translate_errors(self.path):
                self._check_open()
                if thread is None:
                    rows = self._conn.execute(sqlfiles.query("list_memories"),
                                              {**after, "tags": tag_filter, "limit": page_size}).fetchall()
                else:
                    rows = self._conn.execute(sqlfiles.query("list_thread"), {**after, "thread": thread,
                                              "tags": tag_filter, "limit": page_size}).fetchall()
            for row in rows:
                yield Memory.from_row(row)
            if len(rows) < page_size:
                return
            after = {**after, "after_id": rows[-1][0], "after_created_at": rows[-1][4]}

    @_guarded
    def count(self, *, include_superseded: bool = False, include_expired: bool = False) -> int:
        """How many memories recall can return (neither superseded nor expired); include_superseded=True
        adds the superseded ones (then it is what iter() and `memento list` show), include_expired=True
        the expired ones not pruned yet (both: every stored memory, what export writes)."""
        counts = lifecycle.Counts.read(self._conn, validate.now_utc())
        return counts.selected(validate.flag(include_superseded, "include_superseded"),
                               validate.flag(include_expired, "include_expired"))

    @_guarded
    def recall(self, query: str, *, k: int = 10, tags: Optional[Iterable[str]] = None,
               since: validate.Timestamp = None, until: validate.Timestamp = None,
               mode: Optional[str] = None, vector: Optional[Sequence[float]] = None,
               thread: Optional[str] = None, context: int = 0, include_superseded: bool = False,
               half_life_days: Optional[float] = None, as_of: validate.Timestamp = None) -> List[Hit]:
        """The k memories that best match `query`, best first. `tags` keeps memories carrying all of
        them; since (inclusive) / until (exclusive) bound created_at; `thread` keeps one thread's.
        mode: "hybrid" (default in vector tiers), "keyword" (the only one in the minimal tier) or
        "vector". `vector`: the query's embedding, computed by the caller with this store's model,
        used instead of running the model. `context=n`: each hit carries up to n memories before and
        after it in its thread (Hit.context), so an agent sees the conversation around it.
        Expired memories are never recalled; superseded ones only with include_superseded=True.
        `half_life_days`: each score is multiplied by 0.5 ** (age in days / half_life_days), age
        from created_at to `as_of` (default now); pinned memories never decay. None: the store's
        setting (config("half_life_days")), else no decay; math.inf: no decay."""
        query = validate.query(query)
        k = validate.k(k)
        since, until = validate.time_window(since, until)
        context = validate.context(context)
        mode = self._mode(mode)
        qvec = None
        if vector is not None:
            if mode == "keyword":
                raise InvalidInputError("a query vector needs mode 'hybrid' or 'vector' (a vector tier); "
                                        f"this recall is keyword-only (tier {self.tier!r})")
            qvec = validate.vector(vector, self.dim, "query vector")
        now = validate.now_utc()
        include_superseded = validate.flag(include_superseded, "include_superseded")
        # Are any memories hidden (expired, superseded)? The hybrid statement also sizes its vector
        # list by how many; the keyword statement only needs to know whether any (O(1)).
        hidden_params = {"now": now, "include_superseded": int(include_superseded)}
        if mode == "keyword":
            hidden = None
            any_hidden = bool(self._conn.execute(sqlfiles.query("any_hidden"), hidden_params).get)
        else:
            hidden = self._conn.execute(sqlfiles.query("hidden_count"), hidden_params).get
            any_hidden = hidden > 0
        request = ranking.RecallRequest(query=query, match=fts_query.build(query), k=k, mode=mode,
                                        tags=_tag_filter(tags), since=since, until=until,
                                        thread=validate.thread(thread), qvec=qvec, now=now,
                                        include_superseded=include_superseded, hidden=hidden,
                                        any_hidden=any_hidden,
                                        half_life_days=self._half_life(half_life_days),
                                        as_of=validate.timestamp(as_of, "as_of"))
        if not query.strip() and qvec is None:
            return []
        if mode == "keyword" and request.match is None:
            return []
        params = request.params(self.ranking)
        params["top"] = self._keyword_scan.top(self._conn, params)  # None: the statement searches itself
        if mode == "keyword":
            rows = self._conn.execute(sqlfiles.query("recall_keyword"), params).fetchall()
        else:
            rows = self._vectors.recall(request, params)
        hits = [Hit.from_row(r) for r in rows]
        return [self._with_context(h, context) for h in hits] if context else hits

    def _with_context(self, hit: Hit, n: int) -> Hit:
        if hit.thread is None:
            return hit
        before = self._conn.execute(sqlfiles.query("thread_before"), {"id": hit.id, "n": n}).fetchall()
        after = self._conn.execute(sqlfiles.query("thread_after"), {"id": hit.id, "n": n}).fetchall()
        return replace(hit, context=tuple(
            [Neighbour(i, text, -offset) for offset, (i, text) in reversed(list(enumerate(before, 1)))]
            + [Neighbour(i, text, offset) for offset, (i, text) in enumerate(after, 1)]))

    def _half_life(self, value: Optional[float]) -> Optional[float]:
        """recall's half-life: the caller's, else the store's setting; None = no decay."""
        if value is None:
            stored = storefile.read_setting(self._conn, "half_life_days")
            return None if stored is None else float(stored)
        value = validate.half_life_days(value)
        return None if value == math.inf else value

    def _mode(self, mode: Optional[str]) -> str:
        if mode is None:
            return "keyword" if self._vectors is None else "hybrid"
        if mode not in MODES:
            raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if mode != "keyword" and self._vectors is None:
            raise InvalidInputError(f"mode {mode!r} needs a vector tier; this store is open in tier "
                                    f"{self.tier!r} (keyword-only)")
        return mode

    @_guarded
    def stats(self) -> Stats:
        one = lambda name: self._conn.execute(sqlfiles.query(name)).fetchone()  # noqa: E731
        oldest, newest = one("time_range")
        wal = Path(str(self.path) + "-wal")
        counts = lifecycle.Counts.read(self._conn, validate.now_utc())
        return Stats(
            path=str(self.path), tier=self.tier, memories=counts.selected(False, False),
            superseded=counts.superseded, expired=counts.expired, tags=one("count_tags")[0],
            pending_embeddings=self._vectors.pending() if self._vectors is not None else 0,
            oldest=oldest, newest=newest,
            file_bytes=self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0),
            schema_version=self._conn.pragma("user_version"),
            model=self._vectors.model_id if self._vectors is not None else storefile.read_meta(self._conn).model,
            sqlite_version=apsw.sqlite_lib_version(),
        )

    @_guarded
    def backfill(self, *, batch_size: int = 256, progress: Optional[Callable[[int], None]] = None) -> int:
        """Embed every memory still without a vector; returns how many were embedded.
        `progress(n)` is called after each batch. The minimal tier has nothing to embed (0)."""
        batch_size = validate.positive_int(batch_size, "batch_size")
        if self._vectors is None:
            return 0
        return self._vectors.backfill(batch_size, progress)

    @_guarded
    def reembed(self, *, progress: Optional[Callable[[int], None]] = None) -> int:
        """Rebuild every vector with this tier's model (e.g. after a model change)."""
        if self._vectors is None:
            raise InvalidInputError(f"tier {self.tier!r} has no vectors to rebuild")
        self._vectors.reset()
        return self._vectors.backfill(progress=progress)

    @_guarded
    def doctor(self) -> list:
        """Run real checks on this store (write + search probe, integrity, indexes in step)."""
        from .doctor import run_checks
        return run_checks(self._conn, self.path, self._vectors)

    @_guarded
    def repair(self) -> list:
        """Rebuild what drifted from the memories (keyword index, tag rows, vector bookkeeping, file
        permissions) and return what was fixed (memento.doctor.Fix; empty: nothing to fix). Refuses a
        store whose pages are damaged. Vector bookkeeping needs the store's vector tier."""
        from .doctor import repair
        return repair(self._conn, self.path, self._vectors)

    @_guarded
    def meta(self) -> dict:
        """What the store records about itself (tier, model, dim), the ones it has, as a dict of strings
        (as stored; storefile.StoreMeta is the typed record)."""
        meta = dataclasses.asdict(storefile.read_meta(self._conn))
        return {key: str(value) for key, value in meta.items() if value is not None}


# Store-wide settings (Memento.config, `memento config`): key -> check of its value.
CONFIG_KEYS = {"half_life_days": lambda v: validate.half_life_days(v, allow_inf=False)}


def _numbered(index: int, item: Item, dim: Optional[int]) -> validate.NewMemory:
    """validate.new_memory, with the item's position in the caller's input in the error."""
    try:
        return validate.new_memory(item, dim)
    except InvalidInputError as e:
        raise InvalidInputError(f"items[{index}]: {e}") from None


def _check_embed(embed: str) -> None:
    if embed not in ("now", "later"):
        raise InvalidInputError(f"embed must be 'now' or 'later', not {embed!r}")


def _tag_filter(tags: Optional[Iterable[str]]) -> Optional[str]:
    """JSON array for the SQL tag filter, or None for no filter."""
    normalized = validate.tags(tags)
    return json.dumps(normalized, ensure_ascii=False) if normalized else None
