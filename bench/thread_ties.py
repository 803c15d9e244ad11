"""Ingest into one thread when created_at ties, against distinct timestamps.

Ties are common: remember_many without created_at stamps a whole batch with one time, an OpenClaw
file's chunks share the file's time, logs often have one-second resolution. Finding "the memory
before/after this one" must cost one index seek whatever the ties; a plan that seeks on created_at
alone and then walks every row with the same created_at makes ingest quadratic in the tie.

    python bench/thread_ties.py                 # 16,000 memories, tied and distinct
    python bench/thread_ties.py --n 16000 100000
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import memento  # noqa: E402
from bench import corpus  # noqa: E402


def items(n: int, tied: bool) -> list:
    """n memories of one thread: all at one created_at (tied) or one second apart (distinct)."""
    texts = corpus.texts(n, seed=11)
    return [{"text": t, "thread": "log",
             "created_at": "2024-01-01T00:00:00" if tied else
             time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1704067200 + i))}
            for i, t in enumerate(texts)]


def ingest(path: Path, n: int, tied: bool, batch: int, budget: float) -> dict:
    todo = items(n, tied)
    done = 0
    started = time.perf_counter()
    with memento.open(path, tier="minimal") as mem:
        while done < n and time.perf_counter() - started < budget:
            mem.remember_many(todo[done:done + batch], dedup=False)
            done += len(todo[done:done + batch])
        elapsed = time.perf_counter() - started
        ok = done < n or all(c.ok for c in mem.doctor() if c.name != "owner-only file permissions")
    return {"n": n, "timestamps": "tied" if tied else "distinct", "stored": done,
            "seconds": round(elapsed, 2), "per_s": round(done / elapsed, 1),
            "finished": done == n, "doctor_ok": ok}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[16000], help="memories per run (default 16000)")
    ap.add_argument("--batch", type=int, default=1000, help="remember_many batch size (default 1000)")
    ap.add_argument("--budget", type=float, default=250.0,
                    help="seconds a run may take before it stops and reports what it stored (default 250)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="memento-ties-") as work:
        for n in args.n:
            for tied in (False, True):
                row = ingest(Path(work) / f"{n}-{tied}.db", n, tied, args.batch, args.budget)
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
