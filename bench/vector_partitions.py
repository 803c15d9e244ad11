"""Partitioned vector search, a study for issue 23 (not yet memento's statement): how many partitions,
how many probed, how long a hamming list per partition give recall@10 >= 0.95 against the exact KNN,
and at what latency, on bench/scale.py's stores (LoCoMo dev turns copied into threads).

The layout measured is what memento would store: vec0(partition integer partition key,
embedding_bits bit[384], +embedding blob) with centroids from k-means (cosine, numpy) over a sample of
the store's vectors, every vector in the partition of its nearest centroid. A search takes the
:nprobe nearest centroids (SQL over a plain table of centroids), asks vec0 for the hamming-nearest
:per_partition of each (vec0 runs one KNN per partition key of an IN list), and ranks those by exact
cosine from the auxiliary floats, as recall_hybrid.sql's vector CTE does. Recall@10 is tie-aware as
in bench/scale.py. The flat row is today's search (hamming KNN of 40 over every vector).

    python bench/vector_partitions.py --data /work/shared/eval/locomo-dev.json --sizes 100000,1000000
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import apsw  # noqa: E402
import numpy as np  # noqa: E402

from bench import locomo, scale  # noqa: E402
from bench.common import STORES, merge_rows, write_result  # noqa: E402
from memento import connection  # noqa: E402

SEARCH = """
WITH probe AS MATERIALIZED (
  SELECT id FROM centroids ORDER BY vec_distance_cosine(centroid, :qvec) LIMIT +:nprobe
),
pre AS MATERIALIZED (
  SELECT rowid AS id FROM vec WHERE embedding_bits MATCH vec_quantize_binary(:qvec)
    AND k = :per_partition AND partition IN (SELECT id FROM probe)
)
SELECT pre.id, vec_distance_cosine(a.value00, :qvec) AS d
FROM pre CROSS JOIN vec_auxiliary AS a ON a.rowid = pre.id
ORDER BY d LIMIT 20
"""
FLAT = """
WITH pre AS MATERIALIZED (
  SELECT rowid AS id FROM memories_vec WHERE embedding_bits MATCH vec_quantize_binary(:qvec) AND k = 40
)
SELECT pre.id, vec_distance_cosine(a.value00, :qvec) AS d
FROM pre CROSS JOIN memories_vec_auxiliary AS a ON a.rowid = pre.id
ORDER BY d LIMIT 20
"""
ASSIGN = "SELECT id FROM centroids ORDER BY vec_distance_cosine(centroid, :v) LIMIT 1"


def kmeans(x: np.ndarray, k: int, rounds: int = 10, seed: int = 0) -> np.ndarray:
    """Spherical k-means (unit vectors, cosine) on x; empty clusters keep their centroid."""
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


def partitioned_copy(store: Path, nlist: int, sample: int) -> Dict[str, object]:
    """A side file: the store's vectors in nlist partitions (cached by nlist)."""
    side = store.with_suffix(f".ivf{nlist}.db")
    conn = apsw.Connection(str(store), flags=apsw.SQLITE_OPEN_READONLY)
    ids, blobs = zip(*conn.execute("SELECT rowid, value00 FROM memories_vec_auxiliary"))
    x = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), -1)
    conn.close()
    if side.exists():
        return {"path": side, "x": x, "ids": np.array(ids)}
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    centroids = kmeans(x[rng.choice(len(x), min(len(x), sample), replace=False)], nlist)
    kmeans_s = time.perf_counter() - started
    part = np.concatenate([np.argmax(x[i:i + 65536] @ centroids.T, axis=1) for i in range(0, len(x), 65536)])
    assign_s = time.perf_counter() - started - kmeans_s
    out = apsw.Connection(str(side) + ".partial")
    connection.load_vec0(out)
    with out:
        out.execute("CREATE TABLE centroids (id INTEGER PRIMARY KEY, centroid BLOB NOT NULL)")
        out.executemany("INSERT INTO centroids VALUES (?, ?)", [(j, c.tobytes()) for j, c in enumerate(centroids)])
        out.execute(f"CREATE VIRTUAL TABLE vec USING vec0(partition integer partition key, "
                    f"embedding_bits bit[{x.shape[1]}], +embedding blob)")
        out.executemany("INSERT INTO vec (rowid, partition, embedding_bits, embedding) "
                        "VALUES (?, ?, vec_quantize_binary(?), ?)",
                        ((int(i), int(p), v.tobytes(), v.tobytes()) for i, p, v in zip(ids, part, x)))
    sizes = np.bincount(part, minlength=nlist)
    insert_s = time.perf_counter() - started - kmeans_s - assign_s
    # per-insert cost of finding a new vector's partition in SQL (what a write path would pay)
    t = time.perf_counter()
    for v in x[:500]:
        out.execute(ASSIGN, {"v": v.tobytes()}).fetchall()
    assign_one_us = (time.perf_counter() - t) / 500 * 1e6
    out.close()
    Path(str(side) + ".partial").rename(side)
    print(f"  {side.name}: k-means {kmeans_s:.1f}s, assign {assign_s:.1f}s, insert {insert_s:.1f}s; "
          f"partition sizes {sizes.min()}..{sizes.max()} (median {int(np.median(sizes))}); "
          f"one insert's partition lookup {assign_one_us:.0f} us", file=sys.stderr)
    (side.with_suffix(".json")).write_text(__import__("json").dumps(
        {"kmeans_s": kmeans_s, "assign_s": assign_s, "insert_s": insert_s, "assign_one_us": assign_one_us,
         "sizes_min": int(sizes.min()), "sizes_max": int(sizes.max()), "sizes_median": int(np.median(sizes))}))
    return {"path": side, "x": x, "ids": np.array(ids)}


def run(conn: apsw.Connection, sql: str, params: dict, qvecs: List[bytes], exact_d10: List[float]):
    times, recalls = [], []
    for qv, d10 in zip(qvecs, exact_d10):
        started = time.perf_counter()
        rows = conn.execute(sql, {**params, "qvec": qv}).fetchall()
        times.append((time.perf_counter() - started) * 1000)
        recalls.append(min(10, sum(1 for _, d in rows[:10] if d <= d10 + 1e-6)) / 10)
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(ordered[int(0.95 * len(ordered))], 3),
            "recall_at_10": round(statistics.fmean(recalls), 4)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--label", default="before", help="bench/scale.py's store folder")
    ap.add_argument("--nlist", default="256,1024")
    ap.add_argument("--grid", default="8:10,8:20,16:10,16:20,32:10,32:20", help="nprobe:per_partition pairs")
    args = ap.parse_args(argv)
    convs, _ = locomo.load(args.data)
    qs = scale.questions(convs)
    turns = scale.dev_turns(convs)
    vectors = scale.embeddings([t.text for _, t in turns] + list(qs))
    qvecs = [vectors[q] for q in qs]
    rows = []
    for n in map(int, args.sizes.split(",")):
        store = STORES / "scale" / args.label / f"{scale.TIER}-{n}.db"
        for nlist in map(int, args.nlist.split(",")):
            side = partitioned_copy(store, nlist, sample=min(n, 64 * nlist))
            x = side["x"]
            exact_d10 = [float(np.sort(1.0 - x @ np.frombuffer(q, dtype=np.float32))[9]) for q in qvecs]
            conn = apsw.Connection(str(side["path"]))
            connection.load_vec0(conn)
            conn.execute("ATTACH :p AS store", {"p": str(store)})
            if nlist == int(args.nlist.split(",")[0]):
                flat = run(conn, FLAT, {}, qvecs, exact_d10)
                rows.append({"n": n, "search": "flat hamming 40 (today)", **flat})
                print(n, rows[-1])
            for pair in args.grid.split(","):
                nprobe, per = map(int, pair.split(":"))
                got = run(conn, SEARCH, {"nprobe": nprobe, "per_partition": per}, qvecs, exact_d10)
                rows.append({"n": n, "search": f"nlist {nlist} nprobe {nprobe} per_partition {per}",
                             "nlist": nlist, "nprobe": nprobe, "per_partition": per, **got})
                print(n, rows[-1])
            conn.close()
    write_result("vector_partitions", {"data": args.data.name, "questions": len(qs),
                                       "rows": merge_rows("vector_partitions", rows, ("n", "search"))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
