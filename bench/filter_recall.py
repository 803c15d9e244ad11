"""Recall narrowed to captured sessions: keyword recall at 200k memories held in session threads
(90% claude-code/<sessionId>, 10% openclaw/main/<sessionId>, 100 turns a session), unfiltered, with
one session (thread=), with a source (source="openclaw", source="claude-code"), and with a since=
passing as many memories as source="claude-code" (what a broad filter costs, whichever it is).

    python -m bench.filter_recall [--size 200000] [--queries 60]

A checkout whose recall has no `source` runs the other rows (the thread row is its before/after).
The store is built once under $MEMENTO_BENCH_DIR (default /tmp/memento-bench) and reused.
"""
from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

import memento
from bench import corpus
from bench.common import STORES, percentiles, reusable, write_result

TURNS = 100


def thread_of(i: int) -> str:
    session = i // TURNS
    return f"openclaw/main/s{session:05d}" if session % 10 == 9 else f"claude-code/s{session:05d}"


def build(size: int) -> Path:
    path = STORES / f"minimal-{size}-sessions.db"
    if reusable(path, "minimal", size):
        return path
    started = time.perf_counter()
    items = ({"text": text, "thread": thread_of(i), "speaker": ("user", "assistant")[i % 2],
              "created_at": f"2026-{1 + i // 20_000 % 12:02d}-01T00:00:00Z"}
             for i, text in enumerate(corpus.iter_texts(size)))
    with memento.open(path, tier="minimal") as mem:
        mem.remember_stream(items, batch_size=5_000, dedup=False)
    print(f"  built {path.name}: {size:,} memories in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--label", default="", help="a name for this checkout's row (e.g. before)")
    args = ap.parse_args()
    path = build(args.size)
    queries = corpus.queries(args.queries)
    filters = {"none": {}, "thread (one session)": {"thread": thread_of(7 * TURNS)},
               "since (90%, for scale)": {"since": "2026-02-01T00:00:00Z"}}
    if "source" in inspect.signature(memento.Memento.recall).parameters:
        filters.update({"source=openclaw (10%)": {"source": "openclaw"},
                        "source=claude-code (90%)": {"source": "claude-code"}})
    rows = []
    with memento.open(path, tier="minimal") as mem:
        for name, kwargs in filters.items():
            for q in queries[:5]:
                mem.recall(q, **kwargs)         # warm: statements compiled, pages cached
            samples, found = [], 0
            for q in queries:
                started = time.perf_counter()
                found += len(mem.recall(q, k=10, **kwargs))
                samples.append((time.perf_counter() - started) * 1000)
            rows.append({"filter": name, "label": args.label, "hits": found, **percentiles(samples)})
            print(f"{name:<28} p50 {rows[-1]['p50_ms']:8.2f} ms  p95 {rows[-1]['p95_ms']:8.2f} ms  "
                  f"({found} hits)")
    write_result(f"filter_recall{'_' + args.label if args.label else ''}", {"size": args.size, "rows": rows})


if __name__ == "__main__":
    main()
