"""Vector cells: a big store's vectors split around centroids computed from the store itself, so that
vector search reads the cells nearest the query instead of every vector (issue 23).

- A store with fewer than PARTITION_FROM vectors has no centroids: every vector is in cell 0 and
  search reads them all (exactly as without cells).
- Partitioning: spherical k-means (cosine) on a sample of the store's vectors, about 2 x sqrt(vectors)
  cells, every vector written again into the cell of its nearest centroid (vec0 cannot update a
  partition key: memories_vec is made again). It rewrites every vector (~7 s at 100k on 2 cores), so
  it never runs inside remember(): `Memento.optimize()` (`memento optimize`, and `memento backfill`
  at its end) partitions once the largest memory id has passed a threshold: PARTITION_FROM, then
  GROWTH x the largest id at the last partitioning, so a growing store is partitioned O(log N) times
  and rewrites O(N) vectors in all (GROWTH = 8: each vector about 1/7 more writes). Memory stays
  bounded: the vectors pass through a temporary table and numpy in slices (CHUNK), never all at once.
- Every vector written in between goes to the cell of its nearest centroid (VectorIndex._write), so a
  store that is due keeps working, its cells only grow: the centroids are read once and kept while
  the store's partition version is unchanged (checked in each write transaction, so another
  process's partitioning is seen).
- `memento doctor` checks that every vector's cell has its centroid and says when partitioning is
  due; --repair partitions again.

numpy is a vector-tier dependency; the minimal path never imports this module.
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional, Sequence, Tuple

import apsw
import numpy as np

from .. import meta, sqlfiles

PARTITION_FROM = 20_000    # vectors: below, one cell (search reads every vector)
GROWTH = 8                 # partition again when the largest memory id reaches GROWTH x the last one
SAMPLE_PER_CELL = 32       # k-means sample: this many vectors per cell (at most every vector)
ROUNDS = 8                 # k-means rounds
CHUNK = 4_096              # vectors read, assigned and written at a time (a 1M store: ~30 MB of numpy)
ONE_CELL_CHUNK = 1_024     # vec0's chunk_size (vectors a chunk holds) for a table of one cell: vec0's default
NEXT_KEY = "vector_partition_next"        # store_meta: the largest memory id that partitions again
VERSION_KEY = "vector_partition_version"  # store_meta: changes with every partitioning


def cells_for(vectors: int) -> int:
    """How many cells a store of this many vectors gets: ~2 x sqrt, so a cell holds ~sqrt / 2."""
    return max(16, int(2 * math.sqrt(vectors)))


def kmeans(x: np.ndarray, k: int, rounds: int = ROUNDS, seed: int = 0) -> np.ndarray:
    """Spherical k-means of unit vectors x (n x dim) -> k unit centroids (k x dim); a cell that
    loses every vector keeps its centroid."""
    rng = np.random.default_rng(seed)
    centroids = x[rng.choice(len(x), k, replace=False)].copy()
    every = np.arange(k, dtype=np.int64)
    for _ in range(rounds):
        cell = nearest(x, every, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, cell, x)
        norms = np.linalg.norm(sums, axis=1)
        filled = norms > 0
        centroids[filled] = sums[filled] / norms[filled, None]
    return centroids


def nearest(x: np.ndarray, ids: np.ndarray, centroids: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """The cell (its id) of the nearest centroid of each row of x, by cosine (all unit vectors)."""
    return np.concatenate([ids[np.argmax(x[i:i + chunk] @ centroids.T, axis=1)]
                           for i in range(0, len(x), chunk)]) if len(x) else np.zeros(0, dtype=np.int64)


def as_matrix(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)


class Cells:
    """The store's centroids, read once per partition version; each new vector's cell. Each write
    reads the version (one store_meta row: this connection's partitioning, or its rollback, changes
    it); when another connection has committed (SQLite's data_version, no statement) the number of
    centroids is read too, so a shell edit of vector_partitions is seen as well."""

    def __init__(self, dim: int):
        self._dim = dim
        self._seen: Optional[int] = None  # the data_version the centroids were checked at
        self._key: Optional[Tuple[Optional[str], int]] = ("unread", -1)
        self._ids = np.zeros(0, dtype=np.int64)
        self._centroids = np.zeros((0, dim), dtype=np.float32)

    def of(self, conn: apsw.Connection, vectors: Sequence[bytes]) -> List[int]:
        """The cell of each vector (stored form), read in the caller's write transaction: 0 while the
        store has no centroids."""
        self._refresh(conn)
        if not len(self._ids):
            return [0] * len(vectors)
        return [int(c) for c in nearest(as_matrix(vectors, self._dim), self._ids, self._centroids)]

    def forget(self) -> None:
        """This connection partitioned: look again at the next write."""
        self._seen = None

    def _refresh(self, conn: apsw.Connection) -> None:
        seen = conn.data_version()
        if seen == self._seen and self._key is not None:
            key = (meta.read_setting(conn, VERSION_KEY), self._key[1])
        else:
            key = (meta.read_setting(conn, VERSION_KEY), conn.execute(sqlfiles.query("vector_partitions_count")).get)
        self._seen = seen
        if key != self._key:
            rows = conn.execute(sqlfiles.query("vector_partitions_read")).fetchall()
            self._ids = np.array([r[0] for r in rows], dtype=np.int64)
            self._centroids = (as_matrix([r[1] for r in rows], self._dim) if rows
                               else np.zeros((0, self._dim), np.float32))
            self._key = key


def due(conn: apsw.Connection) -> bool:
    """Has the store grown past the id that partitions again? O(1): two point reads."""
    largest = conn.execute(sqlfiles.query("largest_memory_id")).get or 0
    return largest >= int(meta.read_setting(conn, NEXT_KEY) or PARTITION_FROM)


def chunk_size_for(vectors: int, cells: int) -> int:
    """vec0's chunk_size for a table of `cells` cells: about a cell's mean size (a multiple of 8, as
    vec0 requires). vec0 gives every cell chunks of its own, each the whole chunk_size long however
    few vectors it holds: 632 cells of ~160 vectors in chunks of 1,024 left 84% of the int8 and bit
    chunks empty (a 100k store grew from 296 to 535 MiB). A bigger cell takes a few chunks."""
    mean = -(-vectors // max(cells, 1))
    return max(8, min(ONE_CELL_CHUNK, -(-mean // 8) * 8))


def partition(conn: apsw.Connection, create_sql: Callable[[int], str], force: bool = False) -> int:
    """Partition the store's vectors anew (inside the caller's write transaction): centroids from a
    sample, memories_vec made again (create_sql(chunk_size): its CREATE statement) with every vector
    in its nearest cell. Fewer than PARTITION_FROM vectors (and not force): no centroids, every
    vector in cell 0. Returns the number of cells (0: not partitioned)."""
    largest = conn.execute(sqlfiles.query("largest_memory_id")).get or 0
    ids = np.array([r[0] for r in conn.execute(sqlfiles.query("vec_ids"))], dtype=np.int64)
    count = len(ids)
    conn.execute(sqlfiles.query("vector_partitions_clear"))
    cell_ids = np.zeros(0, dtype=np.int64)
    if count >= PARTITION_FROM or (force and count >= 16):
        k = min(cells_for(count), count)
        chosen = np.sort(np.random.default_rng(0).choice(ids, min(count, SAMPLE_PER_CELL * k), replace=False))
        blobs = [conn.execute(sqlfiles.query("vec_one"), {"id": int(i)}).get for i in chosen]
        sample = as_matrix(blobs, len(blobs[0]) // 4)
        del blobs
        centroids = kmeans(sample, k).astype("<f4")
        del sample
        cell_ids = np.arange(1, k + 1, dtype=np.int64)
        conn.executemany(sqlfiles.query("vector_partition_insert"),
                         ({"id": int(i), "centroid": c.tobytes()} for i, c in zip(cell_ids, centroids)))
    # vec0 cannot move a vector to another cell, nor be renamed: the vectors wait in a temporary
    # table (a file, not memory) while memories_vec is made again, then come back a slice at a time.
    conn.execute(sqlfiles.query("vector_staging_drop"))
    conn.execute(sqlfiles.query("vector_staging_create"))
    try:
        conn.execute(sqlfiles.query("vector_staging_fill"))
        conn.execute(sqlfiles.query("drop_vec"))
        conn.execute(create_sql(chunk_size_for(count, len(cell_ids)) if len(cell_ids) else ONE_CELL_CHUNK))
        after = -1
        while True:
            rows = conn.execute(sqlfiles.query("vector_staging_slice"), {"after": after, "n": CHUNK}).fetchall()
            if not rows:
                break
            after = rows[-1][0]
            vectors = [r[1] for r in rows]
            cells = (nearest(as_matrix(vectors, len(vectors[0]) // 4), cell_ids, centroids) if len(cell_ids)
                     else np.zeros(len(rows), dtype=np.int64))
            conn.executemany(sqlfiles.query("vec_insert"),
                             ({"id": r[0], "cell": int(c), "embedding": r[1]} for r, c in zip(rows, cells)))
    finally:
        conn.execute(sqlfiles.query("vector_staging_drop"))
    _new_version(conn)
    k = len(cell_ids)
    meta.write_setting(conn, NEXT_KEY, str(GROWTH * max(largest, 1) if k else max(largest, 0) + PARTITION_FROM - count))
    return k


def forget(conn: apsw.Connection) -> None:
    """The vectors are dropped (another model): no centroids, and the next partitioning is due at
    PARTITION_FROM again, so a store re-embedded whole is partitioned by the next optimize."""
    conn.execute(sqlfiles.query("vector_partitions_clear"))
    meta.write_setting(conn, NEXT_KEY, None)
    _new_version(conn)


def _new_version(conn: apsw.Connection) -> None:
    """The centroids changed: every connection's Cells reads them again at its next write."""
    meta.write_setting(conn, VERSION_KEY, str(int(meta.read_setting(conn, VERSION_KEY) or 0) + 1))
