"""A store's vector index (vector tiers only): memories_vec, embedding, backfill, hybrid recall.

Imported by store.open() only when the tier has embeddings, so the minimal tier never loads it.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

import apsw

from .. import connection, pending, sqlfiles
from ..errors import ModelMismatchError, StoreError
from ..health import Check, Fix, run_check
from ..meta import StoreMeta, read_meta, record_meta
from ..opening import StoreFile
from ..values import Memory
from . import model_files, partitions, registry
from .embedder import Embedder

log = logging.getLogger("memento")

BACKFILL_BATCH = 256


class VectorIndex:
    statement = "recall_hybrid"   # the recall statement of modes "hybrid" and "vector" (memento/recall.py)
    counts_hidden = True          # it sizes its KNN list by how many memories are hidden
    reads_partitions = True       # it searches one cell's list when the store has centroids (:partitioned)
    nearest_statement = "nearest_vectors"  # its vector side alone, run beside the keyword search in
                                  # a big store (memento/split_scan.py)
    embeds_aside = True           # the model releases the GIL: the question is embedded in a thread
                                  # while the keyword side searches (memento/recall.py)

    def __init__(self, conn: apsw.Connection, path: Path, spec: registry.ModelSpec, embedder: Embedder):
        self._conn = conn
        self.path = path
        self.spec = spec
        self.embedder = embedder
        self._cells = partitions.Cells(int(spec.dim))
        self._batch_cells: dict = {}  # vector -> cell, found for a whole batch at once (prepare)

    @property
    def model_id(self) -> str:
        return self.spec.id

    @property
    def dim(self) -> int:
        """The size of the vectors a caller may pass (remember/recall vector=)."""
        return self.spec.dim

    def close(self) -> None:
        """Nothing to release: the model and the store's connection go with the Memento."""

    @classmethod
    def attach(cls, store: StoreFile, tier: str, *, adopt_model: bool = False) -> "VectorIndex":
        """Load vec0, check the store's model, create memories_vec if needed, apply queued deletes.

        A store whose vectors come from another model raises ModelMismatchError, unless
        adopt_model: then its old vectors are dropped and every memory is pending (see reembed).
        A store that needs none of this is not written to (no write lock is taken)."""
        conn, path = store.conn, store.path
        spec = registry.model_for_tier(tier)
        connection.load_vec0(conn)
        _check_model(store.meta, spec, path, tier, adopt_model)
        if _needs_setup(conn, store.meta, spec):
            if store.read_only:
                what = ("its vector index in an older layout, which is made again on the first open with "
                        "write access" if store.meta.model == spec.id else f"no {tier!r} vectors to search")
                raise StoreError(f"{path} is read-only and has {what}: open it with "
                                 f"tier={store.meta.tier or 'minimal'!r}, or once with write access")
            with connection.translate_errors(path), connection.temp_on_disk(conn), \
                    connection.write_transaction(conn):
                meta = read_meta(conn)  # under the lock: another process may have changed it
                _check_model(meta, spec, path, tier, adopt_model)
                if meta.model != spec.id:
                    conn.execute(sqlfiles.query("drop_vec"))
                    conn.execute(sqlfiles.query("reset_vectors"))
                    conn.execute(sqlfiles.query("clear_vector_deletes"))
                    partitions.forget(conn)
                dim = int(spec.dim)  # the one value formatted into SQL: an int from our own registry
                if conn.execute(sqlfiles.query("vec_table_exists")).get \
                        and not conn.execute(sqlfiles.query("vec_layout_current")).get:
                    # A store from before cells or the int8 column: made again, its cells kept.
                    partitions.partition(conn, partial(create_sql, dim),
                                         force=conn.execute(sqlfiles.query("vector_partitions_count")).get > 0)
                conn.execute(create_sql(dim))
                record_meta(conn, path, model=spec.id, dim=dim)
                _apply_queued_deletes(conn)
        elif not store.read_only and not conn.execute(sqlfiles.query("vec_chunk_index_exists")).get:
            # The index that finds a cell's chunks (create_vec.sql), dropped in the shell or never made
            # (a store whose memories_vec came before it): search works without it, only slower, so
            # it is made when nobody is writing, as queued deletes are applied below.
            try:
                with connection.busy_timeout(conn, 0), connection.write_transaction(conn):
                    conn.execute(create_sql(int(spec.dim)))
            except apsw.Error as e:  # busy, full disk...: the store still opens and searches
                log.info("index memories_vec_chunks_by_cell not made now: %s", e)
        if not store.read_only and conn.execute(sqlfiles.query("queued_vector_deletes")).get:
            # Deletes queued by a keyword-only visit: applied now if nobody is writing, else left for the
            # next vector-tier forget or open. Opening never waits for another process's write lock.
            try:
                with connection.busy_timeout(conn, 0), connection.write_transaction(conn):
                    _apply_queued_deletes(conn)
            except apsw.BusyError:
                pass
        _check_float_column(conn, path)
        return cls(conn, path, spec, Embedder(spec))

    # -- writing -------------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> List[bytes]:
        return self.embedder.embed(texts)

    def store(self, memories: List[Memory], vectors: List[Optional[bytes]]) -> List[Memory]:
        """Write vectors for memories (inside the caller's transaction); returns them marked.
        A None vector leaves its memory pending (embed="later")."""
        marked = []
        for memory, vector in zip(memories, vectors):
            if vector is not None:
                self._write(memory.id, vector)
                memory = replace(memory, embedded_with=self.spec.id)
            marked.append(memory)
        return marked

    @contextlib.contextmanager
    def batch(self, vectors: Sequence[Optional[bytes]]) -> Iterator[None]:
        """Around a batch's writes, inside its write transaction: the cells of all its vectors found at
        once (one matrix product instead of one per vector), forgotten when the batch ends (a failed
        batch's cells must not outlive the centroids they were found with)."""
        given = [v for v in vectors if v]
        self._batch_cells = dict(zip(given, self._cells.of(self._conn, given))) if given else {}
        try:
            yield
        finally:
            self._batch_cells = {}

    def _write(self, memory_id: int, vector: bytes) -> None:
        """Replace the memory's vector, in the cell of its nearest centroid, and record the model that
        made it (caller's transaction)."""
        cell = self._batch_cells.pop(vector, None)
        if cell is None:
            cell = self._cells.of(self._conn, [vector])[0]
        self._conn.execute(sqlfiles.query("vec_delete"), {"id": memory_id})
        self._conn.execute(sqlfiles.query("vec_insert"), {"id": memory_id, "cell": cell, "embedding": vector})
        self._conn.execute(sqlfiles.query("mark_embedded"), {"id": memory_id, "model": self.spec.id})

    def optimize(self) -> Optional[int]:
        """Partition the vectors again when the store has grown past the next threshold (its own write
        transaction: it rewrites every vector, memento/vectors/partitions.py); returns the number of
        cells, or None when nothing was due (two point reads)."""
        if not partitions.due(self._conn):
            return None
        self._cells.forget()
        with connection.temp_on_disk(self._conn), connection.write_transaction(self._conn):
            if not partitions.due(self._conn):  # another process partitioned meanwhile
                return None
            return partitions.partition(self._conn, partial(create_sql, int(self.spec.dim)))

    def partition(self) -> int:
        """Partition the vectors anew now, however few (tests, benches); returns the number of cells."""
        self._cells.forget()
        with connection.temp_on_disk(self._conn), connection.write_transaction(self._conn):
            return partitions.partition(self._conn, partial(create_sql, int(self.spec.dim)), force=True)

    def delete(self, memory_id: int) -> None:
        """After a forget (inside its transaction): the trigger queued the vector; drop it now."""
        _apply_queued_deletes(self._conn)

    def pending(self) -> int:
        return self._conn.execute(sqlfiles.query("pending_count")).get

    def backfill(self, batch_size: int = BACKFILL_BATCH, progress: Optional[Callable[[int], None]] = None,
                 limit: Optional[int] = None) -> int:
        """Embed memories stored without a vector (embed="later", a keyword-only visit, changed text).
        Each batch is embedded outside the write lock, then written if its text is still the same.
        `limit`: look at no more than this many pending memories (None: all of them).
        Called inside a Memento call, which turns SQLite's errors into ours."""
        return pending.backfill(self._conn, self.embed, self.batch, self._write, batch_query="pending_batch",
                                text_query="text_of", batch_size=batch_size, progress=progress, limit=limit)

    def reset(self) -> None:
        """Mark every memory pending (the next backfill re-embeds all of them)."""
        with connection.write_transaction(self._conn):
            self._conn.execute(sqlfiles.query("reset_vectors"))

    # -- reading -------------------------------------------------------------------------------

    def query_vector(self, query: str) -> bytes:
        """The query's embedding in stored form, for the hybrid statement (memento/recall.py)."""
        return self.embedder.embed_one(query)

    def checks(self) -> List[Check]:
        return [run_check(name, run) for name, run in (
            ("vector rows belong to live memories", self._check_orphans),
            ("embedded memories have vectors", self._check_missing),
            ("vectors come from the store's model", self._check_other_model),
            ("pending embeddings", self._check_pending),
            ("vector cells have their centroids", self._check_cells),
            ("model files", self._check_model_files))]

    def _count(self, name: str, **params) -> int:
        return self._conn.execute(sqlfiles.query(name), params).get

    def _check_orphans(self) -> Check:
        orphans = self._count("vec_rows_without_memory")
        return Check("vector rows belong to live memories", orphans == 0, f"{orphans} orphan vectors"
                     + (" (fix: memento doctor --repair)" if orphans else ""))

    def _check_missing(self) -> Check:
        missing = self._count("embedded_without_vector_count", model=self.spec.id)
        return Check("embedded memories have vectors", missing == 0,
                     f"{missing} marked embedded without a vector (fix: memento doctor --repair)" if missing
                     else f"{self._count('vec_row_count')} vectors")

    def _check_other_model(self) -> Check:
        other = self._count("other_model_count", model=self.spec.id)
        return Check("vectors come from the store's model", other == 0,
                     f"{other} memories embedded by another model than {self.spec.id!r} "
                     "(fix: memento doctor --repair, then memento backfill)" if other else self.spec.id)

    def _check_cells(self) -> Check:
        outside = self._count("vec_rows_outside_cells")
        cells = self._count("vector_partitions_count")
        due = "; partitioning is due: `memento optimize`" if partitions.due(self._conn) else ""
        return Check("vector cells have their centroids", outside == 0,
                     f"{outside} vectors in cells without a centroid: search never reads them "
                     "(fix: memento doctor --repair)" if outside
                     else (f"{cells} cells" if cells else "one cell (not partitioned)") + due)

    def _check_pending(self) -> Check:
        pending = self.pending()
        return Check("pending embeddings", True, f"{pending} (run `memento backfill`)" if pending else "none")

    def _check_model_files(self) -> Check:
        try:
            model_files.model_dir(self.spec)  # verifies every file's sha256
            return Check("model files", True, f"{self.spec.id}: sha256 of every file verified")
        except Exception as e:  # noqa: BLE001 - reported, not raised: doctor lists every failure
            return Check("model files", False, f"{type(e).__name__}: {e}")

    def repair(self) -> List[Fix]:
        """Inside the caller's transaction: fix vector bookkeeping that drifted (see sql/queries/vectors.sql)."""
        fixes = []
        model = {"model": self.spec.id}
        for count, fix, params, name, detail in (
                ("vec_rows_without_memory", "delete_orphan_vectors", {}, "orphan vectors",
                 "deleted the vectors of forgotten memories"),
                ("embedded_without_vector_count", "mark_pending_without_vector", model,
                 "memories without their vector", "marked pending: `memento backfill` embeds them"),
                ("other_model_count", "mark_pending_other_model", model, "vectors from another model",
                 f"marked pending: `memento backfill` embeds them with {self.spec.id}")):
            n = self._count(count, **params)
            if n:
                self._conn.execute(sqlfiles.query(fix), params)
                fixes.append(Fix(name, n, detail))
        _apply_queued_deletes(self._conn)
        outside = self._count("vec_rows_outside_cells")
        if outside:
            had = self._count("vector_partitions_count") > 0
            self._cells.forget()
            cells = partitions.partition(self._conn, partial(create_sql, int(self.spec.dim)), force=had)
            fixes.append(Fix("vectors outside their cells", outside,
                             f"partitioned again: {cells} cells" if cells else "one cell again (not partitioned)"))
        return fixes


def create_sql(dim: int, chunk_size: int = partitions.ONE_CELL_CHUNK) -> str:
    """memories_vec's CREATE statement for vectors of `dim` numbers (an int from the registry), vec0
    keeping `chunk_size` vectors a chunk (partitions.chunk_size_for: an int, a multiple of 8)."""
    return sqlfiles.script("vector", "create_vec.sql").format(dim=int(dim), chunk=int(chunk_size))


def _check_model(meta: StoreMeta, spec: registry.ModelSpec, path: Path, tier: str, adopt_model: bool) -> None:
    if meta.model is not None and meta.model != spec.id and not adopt_model:
        raise ModelMismatchError(
            f"{path} holds vectors from {meta.model!r} ({meta.dim}-d); tier {tier!r} uses {spec.id!r}. "
            f"Re-embed it with `memento reembed --db {path} --tier {tier}`, or open it with "
            f"tier={meta.tier or 'its own tier'!r} (or tier='minimal' for keyword-only)")


def _needs_setup(conn: apsw.Connection, meta: StoreMeta, spec: registry.ModelSpec) -> bool:
    """Read-only look: must attaching this model write (a new model, or no memories_vec yet)?
    Queued deletes may wait: recall never returns a forgotten memory, whose row is gone."""
    if meta.model != spec.id or meta.dim != spec.dim:
        return True
    return not conn.execute(sqlfiles.query("vec_table_exists")).get \
        or not conn.execute(sqlfiles.query("vec_layout_current")).get


def _check_float_column(conn: apsw.Connection, path: Path) -> None:
    if not conn.execute(sqlfiles.query("vec_float_column_exists")).get:
        import sqlite_vec
        raise StoreError(f"{path}: this sqlite-vec ({getattr(sqlite_vec, '__version__', '?')}) keeps memories_vec's "
                         "float vectors where memento does not read them; install sqlite-vec 0.1.x "
                         "(pip install 'sqlite-vec>=0.1.6,<0.2')")


def _apply_queued_deletes(conn: apsw.Connection) -> None:
    conn.execute(sqlfiles.query("apply_vector_deletes"))
    conn.execute(sqlfiles.query("clear_vector_deletes"))
