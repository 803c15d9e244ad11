"""Replication's cost and delay: write throughput with Litestream running vs without (remember and
remember_many, minimal tier, the Pi's), replication lag from commit to replica (p50/p95), Litestream's
RSS (a separate process: reported apart from memento's own memory).

    PYTHONPATH=. python -m bench.replicate [--singles 2000] [--items 10000] [--lag-samples 30]

Lag: after each commit, the replica folder is watched for new LTX files; when one appears, a restore
proves the memory is in the replica, and the lag is that file's mtime minus the commit time.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import memento  # noqa: E402  (bench.common put the checkout first on sys.path)
from bench import corpus
from bench.common import percentiles, write_result
from memento import replicate  # noqa: E402


def _rss_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith(field)).split()[1]) / 1024


def _writes(path: Path, texts, how: str, batch: int = 100) -> float:
    """Memories per second for one pass of writes into the store at `path`."""
    with memento.open(path, tier="minimal") as mem:
        started = time.perf_counter()
        if how == "remember":
            for t in texts:
                mem.remember(t)
        else:
            for i in range(0, len(texts), batch):
                mem.remember_many(texts[i:i + batch])
        return len(texts) / (time.perf_counter() - started)


def _fresh_store(folder: Path, name: str) -> Path:
    path = folder / name
    with memento.open(path, tier="minimal") as mem:
        mem.remember("the store's first memory")
    return path


def throughput(folder: Path, singles: int, items: int, rounds: int = 5) -> dict:
    """Interleaved rounds (without, with, ...) so drift on a shared machine hits every mode.

    Modes: off (no Litestream, SQLite's autocheckpoint), nockpt (no Litestream, but checkpoints left to
    Litestream as on a replicated store: separates that setting's effect from Litestream's), on."""
    modes = ("off", "nockpt", "on")
    rates = {(how, mode): [] for how in ("remember", "remember_many") for mode in modes}
    rss = []
    for r in range(rounds):
        for mode in modes:
            path = _fresh_store(folder, f"t{r}-{mode}.db")
            if mode == "nockpt":
                (folder / f".{path.name}-litestream").mkdir()
            process = replicate.start(path, f"file://{folder}/t{r}-replica") if mode == "on" else None
            try:
                for how, n in (("remember", singles), ("remember_many", items)):
                    rates[(how, mode)].append(_writes(path, corpus.texts(n, seed=r + 1), how))
                if process:
                    rss.append((_rss_mb(process.pid, "VmRSS"), _rss_mb(process.pid, "VmHWM")))
            finally:
                if process:
                    replicate.stop(process)
    out = {}
    for how in ("remember", "remember_many"):
        off, on = statistics.median(rates[(how, "off")]), statistics.median(rates[(how, "on")])
        nockpt = statistics.median(rates[(how, "nockpt")])
        out[how] = {"without_per_s": round(off, 1), "without_autocheckpoint_per_s": round(nockpt, 1),
                    "with_per_s": round(on, 1), "ratio_with_over_without": round(on / off, 3),
                    "ratio_with_over_without_autocheckpoint": round(on / nockpt, 3)}
    out["litestream_rss_mb"] = round(max(r for r, _ in rss), 1)
    out["litestream_peak_rss_mb"] = round(max(h for _, h in rss), 1)
    return out


def lag(folder: Path, samples: int) -> dict:
    path = _fresh_store(folder, "lag.db")
    url = f"file://{folder}/lag-replica"
    level0 = folder / "lag-replica" / "ltx" / "0"
    rng = random.Random(5)
    process = replicate.start(path, url)
    lags, peak = [], 0.0
    try:
        with memento.open(path, tier="minimal") as mem:
            for i in range(samples):
                time.sleep(rng.uniform(0.05, 1.5))  # commits fall anywhere within Litestream's 1 s cycle
                seen = set(level0.glob("*.ltx"))
                memory = mem.remember(f"lag probe {i}")
                committed = time.time()
                while True:
                    fresh = set(level0.glob("*.ltx")) - seen
                    if fresh:
                        newest = max(p.stat().st_mtime for p in fresh)
                        restored = replicate.restore(url, folder / "lag-check.db", force=True)
                        with memento.open(restored.path, tier="minimal") as copy:
                            if memory.id in {m.id for m in copy.iter()}:
                                lags.append((newest - committed) * 1000)
                                break
                        seen |= fresh
                    time.sleep(0.005)
                peak = max(peak, _rss_mb(process.pid, "VmHWM"))
    finally:
        replicate.stop(process)
    return {**percentiles(lags), "litestream_peak_rss_mb": round(peak, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--singles", type=int, default=2000, help="remember() calls per pass")
    ap.add_argument("--items", type=int, default=10000, help="memories per remember_many pass (batches of 100)")
    ap.add_argument("--lag-samples", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per mode")
    ap.add_argument("--result", default="replicate", help="bench/results/NAME.json (replicate-aarch64 for the Pi lane)")
    args = ap.parse_args()
    litestream = replicate.find_litestream()
    with tempfile.TemporaryDirectory(prefix="memento-replicate-") as tmp:
        folder = Path(tmp)
        tp = throughput(folder, args.singles, args.items, args.rounds)
        lg = lag(folder, args.lag_samples)
    version = __import__("subprocess").run([str(litestream), "version"], capture_output=True, text=True).stdout.strip()
    for how in ("remember", "remember_many"):
        r = tp[how]
        print(f"{how:>14}: {r['without_per_s']:>8.1f}/s without, {r['without_autocheckpoint_per_s']:>8.1f}/s "
              f"without but autocheckpoint off, {r['with_per_s']:>8.1f}/s with Litestream (ratio "
              f"{r['ratio_with_over_without']:.2f}; {r['ratio_with_over_without_autocheckpoint']:.2f} against the same "
              "checkpoint setting)")
    print(f"{'lag':>14}: p50 {lg['p50_ms']:.0f} ms, p95 {lg['p95_ms']:.0f} ms (n={lg['n']}, commit -> LTX file "
          "in the replica folder)")
    print(f"{'litestream':>14}: RSS {tp['litestream_rss_mb']} MB, peak {max(tp['litestream_peak_rss_mb'], lg['litestream_peak_rss_mb'])} MB")
    write_result(args.result, {
        "litestream": version, "tier": "minimal", "replica": "file (local folder)", "sync_interval_s": 1,
        "args": vars(args), "throughput": tp, "lag": lg,
        "note": "Litestream is a separate process; its RSS is not part of memento's own memory figures."})


if __name__ == "__main__":
    sys.exit(main())
