"""A million memories: recall latency against store size, on real conversational text (issue 23).

Stores of 10k / 100k / 1M memories are built from the LoCoMo dev set's turns (--data PATH; the file
is CC BY-NC, never copied into the repository): the conversations are copied into new threads
(`<conv>/session_<n>/copy_<c>`) until N memories, each turn with its speaker and its session's
time, as bench/locomo.py stores them. Vectors: each unique text is embedded once with the full
tier's model, and every copy is written with that vector through the library's caller-vector path
(remember_stream(vector=...)), so a store holds what remembering those texts would write.

Per store, every question of a fixed subset of the dev set's questions (every third of the 997
scored ones, all categories: 333) is asked in turn in each mode, the modes interleaved per question
so that the machine's load hits them alike:
  raw_fts     FTS5 alone: bm25 top-10 of the same MATCH expression (memento's column weights)
  keyword     recall(mode="keyword")
  raw_vec     vec0 exact KNN top-10 (float[384], cosine) over the same vectors, in a side file
  vector      recall(mode="vector", vector=the question's embedding)
  hybrid_sql  recall(mode="hybrid", vector=the question's embedding): the SQL alone
  hybrid      recall(mode="hybrid"): the query embedded by the model, then the SQL
p50 / p95 per mode of the wall time and of the CPU time (the process's, worker threads included: on
shared cores the wall time is mostly waiting for a core, the CPU time is the work), the ratios
keyword / raw_fts and vector, hybrid_sql / raw_vec, build time
(ingest through the public API, one transaction per batch, then `optimize`: its own time is
recorded as optimize_s), file size, and each one's growth
from one N to the next. recall@10 of the vector candidates against the exact KNN is tie-aware
(copies share a vector): a returned memory counts when its cosine distance is within the exact
10th-best distance.

    nice -n 10 python bench/scale.py --data locomo-dev.json --sizes 10000,100000
    python bench/scale.py --data ... --sizes 1000000 --label after     # rows merge into scale.json

Stores are cached under $MEMENTO_BENCH_DIR (default /tmp/memento-bench)/scale/<label>/ with their
build time beside them; --rebuild builds again.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import apsw  # noqa: E402

import memento  # noqa: E402
from bench import locomo  # noqa: E402
from bench.common import STORES, merge_rows, percentiles, write_result  # noqa: E402
from memento import connection, fts_query  # noqa: E402

TIER = "full"
MODES = ("raw_fts", "keyword", "raw_vec", "vector", "hybrid_sql", "hybrid")
BATCH = 5_000
QUESTION_STRIDE = 3

RAW_FTS = ("SELECT rowid FROM memories_fts WHERE memories_fts MATCH :match "
           "ORDER BY bm25(memories_fts, :text_weight, :tag_weight, :context_weight) LIMIT 10")
RAW_VEC = "SELECT rowid, distance FROM raw.exact_vec WHERE embedding MATCH :qvec AND k = 10"


# -- the data ---------------------------------------------------------------------------------------

def dev_turns(convs: Sequence[locomo.Conversation]) -> List[Tuple[str, locomo.Turn]]:
    return [(c.conv_id, t) for c in convs for t in c.turns]


def questions(convs: Sequence[locomo.Conversation]) -> List[str]:
    """Every QUESTION_STRIDE-th scored question of the dev set (all five categories)."""
    return [q.text for c in convs for q in c.questions][::QUESTION_STRIDE]


def embeddings(texts: Sequence[str]) -> Dict[str, bytes]:
    """Each unique text's vector in stored form (the full tier's model), cached beside the stores."""
    from memento.vectors.embedder import Embedder
    from memento.vectors.registry import model_for_tier
    spec = model_for_tier(TIER)
    unique = sorted(set(texts))
    key = hashlib.sha256("\n".join(unique).encode()).hexdigest()[:16]
    cache = STORES / "scale" / f"vectors-{spec.id}-{key}.json"
    if cache.exists():
        return {t: bytes.fromhex(v) for t, v in json.loads(cache.read_text()).items()}
    started = time.perf_counter()
    vectors = Embedder(spec).embed(unique)
    print(f"  embedded {len(unique):,} unique texts in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({t: v.hex() for t, v in zip(unique, vectors)}))
    return dict(zip(unique, vectors))


def items(turns: Sequence[Tuple[str, locomo.Turn]], vectors: Dict[str, bytes], n: int) -> Iterator[dict]:
    """n memories: the dev conversations, copied into new threads until there are n."""
    for i in range(n):
        copy, (conv_id, turn) = divmod(i, len(turns))[0], turns[i % len(turns)]
        yield {"text": turn.text, "created_at": turn.iso, "speaker": turn.speaker,
               "thread": f"{conv_id}/session_{turn.session}/copy_{copy}", "vector": vectors[turn.text]}


# -- building ----------------------------------------------------------------------------------------

def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def build(folder: Path, n: int, turns, vectors, rebuild: bool) -> Dict[str, object]:
    """The store of n memories (cached with its build facts in <store>.json)."""
    path, facts = folder / f"{TIER}-{n}.db", folder / f"{TIER}-{n}.json"
    if facts.exists() and path.exists() and not rebuild:
        return {**json.loads(facts.read_text()), "path": str(path)}
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with memento.open(path, tier=TIER) as mem:
        stored = mem.remember_stream(items(turns, vectors, n), batch_size=BATCH, dedup=False)
        written = time.perf_counter()
        cells = mem.optimize()  # what `memento optimize` (or a whole backfill) does once the store is due
    build_s = time.perf_counter() - started
    optimize_s = time.perf_counter() - written
    assert stored == n, (stored, n)
    out = {"n": n, "build_s": round(build_s, 2), "rows_per_s": round(n / build_s), "file_bytes": file_bytes(path),
           "optimize_s": round(optimize_s, 2), "cells": cells}
    facts.write_text(json.dumps(out))
    print(f"  built {path}: {n:,} memories in {build_s:.1f}s ({optimize_s:.1f}s of it optimize: {cells} cells), "
          f"{out['file_bytes'] / 2**20:.0f} MiB", file=sys.stderr)
    return {**out, "path": str(path)}


def raw_vectors(store: Path) -> Path:
    """A side file with vec0's exact float KNN over the store's vectors (the raw_vec baseline)."""
    side = store.with_suffix(".rawvec.db")
    if side.exists():
        return side
    conn = apsw.Connection(str(store))
    connection.load_vec0(conn)
    conn.execute("ATTACH :p AS raw", {"p": str(side) + ".partial"})
    with conn:
        conn.execute("CREATE VIRTUAL TABLE raw.exact_vec USING vec0(embedding float[384] distance_metric=cosine)")
        conn.execute("INSERT INTO raw.exact_vec (rowid, embedding) SELECT rowid, value00 FROM memories_vec_auxiliary")
    conn.close()
    Path(str(side) + ".partial").rename(side)
    return side


# -- measuring ---------------------------------------------------------------------------------------

def nearest(conn: apsw.Connection, qvec: bytes, model: str) -> List[Tuple[int, float]]:
    """The vector side's candidates as recall's statement finds them (sql: nearest_vectors)."""
    from memento import sqlfiles, times
    from memento.ranking import RecallRequest, for_model
    request = RecallRequest(query="", match=None, k=10, mode="vector", qvec=qvec, model=model,
                            now=times.now_utc(), hidden=0, any_hidden=False)
    return [(i, d) for i, d in conn.execute(sqlfiles.query("nearest_vectors"), request.params(for_model(model)))]


def recall_vs_exact(found: List[Tuple[int, float]], exact: List[Tuple[int, float]]) -> float:
    """Tie-aware recall@10: the share of the exact top 10 that the candidates' best 10 match
    (a candidate counts when it lies within the exact 10th distance; copies share a distance)."""
    if not exact:
        return 1.0
    bound = max(d for _, d in exact) + 1e-6
    return min(10, sum(1 for _, d in sorted(found, key=lambda r: r[1])[:10] if d <= bound)) / min(10, len(exact))


def distinct_recall(found: List[Tuple[int, float]], text_of_id, nearest_texts: List[int]) -> float:
    """Recall@10 over distinct texts: the candidates' best 10 texts against the 10 nearest texts."""
    seen: List[int] = []
    for i, _ in sorted(found, key=lambda r: r[1]):
        t = text_of_id(i)
        if t not in seen:
            seen.append(t)
    return len(set(seen[:10]) & set(nearest_texts)) / 10


def measure(store: Path, qs: Sequence[str], qvecs: Dict[str, bytes], passes: int,
            setting: Dict[str, object], turns: Sequence[Tuple[str, locomo.Turn]],
            vectors: Dict[str, bytes]) -> Dict[str, object]:
    import numpy as np
    side = raw_vectors(store)
    # memories were stored in turn order from id 1 (a fresh store, dedup off): id -> text
    texts = sorted({t.text for _, t in turns})
    index = {t: i for i, t in enumerate(texts)}
    turn_text = [index[t.text] for _, t in turns]
    unique = np.frombuffer(b"".join(vectors[t] for t in texts), dtype="<f4").reshape(len(texts), -1)
    distinct: List[float] = []
    samples: Dict[str, List[float]] = {m: [] for m in MODES}
    cpu: Dict[str, List[float]] = {m: [] for m in MODES}
    recalls: List[float] = []
    with memento.open(store, tier=TIER) as mem:
        conn = mem._conn  # the bench reads the same connection for the raw baselines
        conn.execute("ATTACH :p AS raw", {"p": str(side)})
        if setting:
            from dataclasses import replace
            mem.ranking = replace(mem.ranking, **setting)
        weights = mem.ranking.params()

        def raw_fts(q: str) -> None:
            match = fts_query.build(q)
            if match:
                conn.execute(RAW_FTS, {**weights, "match": match}).fetchall()

        run = {"raw_fts": raw_fts,
               "keyword": lambda q: mem.recall(q, k=10, mode="keyword"),
               "raw_vec": lambda q: conn.execute(RAW_VEC, {"qvec": qvecs[q]}).fetchall(),
               "vector": lambda q: mem.recall(q, k=10, mode="vector", vector=qvecs[q]),
               "hybrid_sql": lambda q: mem.recall(q, k=10, mode="hybrid", vector=qvecs[q]),
               "hybrid": lambda q: mem.recall(q, k=10, mode="hybrid")}
        for q in qs[:20]:  # warm-up: page cache, model, statements
            for mode in MODES:
                run[mode](q)
        for p in range(passes):
            for q in qs:
                for mode in MODES:
                    started, cpu_started = time.perf_counter(), time.process_time()
                    run[mode](q)
                    samples[mode].append((time.perf_counter() - started) * 1000)
                    cpu[mode].append((time.process_time() - cpu_started) * 1000)
                if p == 0:
                    exact = [(i, d) for i, d in conn.execute(RAW_VEC, {"qvec": qvecs[q]})]
                    found = nearest(conn, qvecs[q], mem.model)
                    recalls.append(recall_vs_exact(found, exact))
                    sims = unique @ np.frombuffer(qvecs[q], dtype="<f4")
                    distinct.append(distinct_recall(found, lambda i: turn_text[(i - 1) % len(turn_text)],
                                                    [int(j) for j in np.argsort(-sims, kind="stable")[:10]]))
        conn.execute("DETACH raw")
    stats = {m: percentiles(s) for m, s in samples.items()}
    cpu_stats = {m: percentiles(s) for m, s in cpu.items()}
    p50 = {m: cpu_stats[m]["p50_ms"] for m in MODES}
    return {"latency": stats, "cpu": cpu_stats,
            "ratios_cpu_p50": {"keyword/raw_fts": round(p50["keyword"] / p50["raw_fts"], 3),
                           "vector/raw_vec": round(p50["vector"] / p50["raw_vec"], 3),
                           "hybrid_sql/raw_vec": round(p50["hybrid_sql"] / p50["raw_vec"], 3),
                           "hybrid_sql/raw_fts": round(p50["hybrid_sql"] / p50["raw_fts"], 3)},
            "vector_recall_at_10_vs_exact": round(statistics.fmean(recalls), 4) if recalls else None,
            "vector_recall_at_10_distinct_texts": round(statistics.fmean(distinct), 4) if distinct else None}


def growth(rows: List[dict]) -> List[dict]:
    """How each figure grows from one N to the next of the same label (x per 10x)."""
    out = []
    for label in sorted({r["label"] for r in rows}):
        mine = sorted((r for r in rows if r["label"] == label), key=lambda r: r["n"])
        for a, b in zip(mine, mine[1:]):
            g = {"label": label, "from": a["n"], "to": b["n"],
                 "build_s": round(b["build_s"] / a["build_s"], 2), "file_bytes": round(b["file_bytes"] / a["file_bytes"], 2)}
            g.update({f"{m}_cpu_p50": round(b["cpu"][m]["p50_ms"] / a["cpu"][m]["p50_ms"], 2) for m in MODES
                      if "cpu" in a and "cpu" in b})
            out.append(g)
    return out


def print_row(row: dict) -> None:
    lat, cpu = row["latency"], row["cpu"]
    cells = "  ".join(f"{m} {lat[m]['p50_ms']:.2f}/{lat[m]['p95_ms']:.1f}" for m in MODES)
    cpus = "  ".join(f"{m} {cpu[m]['p50_ms']:.2f}/{cpu[m]['p95_ms']:.1f}" for m in MODES)
    print(f"{row['label']} {row['n']:>9,}: wall {cells}\n    cpu {cpus}\n    ratios (cpu p50) {row['ratios_cpu_p50']}  recall@10 vs exact "
          f"{row['vector_recall_at_10_vs_exact']} (distinct texts {row['vector_recall_at_10_distinct_texts']})  build {row['build_s']:.0f}s ({row['rows_per_s']:,}/s)  "
          f"{row['file_bytes'] / 2**20:.0f} MiB")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="the LoCoMo dev file (locomo-dev.json)")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--label", default="current", help="names the store folder and the result rows")
    ap.add_argument("--passes", type=int, default=1, help="times each question is asked per mode")
    ap.add_argument("--questions", type=int, default=None, help="ask only the first N of the subset")
    ap.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                    help="a RankingSettings field for the recalls (memento/ranking.py), VALUE as JSON; repeatable")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--build-only", action="store_true")
    args = ap.parse_args(argv)
    convs, _ = locomo.load(args.data)
    turns = dev_turns(convs)
    qs = questions(convs)[:args.questions]
    vectors = embeddings([t.text for _, t in turns] + list(qs))
    qvecs = {q: vectors[q] for q in qs}
    folder = STORES / "scale" / args.label
    setting = locomo.parse_kw(args.setting, fixed=())
    run_label = args.label + "".join(f" {k}={v}" for k, v in sorted(setting.items()))
    rows = []
    for n in map(int, args.sizes.split(",")):
        facts = build(folder, n, turns, vectors, args.rebuild)
        if args.build_only:
            continue
        row = {"label": run_label, "n": n, "questions": len(qs), "passes": args.passes, "setting": setting,
               **{k: v for k, v in facts.items() if k != "path"},
               **measure(Path(str(facts["path"])), qs, qvecs, args.passes, setting, turns, vectors)}
        print_row(row)
        rows.append(row)
    if rows:
        merged = merge_rows("scale", rows, ("label", "n"))
        write_result("scale", {"data": args.data.name, "tier": TIER, "question_stride": QUESTION_STRIDE,
                               "rows": merged, "growth": growth(merged)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
