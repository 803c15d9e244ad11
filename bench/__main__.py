"""`python -m bench`: the quick set (< 10 minutes on 2 cores once the 10k stores exist), then the report.
Recall quality (bench/locomo.py) runs when $MEMENTO_LOCOMO_DATA names the LoCoMo dev file.

The slow figures (warm recall at 100,000 memories in vector tiers, peers, the emulated Pi lane) have
their own scripts: bench/warm_recall.py --sizes 100000, bench/peers.py, bench/pi.sh."""
from __future__ import annotations

import os
import subprocess
import sys

from memento import tiers

VECTOR = [t for t in ("tiny", "light", "full") if not tiers.missing_packages(t)]
ALL = ",".join(["minimal"] + VECTOR)

STEPS = [
    ["bench.cold_start", "--tiers", ALL],
    ["bench.warm_recall", "--tiers", "minimal", "--sizes", "1000,10000,100000"],
    ["bench.peak_rss", "--tiers", ALL],
    ["bench.ingest", "--tiers", ALL, "-n", "5000", "--single", "500"],
    ["bench.install_size", "--extras", ",".join(["minimal"] + VECTOR)],
    ["bench.locomo", "--all"],   # reads the LoCoMo dev file from $MEMENTO_LOCOMO_DATA
    ["bench.report"],
]
if VECTOR:
    STEPS.insert(2, ["bench.warm_recall", "--tiers", ",".join(VECTOR), "--sizes", "1000,10000"])
    STEPS.insert(3, ["bench.prefilter_recall", "--tier", VECTOR[-1], "--size", "10000"])


def main() -> None:
    steps = STEPS
    if not os.environ.get("MEMENTO_LOCOMO_DATA"):
        print("python -m bench: MEMENTO_LOCOMO_DATA is not set, so recall quality is not measured "
              "(the LoCoMo dev file: docs/benchmarks.md)", flush=True)
        steps = [step for step in STEPS if step[0] != "bench.locomo"]
    for step in steps:
        print(f"\n$ python -m {' '.join(step)}", flush=True)
        subprocess.run([sys.executable, "-m", *step], check=True)


if __name__ == "__main__":
    main()
