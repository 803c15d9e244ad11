"""The Memento facade: remember, recall, get, forget, update, iterate, stats.

It validates input, then hands work to SQL in sql/ (through sqlfiles) inside one transaction per
call: remembering goes through memento/insert.py, recalling through memento/recall.py. Vector
tiers add a VectorIndex (memento/vectors/index.py), the pocket tier a PocketIndex
(memento/pocket/index.py), both `self._vectors`; the minimal tier imports neither.
"""
from __future__ import annotations

import functools
import json
import math
import os
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

import apsw

from . import (
    bm25,
    connection,
    duplicates,
    files,
    fts_query,
    health,
    import_ids,
    insert,
    meta,
    opening,
    split_scan,
    sqlfiles,
    superseding,
    tiers,
    time_cues,
    times,
    validate,
    word_counts,
)
from . import recall as recalling  # Memento.recall is the method of that name
from .duplicates import DuplicateGroup
from .errors import InvalidInputError, MemoryNotFoundError, StoreError
from .health import Check, Fix
from .insert import Item
from .ranking import RankingSettings, RecallRequest, for_model  # Memento.ranking is the property
from .recall import MODES
from .values import Hit, Memory, Stats

PathLike = Union[str, os.PathLike]
STREAM_BATCH = 500   # remember_stream's default: memories per transaction (and held in memory)


default_path = files.default_path   # the store a command or open() uses when no path is given
store_path = files.store_path       # the store file open(path) uses


def recorded_tier(path: Path) -> Optional[str]:
    """The tier recorded in the store at path (None: no store there yet, or none recorded), read
    without creating or changing anything; open() resolves its tier against it."""
    recorded = opening.recorded_meta(path)
    return recorded.tier if recorded is not None else None


def open(path: Optional[PathLike] = None, *, tier: Optional[str] = None,  # noqa: A001
         reembed: bool = False) -> "Memento":
    """Open (or create) a store. `tier` overrides $MEMENTO_TIER, the store's tier and detection.

    A store whose vectors were made by another model than the tier's raises ModelMismatchError;
    reembed=True accepts the new model instead: the old vectors are dropped and every memory is
    pending until backfill() (or reembed()) has embedded it again."""
    file = store_path(path)
    opened = opening.open_store(file)
    conn = opened.conn
    vectors = None  # before the try: resolving the tier can fail (a tier that is not installed)
    try:
        choice = tiers.resolve(tier, stored=opened.meta.tier)
        if choice.fallback:
            _say_once(opened, choice)
        if choice.tier in tiers.VECTOR_TIERS:
            from .vectors.index import VectorIndex  # vector tiers only: keeps the minimal path light
            vectors = VectorIndex.attach(opened, choice.tier, adopt_model=reembed)
        elif choice.tier == tiers.POCKET:
            from .pocket.index import PocketIndex  # the pocket tier only
            vectors = PocketIndex.attach(opened)
        # A keyword-only visit (tier="minimal") never overwrites a vector tier's record, nor does a
        # pocket visit (a Pi reading a server's store), and a stand-in tier is not recorded: the store
        # upgrades once the wanted tier is installed. Unchanged, nothing is written (opening an
        # up-to-date store takes no write lock).
        if ((opened.meta.tier is None and not choice.fallback) or choice.tier in tiers.VECTOR_TIERS
                or (choice.tier == tiers.POCKET and opened.meta.tier in (None, "minimal") and not choice.fallback)):
            meta.record_meta(conn, file, tier=choice.tier)
    except BaseException:
        if vectors is not None:
            vectors.close()
        conn.close()
        raise
    return Memento(conn, file, choice, vectors, identity=opened.identity)


def _say_once(opened: opening.StoreFile, choice: tiers.TierChoice) -> None:
    """Warn that the wanted tier is not installed the first time this store is opened so, not at
    every command: the note is kept in store_meta. The tier itself stays unrecorded, so the store
    moves up to the wanted tier once that is installed (and a new fallback warns again)."""
    note = f"{choice.tier} for {choice.wanted}"
    if meta.read_setting(opened.conn, "tier_fallback_noted") == note:
        return
    import logging  # only here: logging costs every start ~0.7 MB on an emulated Pi
    logging.getLogger("memento").warning("memento tier %r (%s): %s", choice.tier, choice.source, choice.reason)
    if not opened.read_only:
        with connection.translate_errors(opened.path), connection.write_transaction(opened.conn):
            meta.write_setting(opened.conn, "tier_fallback_noted", note)


def _one_at_a_time(method):
    """Calls on one Memento run one at a time (an SQLite connection must not be used by two threads
    at once), so threads may share a Memento; after close() every call is a clear StoreError. SQLite
    errors inside a call become ours (a damaged page: StoreError naming doctor), here and only here."""
    @functools.wraps(method)
    def one_at_a_time(self: "Memento", *args, **kwargs):
        with self._lock, connection.translate_errors(self.path):
            self._check_open()
            return method(self, *args, **kwargs)
    return one_at_a_time


class Memento:
    """A memory store in one SQLite file. Use `memento.open()` to get one; close it when done
    (or use it as a context manager)."""

    def __init__(self, conn: apsw.Connection, path: Path, tier_choice: tiers.TierChoice, vectors=None, *,
                 identity: Optional[files.FileIdentity] = None):
        self._conn = conn
        self.path = path
        self.tier_choice = tier_choice
        self._vectors = vectors
        self._lock = threading.RLock()
        self._closed = False
        # A big store's keyword search runs on two connections at once (memento/split_scan.py).
        self._split_scan = split_scan.SplitScan(split_scan.reader(path, opening.connect, identity))
        self.ranking = for_model(self.model, self.tier)
        # The keyword index's vocabulary view now, not at the first recall: creating a temp table
        # expires every statement compiled before it.
        word_counts.prepare(conn)
        bm25.register(conn)  # after prepare: it takes the index's tokenizer that prepare made

    @property
    def ranking(self) -> RankingSettings:
        """Every ranking weight (memento/ranking.py); replace it whole to tune recall
        (dataclasses.replace; bench/locomo.py --sweep). Each value is checked when it is made."""
        return self._ranking

    @ranking.setter
    def ranking(self, settings: RankingSettings) -> None:
        if not isinstance(settings, RankingSettings):
            raise InvalidInputError(f"ranking must be a memento.ranking.RankingSettings, got {type(settings).__name__}")
        self._ranking = settings

    @property
    def tier(self) -> str:
        return self.tier_choice.tier

    @property
    def model(self) -> Optional[str]:
        """The embedding model of this store's vectors (None: keyword-only; the pocket tier: its static
        table). Vectors passed to remember()/recall() must come from it (vector tiers only)."""
        return self._vectors.model_id if self._vectors is not None else None

    @property
    def dim(self) -> Optional[int]:
        """How many numbers a vector passed to remember()/recall() has (None: keyword-only, or the
        pocket tier, whose static vectors are always its own)."""
        return self._vectors.dim if self._vectors is not None else None

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
                self._split_scan.close()
                if self._vectors is not None:
                    self._vectors.close()
                self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path}: this Memento was closed; open the store again with memento.open()")

    # -- writing -------------------------------------------------------------------------------

    @_one_at_a_time
    def remember(self, text: str, *, tags: Iterable[str] = (), metadata: Optional[Mapping[str, Any]] = None,
                 created_at: validate.Timestamp = None, pinned: bool = False, embed: str = "now",
                 vector: Optional[Sequence[float]] = None, thread: Optional[str] = None,
                 expires_at: validate.Timestamp = None, supersedes: Optional[int] = None,
                 dedup: bool = True, speaker: Optional[str] = None) -> Memory:
        """Store one memory and return it. embed="later" (vector tiers) defers its vector to backfill().
        `vector`: its embedding, computed by the caller with this store's model (`.model`); it is
        stored instead of running the model. `thread`: the sequence it belongs to (a conversation,
        a session, a log), ordered by created_at; its neighbours there help recall find it.
        `expires_at`: past this time the memory is not recalled nor listed (prune_expired() deletes it).
        `supersedes`: the id of the memory this one replaces; recall leaves that one out from now on.
        `speaker`: who said or wrote it (a name, "user", "assistant"); recall lifts a memory whose
        speaker the question names.
        A text already stored (same after NFC and whitespace normalisation, same thread, current)
        adds nothing: the stored memory gets the new tags and metadata keys and is returned with
        duplicate_of set to its id. dedup=False stores a new memory regardless."""
        item = validate.new_memory({"text": text, "tags": tags, "metadata": metadata, "created_at": created_at,
                                    "pinned": pinned, "vector": vector, "thread": thread,
                                    "expires_at": expires_at, "supersedes": supersedes, "speaker": speaker},
                                   self.dim)
        return insert.insert(self._conn, self._vectors, [item], embed, validate.flag(dedup, "dedup"))[0]

    @_one_at_a_time
    def remember_many(self, items: Iterable[Item], *, batch_size: Optional[int] = None,
                      progress: Optional[Callable[[int], None]] = None, embed: str = "now",
                      dedup: bool = True) -> List[Memory]:
        """Store many memories and return them. Items are texts or dicts with the keys of remember()
        (text, tags, metadata, created_at, pinned, vector, thread, expires_at, supersedes, speaker); any
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
        insert.check_embed(embed)
        new = [insert.numbered(index, item, self.dim) for index, item in enumerate(validate.items(items))]
        stored = insert.insert(self._conn, self._vectors, new, embed, dedup, import_ids.ImportIds()) if new else []
        if progress is not None and stored:
            progress(len(stored))
        return stored

    @_one_at_a_time
    def remember_stream(self, items: Iterable[Item], *, batch_size: int = STREAM_BATCH,
                        progress: Optional[Callable[[int], None]] = None, embed: str = "now",
                        dedup: bool = True, each_batch: Optional[Callable[[List[Memory]], None]] = None) -> int:
        """remember_many(batch_size=n) that keeps only one batch in memory and returns how many
        memories it stored: for imports of any size. An error stops at its batch; the batches before
        it stay stored (progress(n), called after each one, says how many). each_batch(memories),
        when given, sees each stored batch (duplicate_of tells a merged item from a new memory)."""
        dedup = validate.flag(dedup, "dedup")
        stored = 0
        for batch in self._remember_batches(items, batch_size, progress, embed, dedup):
            stored += len(batch)
            if each_batch is not None:
                each_batch(batch)
        return stored

    @_one_at_a_time
    def remember_at(self, items: Iterable[Item], positions: Mapping[str, Optional[str]], *,
                    embed: str = "now") -> List[Memory]:
        """Store items (each its own memory: dedup off) and record an importer's read positions in
        the same transaction, so a crash leaves both or neither and a rerun resumes exactly.
        `positions`: key -> value (None removes it); keys start with "position:" (memento.meta)."""
        checked = {meta.position_key(key): (None if value is None else validate.text(value, "position"))
                   for key, value in positions.items()}
        insert.check_embed(embed)
        new = [insert.numbered(index, item, self.dim) for index, item in enumerate(validate.items(items))]
        if not new:
            with connection.write_transaction(self._conn):
                meta.write_positions(self._conn, checked)
            return []
        return insert.insert(self._conn, self._vectors, new, embed, False, import_ids.ImportIds(),
                             also=lambda conn: meta.write_positions(conn, checked))

    @_one_at_a_time
    def forget_at(self, ids: Iterable[int], positions: Mapping[str, Optional[str]]) -> int:
        """Forget memories and set (None: remove) an importer's read positions in one transaction,
        remember_at() the other way round: a crash leaves both or neither. An id no longer stored
        (forgotten by hand since) is passed over; returns how many memories were forgotten."""
        checked_ids = [validate.memory_id(i) for i in ids]
        checked = {meta.position_key(key): (None if value is None else validate.text(value, "position"))
                   for key, value in positions.items()}
        with connection.write_transaction(self._conn):
            forgotten = sum(self._conn.execute(sqlfiles.query("delete_memory"), {"id": i}).fetchone() is not None
                            for i in checked_ids)
            if forgotten and self._vectors is not None:
                self._vectors.delete(checked_ids[0])  # applies the queue the delete trigger filled
            meta.write_positions(self._conn, checked)
        return forgotten

    @_one_at_a_time
    def positions(self, prefix: str) -> Dict[str, str]:
        """The read positions remember_at() recorded whose key starts with prefix ("position:...")."""
        return meta.read_positions(self._conn, prefix)

    def _remember_batches(self, items: Iterable[Item], batch_size: int,
                          progress: Optional[Callable[[int], None]], embed: str,
                          dedup: bool) -> Iterator[List[Memory]]:
        return insert.batches(self._conn, self._vectors, items, batch_size, progress, embed, dedup, self.dim)

    @_one_at_a_time
    def update(self, memory_id: int, *, text: Optional[str] = None, tags: Optional[Iterable[str]] = None,
               metadata: Optional[Mapping[str, Any]] = None, pinned: Optional[bool] = None,
               thread: Optional[str] = None, expires_at: validate.Timestamp = None,
               speaker: Optional[str] = None) -> Memory:
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
            "speaker": validate.speaker(speaker),
            "tags": None if tags is None else json.dumps(validate.tags(tags), ensure_ascii=False),
            "metadata": None if metadata is None else validate.metadata(metadata),
            "pinned": None if pinned is None else validate.flag(pinned, "pinned"),
            "updated_at": times.now_utc(),
        }
        vectors = None
        if self._vectors is not None and params["text"] is not None:
            vectors = self._vectors.embed([params["text"]])
        with connection.write_transaction(self._conn):
            row = self._conn.execute(sqlfiles.query("update_memory"), params).fetchone()
            if row is None:
                raise MemoryNotFoundError(f"no memory with id {memory_id}")
            time_cues.fill(self._conn)   # a new text's cue was cleared by its trigger
            memory = Memory.from_row(row)
            if self._vectors is not None and params["text"] is not None:
                memory = self._vectors.store([memory], vectors)[0]
        return memory

    @_one_at_a_time
    def forget(self, memory_id: int) -> None:
        """Delete a memory and its index entries for good."""
        memory_id = validate.memory_id(memory_id)
        with connection.write_transaction(self._conn):
            if self._conn.execute(sqlfiles.query("delete_memory"), {"id": memory_id}).fetchone() is None:
                raise MemoryNotFoundError(f"no memory with id {memory_id}")
            if self._vectors is not None:
                self._vectors.delete(memory_id)

    @_one_at_a_time
    def reinstate(self, memory_id: int) -> Memory:
        """Make a superseded memory current again (forgetting its superseder does not: see README)."""
        memory_id = validate.memory_id(memory_id)
        with connection.write_transaction(self._conn):
            row = self._conn.execute(sqlfiles.query("reinstate"), {"id": memory_id}).fetchone()
        if row is None:
            raise MemoryNotFoundError(f"no memory with id {memory_id}")
        return Memory.from_row(row)

    @_one_at_a_time
    def prune_expired(self) -> List[int]:
        """Delete every expired memory for good (vectors too); returns their ids."""
        with connection.write_transaction(self._conn):
            ids = [r[0] for r in self._conn.execute(sqlfiles.query("prune_expired"), {"now": times.now_utc()})]
            if ids and self._vectors is not None:
                self._vectors.delete(ids[0])  # applies the queue the delete trigger filled
        return sorted(ids)

    @_one_at_a_time
    def duplicates(self, *, near: Optional[float] = None) -> List[DuplicateGroup]:
        """Groups of current memories with the same text (after normalisation) in the same thread,
        oldest id first. near=0.95 (vector tiers): groups by cosine similarity >= near instead."""
        if near is not None:
            near = validate.finite_weight(near, "near")
            if not 0.0 < near <= 1.0:
                raise InvalidInputError(f"near must be a cosine similarity in (0, 1], not {near}")
            if self.tier not in tiers.VECTOR_TIERS:
                raise InvalidInputError(f"near-duplicates need a vector tier; this store is open in tier "
                                        f"{self.tier!r} (no model vectors)")
            from .vectors.near_duplicates import near_groups  # numpy: vector tiers only
            return near_groups(self._conn, self._vectors.model_id, near)
        with connection.write_transaction(self._conn):
            duplicates.rekey(self._conn)
        return duplicates.exact_groups(self._conn, times.now_utc())

    @_one_at_a_time
    def merge_duplicates(self) -> List[DuplicateGroup]:
        """Merge every exact duplicate group into its oldest memory (tags and metadata merged, later
        values winning), deleting the others, in one transaction. Returns the groups merged."""
        with connection.write_transaction(self._conn):
            duplicates.rekey(self._conn)
            now = times.now_utc()
            groups = duplicates.exact_groups(self._conn, now)
            for group in groups:
                duplicates.apply_group(self._conn, group, now)
            if groups and self._vectors is not None:
                self._vectors.delete(groups[0].keep)
        return groups

    @_one_at_a_time
    def config(self, key: str, value: Optional[str] = None, *, unset: bool = False) -> Optional[str]:
        """Read (value None), set or unset a store-wide setting kept in store_meta. Known keys:
        half_life_days (recall's default recency half-life, a positive number of days)."""
        if key not in CONFIG_KEYS:
            raise InvalidInputError(f"unknown setting {key!r}; known: {', '.join(sorted(CONFIG_KEYS))}")
        if value is None and not unset:
            return meta.read_setting(self._conn, key)
        if value is not None:
            value = str(CONFIG_KEYS[key](value))
        with connection.write_transaction(self._conn):
            meta.write_setting(self._conn, key, None if unset else value)
        return value

    # -- reading -------------------------------------------------------------------------------

    @_one_at_a_time
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
        after = {"after_id": 0, "after_created_at": "", "now": times.now_utc(),
                 "pinned": None if pinned is None else validate.flag(pinned, "pinned"),
                 "include_expired": validate.flag(include_expired, "include_expired")}
        return self._pages(_tag_filter(tags), validate.thread(thread),
                           validate.positive_int(page_size, "page_size"), after)

    @_one_at_a_time
    def newest(self, limit: int = 20, *, tags: Optional[Iterable[str]] = None) -> List[Memory]:
        """The `limit` newest memories by created_at (then id), newest first; expired ones left out."""
        rows = self._conn.execute(sqlfiles.query("list_newest"), {
            "limit": validate.positive_int(limit, "limit"), "tags": _tag_filter(tags),
            "now": times.now_utc()}).fetchall()
        return [Memory.from_row(row) for row in rows]

    def _pages(self, tag_filter: Optional[str], thread: Optional[str], page_size: int,
               after: dict) -> Iterator[Memory]:
        while True:
            # page by page: a caller may stop iterating or switch threads between pages
            with self._lock, connection.translate_errors(self.path):
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

    @_one_at_a_time
    def count(self, *, include_superseded: bool = False, include_expired: bool = False) -> int:
        """How many memories recall can return (neither superseded nor expired); include_superseded=True
        adds the superseded ones (then it is what iter() and `memento list` show), include_expired=True
        the expired ones not pruned yet (both: every stored memory, what export writes)."""
        counts = superseding.Counts.read(self._conn, times.now_utc())
        return counts.selected(validate.flag(include_superseded, "include_superseded"),
                               validate.flag(include_expired, "include_expired"))

    @_one_at_a_time
    def recall(self, query: str, *, k: int = 10, tags: Optional[Iterable[str]] = None,
               since: validate.Timestamp = None, until: validate.Timestamp = None,
               mode: Optional[str] = None, vector: Optional[Sequence[float]] = None,
               thread: Optional[str] = None, context: int = 0, include_superseded: bool = False,
               half_life_days: Optional[float] = None, as_of: validate.Timestamp = None,
               source: Optional[str] = None, min_score: Optional[float] = None) -> List[Hit]:
        """The k memories that best match `query`, best first. `tags` keeps memories carrying all of
        them; since (inclusive) / until (exclusive) bound created_at; `thread` keeps one thread's.
        `source` keeps the memories whose thread starts with source + "/": "claude-code" (Claude Code
        sessions, threads claude-code/<sessionId>), "openclaw" (OpenClaw sessions, threads
        openclaw/<agentId>/<sessionId>; "openclaw-sessions" is read as "openclaw"), "openclaw/main"
        (one agent's); a trailing "/" is dropped. Exact, case-sensitive, one range of the thread index.
        mode: "hybrid" (default in vector tiers and the pocket tier), "keyword" (the only one in the
        minimal tier) or "vector" (vector tiers). `vector`: the query's embedding, computed by the
        caller with this store's model, used instead of running the model (vector tiers).
        `context=n`: each hit carries up to n memories before and after it in its thread
        (Hit.context), so an agent sees the conversation around it; a memory this recall would not
        return (expired, superseded) is not among them.
        Expired memories are never recalled; superseded ones only with include_superseded=True.
        `half_life_days`: each score is multiplied by 0.5 ** (age in days / half_life_days), age
        from created_at to `as_of` (default now); pinned memories never decay. None: the store's
        setting (config("half_life_days")), else no decay; math.inf: no decay.
        Each hit carries its relevance (0..1, Hit.relevance: the estimated probability that it is
        what the query needs, falling down the list). `min_score` None (default): every hit, or none
        when even the best one's relevance is below the tier's floor (relevance_floor()): a query
        about nothing the store holds returns []. A number from 0 to 1: the hits whose relevance
        reaches it (0: every hit)."""
        request = self._recall_request(query, k=k, tags=tags, since=since, until=until, mode=mode,
                                       vector=vector, thread=thread, include_superseded=include_superseded,
                                       half_life_days=half_life_days, as_of=as_of, source=source,
                                       min_score=min_score)
        context = validate.context(context)
        if not request.query.strip() and request.qvec is None:
            return []
        if request.mode == "keyword" and request.match is None:
            return []
        hits = recalling.run(self._conn, request, self.ranking, self._split_scan, self._vectors)
        return [recalling.with_context(self._conn, h, context, request.now, request.include_superseded)
                for h in hits] if context else hits

    def _recall_request(self, query: str, *, k: int, tags: Optional[Iterable[str]], since: validate.Timestamp,
                        until: validate.Timestamp, mode: Optional[str], vector: Optional[Sequence[float]],
                        thread: Optional[str], include_superseded: bool, half_life_days: Optional[float],
                        as_of: validate.Timestamp, source: Optional[str],
                        min_score: Optional[float]) -> RecallRequest:
        """recall's arguments, checked, as a request for memento/recall.py."""
        query = validate.query(query)
        k = validate.k(k)
        since, until = validate.time_window(since, until)
        mode = self._mode(mode)
        qvec = None
        if vector is not None:
            if mode == "keyword" or self.dim is None:
                raise InvalidInputError("a query vector needs mode 'hybrid' or 'vector' (a vector tier); "
                                        f"this recall is {mode} in tier {self.tier!r}")
            qvec = validate.vector(vector, self.dim, "query vector")
        now = times.now_utc()
        include_superseded = validate.flag(include_superseded, "include_superseded")
        return RecallRequest(query=query, match=fts_query.build(query), k=k, mode=mode,
                                     tags=_tag_filter(tags), since=since, until=until,
                                     thread=validate.thread(thread), source=validate.source(source),
                                     qvec=qvec, now=now,
                                     include_superseded=include_superseded,
                                     half_life_days=self._half_life(half_life_days),
                                     as_of=validate.timestamp(as_of, "as_of"),
                                     min_score=validate.min_score(min_score))

    def best_relevance(self, query: str, **filters: Any) -> Optional[float]:
        """The relevance of the best match for `query` whatever the floor (recall's filters apply), or
        None when nothing matches at all: what a door reports when recall found nothing relevant."""
        hits = self.recall(query, k=1, min_score=0.0, **filters)
        return hits[0].relevance if hits else None

    @_one_at_a_time
    def relevance_floor(self, mode: Optional[str] = None) -> float:
        """recall(min_score=None) returns nothing when its best hit's relevance is below this (in
        this mode; default: the store's mode). 0 in a store of fewer than ranking.floor_from memories."""
        return self.ranking.floor_for(self._mode(mode), word_counts.row_count(self._conn))

    def _half_life(self, value: Optional[float]) -> Optional[float]:
        """recall's half-life: the caller's, else the store's setting; None = no decay."""
        if value is None:
            stored = meta.read_setting(self._conn, "half_life_days")
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
        if mode == "vector" and self.tier == tiers.POCKET:
            raise InvalidInputError("mode 'vector' needs a vector tier; the pocket tier re-scores keyword "
                                    "matches and their thread neighbours (modes: hybrid, keyword)")
        return mode

    @_one_at_a_time
    def stats(self) -> Stats:
        one = lambda name: self._conn.execute(sqlfiles.query(name)).fetchone()  # noqa: E731
        oldest, newest = one("time_range")
        wal = files.wal(self.path)
        counts = superseding.Counts.read(self._conn, times.now_utc())
        return Stats(
            path=str(self.path), tier=self.tier, memories=counts.selected(False, False),
            superseded=counts.superseded, expired=counts.expired, tags=one("count_tags")[0],
            pending_embeddings=self._vectors.pending() if self._vectors is not None else 0,
            oldest=oldest, newest=newest,
            file_bytes=self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0),
            schema_version=self._conn.pragma("user_version"),
            model=self._vectors.model_id if self._vectors is not None else meta.read_meta(self._conn).model,
            sqlite_version=apsw.sqlite_lib_version(),
        )

    @_one_at_a_time
    def backfill(self, *, batch_size: int = 256, progress: Optional[Callable[[int], None]] = None,
                 limit: Optional[int] = None) -> int:
        """Embed every memory still without a vector; returns how many were embedded.
        `progress(n)` is called after each batch. `limit`: embed at most this many, the oldest
        pending first (a small step, e.g. the MCP server's idle backfill); None: all of them.
        The minimal tier has nothing to embed (0)."""
        batch_size = validate.positive_int(batch_size, "batch_size")
        if limit is not None:
            limit = validate.positive_int(limit, "limit")
        if self._vectors is None:
            return 0
        done = self._vectors.backfill(batch_size, progress, limit)
        if limit is None:
            self._vectors.optimize()  # a whole backfill is maintenance time: cells too, when due
        return done

    @_one_at_a_time
    def optimize(self) -> Optional[int]:
        """Maintenance that is too slow for remember(): in a vector tier whose store has grown past
        its next threshold (20k vectors, then every 8x), partition the vectors into cells again so
        that vector search reads the cells nearest the query (memento/vectors/partitions.py; ~7 s at
        100k vectors, holding the write lock). Returns the number of cells made, or None when
        nothing was due (or the tier has no vector cells). `memento backfill` runs it too."""
        if self._vectors is None:
            return None
        return self._vectors.optimize()

    @_one_at_a_time
    def reembed(self, *, progress: Optional[Callable[[int], None]] = None) -> int:
        """Rebuild every vector with this tier's model (e.g. after a model change)."""
        if self._vectors is None:
            raise InvalidInputError(f"tier {self.tier!r} has no vectors to rebuild")
        self._vectors.reset()
        done = self._vectors.backfill(progress=progress)
        self._vectors.optimize()  # cells from the new vectors when the store is big enough
        return done

    @_one_at_a_time
    def doctor(self) -> List[Check]:
        """Run real checks on this store (write + search probe, integrity, indexes in step)."""
        return health.run_checks(self._conn, self.path, self._vectors)

    @_one_at_a_time
    def repair(self) -> List[Fix]:
        """Rebuild what drifted from the memories (keyword index, tag rows, vector bookkeeping, file
        permissions) and return what was fixed (memento.health.Fix; empty: nothing to fix). Refuses a
        store whose pages are damaged. Vector bookkeeping needs the store's vector tier."""
        return health.repair(self._conn, self.path, self._vectors)

    @_one_at_a_time
    def meta(self) -> meta.StoreMeta:
        """What the store records about itself: the tier it was last opened in, its vectors' model and dim."""
        return meta.read_meta(self._conn)


# Store-wide settings (Memento.config, `memento config`): key -> check of its value.
CONFIG_KEYS = {"half_life_days": lambda v: validate.half_life_days(v, allow_inf=False)}


def _tag_filter(tags: Optional[Iterable[str]]) -> Optional[str]:
    """JSON array for the SQL tag filter, or None for no filter."""
    normalized = validate.tags(tags)
    return json.dumps(normalized, ensure_ascii=False) if normalized else None
