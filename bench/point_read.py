"""The fill's cost: reading the float vectors of 50 given memories (keyword candidates and thread
neighbours) by rowid, from memories_vec's auxiliary column, against a plain table keyed by id.
Random unit vectors (the read does not depend on what they mean); a 10k-row store."""
from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from array import array
from pathlib import Path

import memento
from bench.common import write_result


def main(size: int = 10_000, reads: int = 50, rounds: int = 200) -> None:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        with memento.open(Path(tmp) / "p.db", tier="full") as mem:
            dim = mem.dim
            vecs = [[rng.gauss(0, 1) for _ in range(dim)] for _ in range(size)]
            for i in range(0, size, 2000):
                mem.remember_many([{"text": f"note {j}", "vector": v} for j, v in enumerate(vecs[i:i + 2000], i)])
            conn = mem._conn  # the bench reads SQL directly: the question is the storage layout
            conn.execute("CREATE TABLE plain_vectors (id INTEGER PRIMARY KEY, embedding BLOB)")
            conn.execute("INSERT INTO plain_vectors SELECT rowid, embedding FROM memories_vec")
            q = array("f", vecs[0]).tobytes()
            sqls = {
                "vec0 auxiliary column, rowid = ?":
                    "SELECT vec_distance_cosine(embedding, ?1) FROM memories_vec WHERE rowid = ?2",
                "plain table, id = ?":
                    "SELECT vec_distance_cosine(embedding, ?1) FROM plain_vectors WHERE id = ?2",
            }
            rows = []
            for label, sql in sqls.items():
                samples = []
                for _ in range(rounds):
                    ids = rng.sample(range(1, size + 1), reads)
                    started = time.perf_counter()
                    for i in ids:
                        conn.execute(sql, (q, i)).fetchall()
                    samples.append((time.perf_counter() - started) * 1000)
                p50 = statistics.median(samples)
                rows.append({"how": label, "reads": reads, "p50_ms": round(p50, 3),
                             "per_read_us": round(p50 * 1000 / reads, 1)})
                print(f"{label:<36} {reads} reads: p50 {p50:.3f} ms ({p50 * 1000 / reads:.1f} us a read)")
    write_result("point_read", {"size": size, "rows": rows})


if __name__ == "__main__":
    sys.exit(main())
