"""Ingest rate per tier: remember() one at a time, remember_many() in batches, and `memento import`
of a JSON Lines file; each into a fresh store, each in a fresh process (model load not counted for
the API paths: the store is opened and the model loaded before the clock starts)."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import corpus
from bench.common import REPO, merge_rows, write_result

PROBE = """
import json, sys, time
sys.path.insert(0, {repo!r})
import memento
from bench import corpus
def rss():  # VmHWM, not ru_maxrss: ru_maxrss is inherited from the parent across fork+exec
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
texts = corpus.threaded({n}, seed=3) if {threads!r} else corpus.texts({n}, seed=3)
with memento.open({path!r}, tier={tier!r}) as mem:
    if getattr(mem._vectors, 'embedder', None) is not None:   # a model tier: loaded before timing
        mem._vectors.embedder.load()
    started = time.perf_counter()
    # dedup=False: the corpus repeats ~10% of its texts, and every text must become a row here
    # (bench/months.py measures ingest with dedup on against off).
    if {how!r} == "remember":
        for t in texts:
            mem.remember(**t, dedup=False) if isinstance(t, dict) else mem.remember(t, dedup=False)
    else:
        for i in range(0, len(texts), {batch}):
            mem.remember_many(texts[i:i + {batch}], dedup=False)
    elapsed = time.perf_counter() - started
    assert mem.count() == len(texts)
print(json.dumps({{"seconds": elapsed, "peak_rss_mb": rss()}}))
"""


def run_api(tier: str, how: str, n: int, batch: int, work: Path, threads: bool = False) -> dict:
    code = PROBE.format(repo=str(REPO), n=n, path=str(work / f"{tier}-{how}{'-threads' if threads else ''}.db"), tier=tier, how=how, batch=batch,
                        threads=threads)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    return {"tier": tier, "how": how + (" threads" if threads else ""), "n": n, "per_s": round(n / result["seconds"], 1),
            "seconds": round(result["seconds"], 2), "peak_rss_mb": round(result["peak_rss_mb"], 1)}


def run_import(tier: str, n: int, work: Path) -> dict:
    jsonl = work / "import.jsonl"
    jsonl.write_text("".join(json.dumps({"text": t}) + "\n" for t in corpus.texts(n, seed=3)), encoding="utf-8")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "memento.cli", "import", str(jsonl), "--db", str(work / f"{tier}-import.db"),
                    "--tier", tier], check=True, capture_output=True, cwd=REPO)
    elapsed = time.perf_counter() - started  # a whole process: includes import and model load
    return {"tier": tier, "how": "memento import (whole process)", "n": n, "per_s": round(n / elapsed, 1),
            "seconds": round(elapsed, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tiers", default="minimal")
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--single", type=int, default=1_000, help="how many for one-at-a-time remember()")
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--threads", action="store_true", help="also conversation turns in threads (corpus.threaded)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for tier in args.tiers.split(","):
            for row in (run_api(tier, "remember", args.single, 1, Path(tmp)),
                        run_api(tier, "remember_many", args.n, args.batch, Path(tmp)),
                        run_import(tier, args.n, Path(tmp)),
                        *((run_api(tier, "remember", args.single, 1, Path(tmp), True),
                           run_api(tier, "remember_many", args.n, args.batch, Path(tmp), True)) if args.threads else ())):
                rows.append(row)
                print(f"{tier:>8} {row['how']:<32} {row['n']:>6,}: {row['per_s']:>8,.0f}/s"
                      + (f"  peak RSS {row['peak_rss_mb']:.0f} MB" if "peak_rss_mb" in row else ""))
    write_result("ingest", {"rows": merge_rows("ingest", rows, ("tier", "how"))})


if __name__ == "__main__":
    main()
