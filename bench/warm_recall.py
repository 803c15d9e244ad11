"""Warm recall latency: one open store, the model (if any) loaded, many different queries;
p50/p95/p99 per tier, mode and store size."""
from __future__ import annotations

import argparse
import time

import memento
from bench import corpus
from bench.common import build_store, merge_rows, percentiles, write_result

MODES = {"minimal": ["keyword"], "pocket": ["keyword", "hybrid"]}   # the others: vector tiers


def measure(path, tier: str, mode: str, queries, k: int = 10, vectors=None):
    """vectors: the queries' embeddings, given to recall(vector=): times the SQL without the model."""
    vectors = vectors or [None] * len(queries)
    with memento.open(path, tier=tier) as mem:
        for q, v in list(zip(queries, vectors))[:20]:  # warm-up: page cache, model load, statement cache
            mem.recall(q, k=k, mode=mode, vector=v)
        samples = []
        for q, v in zip(queries, vectors):
            started = time.perf_counter()
            mem.recall(q, k=k, mode=mode, vector=v)
            samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def query_vectors(tier: str, queries):
    from memento.vectors.embedder import Embedder
    from memento.vectors.registry import model_for_tier
    return Embedder(model_for_tier(tier)).embed(queries)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tiers", default="minimal")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--threads", action="store_true", help="conversation turns in threads (corpus.threaded)")
    args = ap.parse_args()
    queries = corpus.queries(args.queries)
    rows = []
    for tier in args.tiers.split(","):
        modes = MODES.get(tier, ["keyword", "vector", "hybrid"])
        for size in map(int, args.sizes.split(",")):
            path = build_store(tier, size, threads=args.threads)
            given = query_vectors(tier, queries) if tier not in MODES else None   # model vectors only
            for mode in modes + (["hybrid, query vector given"] if given else []):
                if mode.endswith("given"):
                    stats = measure(path, tier, "hybrid", queries, vectors=given)
                else:
                    stats = measure(path, tier, mode, queries)
                rows.append({"tier": tier, "mode": mode, "size": size, "threads": args.threads, **stats})
                print(f"{tier:>8} {mode:>8} {size:>7,}{' threads' if args.threads else ''}: p50 {stats['p50_ms']:.2f} ms  p95 {stats['p95_ms']:.2f}"
                      f"  p99 {stats['p99_ms']:.2f}")
    write_result("warm_recall", {"k": 10, "rows": merge_rows("warm_recall", rows, ("tier", "mode", "size", "threads"))})


if __name__ == "__main__":
    main()
