"""Vector cells: a big store's vectors split around centroids computed from the store itself, so that
vector search reads the cells nearest the query instead of every vector (issue 23).

- A store with fewer than PARTITION_FROM vectors has no centroids: every vector is in cell 0 and
  search reads them all (exactly as without cells).
- Partitioning (inside the caller's write transaction): spherical k-means (cosine) on a sample of
  the store's vectors, about 2 x sqrt(vectors) cells, every vector written again into the cell of
  its nearest centroid (vec0 cannot update a partition key: memories_vec is made again). It runs
  when a batch of writes takes the largest memory id past a threshold: PARTITION_FROM, then GROWTH
  x the largest id at the last partitioning, so a growing store is partitioned O(log N) times and
  rewrites O(N) vectors in all (GROWTH = 8: each vector about 1/7 more writes).
- Every vector written after that goes to the cell of its nearest centroid (VectorIndex._write):
  the centroids are read once and kept while the store's partition version is unchanged (checked
  in each write transaction, so another process's partitioning is seen).
- `memento doctor` checks that every vector's cell has its centroid; --repair partitions again.

numpy is a vector-tier dependency; the minimal path never imports this module.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import apsw
import numpy as np

from .. import meta, sqlfiles

PARTITION_FROM = 20_000    # vectors: below, one cell (search reads every vector)
GROWTH = 8                 # partition again when the largest memory id reaches GROWTH x the last one
SAMPLE_PER_CELL = 32       # k-means sample: this many vectors per cell (at most every vector)
ROUNDS = 8                 # k-means rounds
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
    for _ in range(rounds):
        nearest = np.argmax(x @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, x)
        norms = np.linalg.norm(sums, axis=1)
        filled = norms > 0
        centroids[filled] = sums[filled] / norms[filled, None]
    return centroids


def nearest(x: np.ndarray, ids: np.ndarray, centroids: np.ndarray, chunk: int = 32_768) -> np.ndarray:
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


def partition(conn: apsw.Connection, create_sql: str, force: bool = False) -> int:
    """Partition the store's vectors anew (inside the caller's write transaction): centroids from a
    sample, memories_vec made again with every vector in its nearest cell. Fewer than
    PARTITION_FROM vectors (and not force): no centroids, every vector in cell 0. Returns the
    number of cells (0: not partitioned)."""
    largest = conn.execute(sqlfiles.query("largest_memory_id")).get or 0
    rows = conn.execute(sqlfiles.query("vec_all")).fetchall()
    count = len(rows)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    x = as_matrix([r[1] for r in rows], len(rows[0][1]) // 4) if rows else np.zeros((0, 0), np.float32)
    del rows
    conn.execute(sqlfiles.query("vector_partitions_clear"))
    if count >= PARTITION_FROM or (force and count >= 16):
        k = min(cells_for(count), count)
        rng = np.random.default_rng(0)
        sample = x[rng.choice(count, min(count, SAMPLE_PER_CELL * k), replace=False)]
        centroids = kmeans(sample, k).astype("<f4")
        cell_ids = np.arange(1, k + 1, dtype=np.int64)
        cells = nearest(x, cell_ids, centroids)
        conn.executemany(sqlfiles.query("vector_partition_insert"),
                         ({"id": int(i), "centroid": c.tobytes()} for i, c in zip(cell_ids, centroids)))
    else:
        k, cells = 0, np.zeros(count, dtype=np.int64)
    conn.execute(sqlfiles.query("drop_vec"))  # vec0 cannot move a vector to another cell: made again
    conn.execute(create_sql)
    conn.executemany(sqlfiles.query("vec_insert"),
                     ({"id": int(i), "cell": int(c), "embedding": v.tobytes()} for i, c, v in zip(ids, cells, x)))
    version = int(meta.read_setting(conn, VERSION_KEY) or 0) + 1
    meta.write_setting(conn, VERSION_KEY, str(version))
    meta.write_setting(conn, NEXT_KEY, str(GROWTH * max(largest, 1) if k else max(largest, 0) + PARTITION_FROM - count))
    return k
