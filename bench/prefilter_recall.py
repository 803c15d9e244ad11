"""How much the sign-bit prefilter loses: recall@10 of (hamming KNN top-N, then exact cosine) against
exact cosine KNN over every vector, and the time of each, on a store of realistic text."""
from __future__ import annotations

import argparse
import time

import memento
from bench import corpus
from bench.common import build_store, percentiles, write_result

EXACT = "SELECT rowid FROM memories_vec ORDER BY vec_distance_cosine(embedding, :q) LIMIT 10"
PREFILTERED = """
WITH c AS MATERIALIZED (SELECT rowid AS id, embedding FROM memories_vec
                        WHERE embedding_bits MATCH vec_quantize_binary(:q) AND k = :n)
SELECT id FROM c ORDER BY vec_distance_cosine(embedding, :q) LIMIT 10"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tier", default="full")
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--prefilter", default="50,100,200,400")
    args = ap.parse_args()
    path = build_store(args.tier, args.size)
    rows = []
    with memento.open(path, tier=args.tier) as mem:
        conn, embedder = mem._vectors._conn, mem._vectors.embedder
        vectors = embedder.embed(corpus.queries(args.queries, seed=5))
        exact, exact_ms = [], []
        for q in vectors:
            started = time.perf_counter()
            exact.append({r[0] for r in conn.execute(EXACT, {"q": q})})
            exact_ms.append((time.perf_counter() - started) * 1000)
        print(f"exact KNN over {args.size:,}: p50 {percentiles(exact_ms)['p50_ms']:.1f} ms")
        for n in map(int, args.prefilter.split(",")):
            recall, times = [], []
            for q, truth in zip(vectors, exact):
                started = time.perf_counter()
                got = {r[0] for r in conn.execute(PREFILTERED, {"q": q, "n": n})}
                times.append((time.perf_counter() - started) * 1000)
                recall.append(len(got & truth) / len(truth))
            row = {"prefilter": n, "recall_at_10": round(sum(recall) / len(recall), 4), **percentiles(times)}
            rows.append(row)
            print(f"prefilter {n:>4}: recall@10 vs exact {row['recall_at_10']:.3f}, p50 {row['p50_ms']:.1f} ms")
    write_result(f"prefilter_recall_{args.size}", {"tier": args.tier, "size": args.size,
                                      "exact": percentiles(exact_ms), "rows": rows})


if __name__ == "__main__":
    main()
