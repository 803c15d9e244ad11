"""Cold start: a new process imports memento, opens a 10,000-memory store and runs one recall
(in vector tiers that includes loading the model). Median of several runs, next to bare
`python -c pass` measured in the same run."""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from bench.common import REPO, build_store, load_result, write_result

PROBE = """
import memento
with memento.open({path!r}, tier={tier!r}) as mem:
    assert mem.recall("what does Alice drink in the morning?", k=10)
"""


def wall_times(argv, runs: int, env=None):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, cwd=REPO, env=env)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tiers", default="minimal")
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()

    bare = wall_times([sys.executable, "-c", "pass"], args.runs)
    results = {"bare_python_s": summary(bare), "size": args.size, "tiers": {}}
    print(f"python -c pass: median {statistics.median(bare) * 1000:.0f} ms")
    for tier in args.tiers.split(","):
        path = build_store(tier, args.size)
        probe = PROBE.format(path=str(path), tier=tier)
        wall_times([sys.executable, "-c", probe], 1)  # warm the OS page cache once: we measure Python, not disk
        times = wall_times([sys.executable, "-c", probe], args.runs)
        over = statistics.median(times) - statistics.median(bare)
        results["tiers"][tier] = {**summary(times), "median_over_bare_ms": round(over * 1000, 1)}
        print(f"{tier:>8}: median {statistics.median(times) * 1000:.0f} ms "
              f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); "
              f"{over * 1000:+.0f} ms over bare python, ratio {statistics.median(times) / statistics.median(bare):.2f}x")
    # Tiers not measured in this run keep their earlier figures (each with its own over-bare time).
    kept = (load_result("cold_start") or {}).get("tiers", {})
    results["tiers"] = {**{t: v for t, v in kept.items() if t not in results["tiers"]}, **results["tiers"]}
    write_result("cold_start", results)


def summary(times):
    return {"median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
            "max_s": round(max(times), 4), "runs": len(times)}


if __name__ == "__main__":
    main()
