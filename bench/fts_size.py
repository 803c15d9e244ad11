"""Size of the keyword index with the context column: the same conversation turns (corpus.threaded)
stored with threads (context = the previous turn's text) and without (context empty); bytes of the
memories_fts shadow tables and of the whole file, from SQLite's dbstat."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import apsw

import memento
from bench import corpus
from bench.common import write_result


def sizes(path: Path) -> dict:
    conn = apsw.Connection(str(path))
    try:
        rows = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
    finally:
        conn.close()
    fts = sum(v for k, v in rows.items() if k.startswith("memories_fts"))
    return {"fts_bytes": fts, "memories_bytes": rows.get("memories", 0), "file_bytes": sum(rows.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in map(int, args.sizes.split(",")):
            items = corpus.threaded(size)
            out = {}
            for threads in (False, True):
                path = Path(tmp) / f"{size}-{threads}.db"
                with memento.open(path, tier="minimal") as mem:
                    batch = [it if threads else {k: v for k, v in it.items() if k != "thread"} for it in items]
                    for i in range(0, size, 5000):
                        mem.remember_many(batch[i:i + 5000], dedup=False)  # every corpus text a row
                out[threads] = sizes(path)
            row = {"memories": size, "fts_bytes_without_threads": out[False]["fts_bytes"],
                   "fts_bytes_with_threads": out[True]["fts_bytes"],
                   "fts_ratio": round(out[True]["fts_bytes"] / out[False]["fts_bytes"], 2),
                   "file_bytes_without_threads": out[False]["file_bytes"],
                   "file_bytes_with_threads": out[True]["file_bytes"]}
            rows.append(row)
            print(f"{size:>7,} memories: FTS index {row['fts_bytes_without_threads'] / 1e6:.1f} MB without threads, "
                  f"{row['fts_bytes_with_threads'] / 1e6:.1f} MB with the context column (x{row['fts_ratio']}); "
                  f"file {row['file_bytes_without_threads'] / 1e6:.1f} -> {row['file_bytes_with_threads'] / 1e6:.1f} MB")
    write_result("fts_size", {"corpus": "bench/corpus.threaded", "rows": rows})


if __name__ == "__main__":
    main()
