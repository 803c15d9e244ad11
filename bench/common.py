"""Shared bench plumbing: machine facts, building stores of realistic text, writing results."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
STORES = Path(os.environ.get("MEMENTO_BENCH_DIR", "/tmp/memento-bench"))
sys.path.insert(0, str(REPO))

import memento  # noqa: E402
from bench import corpus  # noqa: E402


def machine() -> Dict[str, object]:
    import apsw
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = None
    return {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "memento": memento.__version__, "apsw": apsw.apsw_version(),
            "sqlite": apsw.sqlite_lib_version(), "commit": commit,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def store_path(tier: str, size: int, threads: bool = False) -> Path:
    return STORES / f"{tier}-{size}{'-threads' if threads else ''}.db"


def reusable(path: Path, tier: str, size: int) -> bool:
    """Does `path` hold a store of `size` memories, built earlier? If not, whatever is there is
    removed (with its -wal and -shm) and its folder made, for a build from scratch."""
    if path.exists():
        with memento.open(path, tier=tier) as mem:
            if mem.count() == size:
                return True
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return False


def build_store(tier: str, size: int, batch: int = 2000, threads: bool = False) -> Path:
    """A store of `size` corpus memories, built once and reused (its name says tier and size).
    threads=True: conversation turns in threads (corpus.threaded) instead of independent notes."""
    path = store_path(tier, size, threads)
    if reusable(path, tier, size):
        return path
    texts = corpus.threaded(size) if threads else corpus.texts(size)
    started = time.perf_counter()
    with memento.open(path, tier=tier) as mem:
        for i in range(0, size, batch):
            mem.remember_many(texts[i:i + batch], dedup=False)  # `size` rows, repeats included
    print(f"  built {path.name}: {size:,} memories in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return path


def percentiles(samples_ms: List[float]) -> Dict[str, float]:
    ordered = sorted(samples_ms)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(statistics.median(ordered), 3), "p95_ms": round(pick(0.95), 3),
            "p99_ms": round(pick(0.99), 3), "mean_ms": round(statistics.fmean(ordered), 3), "n": len(ordered)}


def write_result(name: str, payload: Dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(REPO)}")
    return out


def load_result(name: str) -> Optional[dict]:
    """bench/results/<name>.json as an earlier run wrote it, or None."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def merge_rows(name: str, rows: List[dict], key: tuple) -> List[dict]:
    """Rows of this run, plus the rows of earlier runs of bench/results/<name>.json that this run did
    not measure again (e.g. a separate 100k run is kept when the quick set re-measures 1k and 10k)."""
    earlier = load_result(name)
    if earlier is None:
        return rows
    fresh = {tuple(r[k] for k in key) for r in rows}
    # A row written before a key existed (e.g. "threads") counts as that key's False.
    kept = [r for r in earlier.get("rows", [])
            if tuple(r.get(k, False) for k in key) not in fresh]
    return sorted(kept + rows, key=lambda r: tuple(str(r.get(k)) for k in key))
