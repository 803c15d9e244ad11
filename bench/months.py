"""What memory over months costs (issue 14).

1. Ingest: remember_many in batches of 500 into a fresh store, duplicate detection on (the default)
   vs off (dedup=False), same texts (the corpus repeats ~10% of its texts, as stores do). Best of
   --repeat runs each, alternating, in this process; the model (vector tiers) is loaded first.
2. Warm recall at each size on threaded stores: every feature off (the cached store as built) vs
   every feature on (a copy with 5% of memories expired, 5% superseded, 2% pinned, and
   half_life_days=30 on every recall), same queries. The threads issue's budgets: p50 at 10k
   keyword <= 2 ms, hybrid <= 8 ms; at 100k keyword <= 6 ms, hybrid <= 25 ms.

Stores live in $MEMENTO_BENCH_DIR (default /tmp/memento-bench): point it at a folder of its own,
since this branch migrates stores to schema 5 and older memento refuses them afterwards.
"""
from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import memento
from bench import corpus
from bench.common import build_store, percentiles, write_result
from memento import duplicates, times

BATCH = 500


def ingest_once(tier: str, texts, dedup: bool, work: Path) -> float:
    path = work / f"{tier}-{'dedup' if dedup else 'plain'}-{time.perf_counter_ns()}.db"
    with memento.open(path, tier=tier) as mem:
        if mem._vectors is not None:
            mem._vectors.embed(texts[:64])  # model loaded and warm before the clock starts
        started = time.perf_counter()
        for i in range(0, len(texts), BATCH):
            mem.remember_many(texts[i:i + BATCH], dedup=dedup)
        elapsed = time.perf_counter() - started
        stored = mem.count()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return elapsed, stored


def bench_ingest(tier: str, n: int, repeat: int) -> list:
    texts = corpus.texts(n, seed=3)
    best = {True: (float("inf"), 0), False: (float("inf"), 0)}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            for dedup in (False, True):
                elapsed, stored = ingest_once(tier, texts, dedup, Path(tmp))
                best[dedup] = min(best[dedup], (elapsed, stored))
    rows = []
    for dedup in (False, True):
        elapsed, stored = best[dedup]
        rows.append({"tier": tier, "dedup": dedup, "n": n, "stored": stored, "seconds": round(elapsed, 3),
                     "per_s": round(n / elapsed, 1)})
    ratio = rows[1]["per_s"] / rows[0]["per_s"]
    print(f"{tier:>8} ingest {n:,}: dedup off {rows[0]['per_s']:,.0f}/s ({rows[0]['stored']:,} rows), "
          f"on {rows[1]['per_s']:,.0f}/s ({rows[1]['stored']:,} rows): on/off {ratio:.2f}")
    return rows


def bench_rekey(n: int) -> dict:
    """Keying rows that have no key (after migration 005, or shell edits): rows per second."""
    with tempfile.TemporaryDirectory() as tmp:
        with memento.open(Path(tmp) / "rekey.db", tier="minimal") as mem:
            for i in range(0, n, 5000):
                mem.remember_many(corpus.texts(n, seed=3)[i:i + 5000], dedup=False)
            mem._conn.execute("UPDATE memories SET text_key = NULL")
            started = time.perf_counter()
            with mem._conn:
                keyed = duplicates.rekey(mem._conn)
            elapsed = time.perf_counter() - started
    print(f"   rekey {keyed:,} rows: {elapsed:.2f} s ({keyed / elapsed:,.0f} rows/s)")
    return {"rows": keyed, "seconds": round(elapsed, 3), "per_s": round(keyed / elapsed)}


def months_copy(path: Path, tier: str) -> Path:
    """A copy of the store with 5% expired, 5% superseded (by a random newer memory), 2% pinned."""
    copy = path.with_name(path.stem + "-months.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    with memento.open(path, tier=tier) as mem:
        mem._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(path, copy)
    rng = random.Random(14)
    with memento.open(copy, tier=tier) as mem:
        ids = [r[0] for r in mem._conn.execute("SELECT id FROM memories ORDER BY id")]
        picked = rng.sample(ids, len(ids) * 12 // 100)
        n5 = len(ids) * 5 // 100
        conn = mem._conn
        with conn:
            for i in picked[:n5]:
                conn.execute("UPDATE memories SET expires_at = '2020-01-01T00:00:00.000Z' WHERE id = ?", (i,))
            for i in picked[n5:2 * n5]:
                conn.execute("UPDATE memories SET superseded_by = ? WHERE id = ?", (i + 1 if i < ids[-1] else i - 1, i))
            for i in picked[2 * n5:]:
                conn.execute("UPDATE memories SET pinned = 1 WHERE id = ?", (i,))
            # Everything else expires in the future: a store that uses expiry everywhere.
            conn.execute("UPDATE memories SET expires_at = '2999-01-01T00:00:00.000Z' WHERE expires_at IS NULL "
                         "AND id % 3 = 0")
    return copy


def warm(path: Path, tier: str, mode: str, queries, **kwargs) -> dict:
    with memento.open(path, tier=tier) as mem:
        for q in queries[:20]:
            mem.recall(q, k=10, mode=mode, **kwargs)
        samples = []
        for q in queries:
            started = time.perf_counter()
            mem.recall(q, k=10, mode=mode, **kwargs)
            samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def bench_recall(tier: str, size: int, queries) -> list:
    path = build_store(tier, size, threads=True)
    on = months_copy(path, tier)
    rows = []
    for mode in (["keyword"] if tier == "minimal" else ["keyword", "hybrid"]):
        # Interleaved twice, best p50 kept: the 2 shared cores make single runs noisy.
        runs = {"off": [], "on": []}
        for _ in range(2):
            runs["off"].append(warm(path, tier, mode, queries))
            runs["on"].append(warm(on, tier, mode, queries, half_life_days=30))
        off = min(runs["off"], key=lambda r: r["p50_ms"])
        onr = min(runs["on"], key=lambda r: r["p50_ms"])
        rows.append({"tier": tier, "mode": mode, "size": size, "features": "off", **off})
        rows.append({"tier": tier, "mode": mode, "size": size, "features": "on", **onr})
        print(f"{tier:>8} {mode:>8} {size:>7,}: p50 off {off['p50_ms']:.2f} ms, on {onr['p50_ms']:.2f} ms "
              f"(x{onr['p50_ms'] / off['p50_ms']:.2f}); p95 off {off['p95_ms']:.2f}, on {onr['p95_ms']:.2f}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiers", default="minimal,full")
    ap.add_argument("--ingest", default="minimal:20000,full:2000", help="tier:n pairs for the ingest part")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--sizes", default="10000")
    ap.add_argument("--rekey", type=int, default=100_000, help="rows to re-key (0: skip)")
    ap.add_argument("--out", default="months", help="bench/results/<OUT>.json (e.g. months_100k)")
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    ingest = []
    for pair in filter(None, args.ingest.split(",")):
        tier, n = pair.split(":")
        ingest += bench_ingest(tier, int(n), args.repeat)
    rekey = bench_rekey(args.rekey) if args.rekey else None
    recall = []
    queries = corpus.queries(args.queries)
    for tier in filter(None, args.tiers.split(",")):
        for size in map(int, args.sizes.split(",")):
            recall += bench_recall(tier, size, queries)
    write_result(args.out, {"batch": BATCH, "ingest": ingest, "rekey": rekey, "recall": recall, "half_life_days": 30,
                            "when_utc": times.now_utc()})


if __name__ == "__main__":
    main()
