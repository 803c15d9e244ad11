"""A store's pocket side (the pocket tier only): memories_pocket, each memory's static vector, computed
at write time (or by backfill), and the recall statement's cosine function.

Imported by store.open() only in the pocket tier. It has the interface of vectors/index.py's
VectorIndex that the store and the remember pipeline use (embed, store, pending, backfill, ...), so
every write path computes a memory's static vector as a vector tier computes its embedding. It
never touches vec0 or memories.embedded_with: a store carries pocket vectors and a vector tier's
vectors side by side, each tier filling what it lacks with its own backfill.
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

import apsw

from .. import connection, meta, pending, sqlfiles, word_counts
from ..errors import StoreError
from ..health import Check, Fix, run_check
from ..opening import StoreFile
from ..values import Memory
from . import table as table_file

BACKFILL_BATCH = 512
_WORD = re.compile(r"\w+")   # a word of the question, as connection.fold_name splits a name
TABLE_KEY = "pocket_table"   # store_meta: the id of the table that made memories_pocket's vectors
STATEMENT = "recall_pocket"


class PocketIndex:
    dim = None                  # no caller vectors: a static vector is always this tier's own
    statement = STATEMENT       # the recall statement of mode "hybrid" (memento/recall.py)
    counts_hidden = False       # the statement needs only whether any memory is hidden, not how many
    reads_partitions = False    # no vector search: whether the store has centroids does not matter
    embeds_aside = False        # pure Python (holds the GIL) and ~0.1 ms: a thread would cost more
    nearest_statement = None    # no vector search to run beside the keyword search

    def __init__(self, conn: apsw.Connection, path: Path, table: table_file.StaticTable):
        self._conn = conn
        self.path = path
        self.table = table

    @property
    def model_id(self) -> str:
        return self.table.id

    @classmethod
    def attach(cls, store: StoreFile) -> "PocketIndex":
        """Open the shipped table, register memento_cosines, and create memories_pocket when the store
        has none or has vectors of another table (then they are dropped: every memory is pending).
        A store that needs none of this is not written to."""
        conn, path = store.conn, store.path
        table = table_file.StaticTable()
        conn.create_aggregate_function("memento_cosines", table_file.Cosines, 4)
        if _needs_setup(conn, table.id):
            if store.read_only:
                table.close()
                raise StoreError(f"{path} is read-only and has no pocket vectors to search: open it with "
                                 f"tier={store.meta.tier or 'minimal'!r}, or once with write access")
            with connection.translate_errors(path), connection.write_transaction(conn):
                if _needs_setup(conn, table.id):   # under the lock: another process may have done it
                    conn.execute(sqlfiles.script("pocket", "create_pocket.sql"))
                    conn.execute(sqlfiles.query("pocket_reset"))
                    meta.write_setting(conn, TABLE_KEY, table.id)
        return cls(conn, path, table)

    def close(self) -> None:
        self.table.close()

    # -- writing -------------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> List[bytes]:
        return self.table.vectors(texts)

    def store(self, memories: List[Memory], vectors: List[Optional[bytes]]) -> List[Memory]:
        """Write static vectors (inside the caller's transaction). A None vector leaves its memory
        pending (embed="later")."""
        for memory, vector in zip(memories, vectors):
            if vector is not None:
                self._write(memory.id, vector)
        return memories

    # Vector cells' hooks (memento/vectors/partitions.py): static vectors are not placed in cells,
    # so there is nothing to do before a batch's writes nor to optimize.
    @contextlib.contextmanager
    def batch(self, vectors: Sequence[Optional[bytes]]) -> Iterator[None]:
        """Around a batch's writes (VectorIndex finds its vectors' cells here)."""
        yield

    def optimize(self) -> Optional[int]:
        """Nothing to partition (VectorIndex partitions its vectors when the store has grown)."""
        return None

    def _write(self, memory_id: int, vector: bytes) -> None:
        self._conn.execute(sqlfiles.query("pocket_write"),
                           {"id": memory_id, "vec": vector, "norm": table_file.norm(vector)})

    def delete(self, memory_id: int) -> None:
        """After a forget: the trigger memories_pocket_forget has deleted the vector already."""

    def pending(self) -> int:
        return self._conn.execute(sqlfiles.query("pocket_pending_count")).get

    def backfill(self, batch_size: int = BACKFILL_BATCH, progress: Optional[Callable[[int], None]] = None,
                 limit: Optional[int] = None) -> int:
        """Compute the static vector of every memory without one (embed="later", another tier's
        writes, changed texts), a batch at a time: computed outside the write lock, written if the
        memory is still pending with the same text."""
        return pending.backfill(self._conn, self.embed, self.batch, self._write, batch_query="pocket_pending_batch",
                                text_query="pocket_pending_text", batch_size=batch_size,
                                progress=progress, limit=limit)

    def reset(self) -> None:
        """Every memory pending (the next backfill computes all of them again)."""
        with connection.write_transaction(self._conn):
            self._conn.execute(sqlfiles.query("pocket_reset"))

    # -- reading -------------------------------------------------------------------------------

    def query_vector(self, query: str) -> bytes:
        """The question's static vector, without the words that name a stored speaker: they say who,
        not what, and the statement reads them already (the keyword part, the speaker factor). In the
        vector they pulled every turn of the person named towards the question, and a question naming
        the wrong person (LoCoMo's adversarial category) towards that person's turns: LoCoMo dev R@10
        0.7639 -> 0.7641 LOCO, adversarial 0.829 -> 0.850 (bench/results/locomo_boosts_pocket_drop_boosts.json).
        A memory's own vector keeps its speaker's name (leaving it out cost 0.003 R@10). Past
        SPEAKERS_LISTED distinct speakers in the store the names are not read (that read would follow
        every write) and the question's vector keeps them."""
        with self._conn:   # the speakers, read in one snapshot (kept until the next write)
            names = word_counts.listed_speaker_words(self._conn)
        if names:
            query = _WORD.sub(lambda word: "" if connection.fold_name(word.group()) in names else word.group(),
                              query)
        return self.table.vector(query)

    def checks(self) -> List[Check]:
        return [run_check(name, run) for name, run in (
            ("pocket vectors belong to live memories", self._check_orphans),
            ("pending pocket vectors", self._check_pending),
            ("pocket table", self._check_table))]

    def _check_orphans(self) -> Check:
        orphans = self._conn.execute(sqlfiles.query("pocket_orphan_count")).get
        return Check("pocket vectors belong to live memories", orphans == 0,
                     f"{orphans} orphan pocket vectors (fix: memento doctor --repair)" if orphans
                     else f"{self._conn.execute(sqlfiles.query('pocket_vector_count')).get} vectors")

    def _check_pending(self) -> Check:
        pending = self.pending()
        return Check("pending pocket vectors", True, f"{pending} (run `memento backfill`)" if pending else "none")

    def _check_table(self) -> Check:
        actual = table_file.file_hash(self.table.path)
        ok = actual == table_file.SHA256
        return Check("pocket table", ok, f"{self.table.id}: sha256 verified" if ok else
                     f"{self.table.path} has sha256 {actual}, expected {table_file.SHA256}: reinstall memento-openclaw")

    def repair(self) -> List[Fix]:
        """Inside the caller's transaction: drop vectors whose memory is gone."""
        orphans = self._conn.execute(sqlfiles.query("pocket_orphan_count")).get
        if not orphans:
            return []
        self._conn.execute(sqlfiles.query("pocket_delete_orphans"))
        return [Fix("orphan pocket vectors", orphans, "deleted the static vectors of forgotten memories")]


def _needs_setup(conn: apsw.Connection, table_id: str) -> bool:
    """Read-only look: must attaching write (no memories_pocket yet, or vectors of another table)?"""
    if not conn.execute(sqlfiles.query("pocket_table_exists")).get:
        return True
    return meta.read_setting(conn, TABLE_KEY) != table_id
