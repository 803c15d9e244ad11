"""Peak memory of `memento import` against the size of the file (issue 11: a 200 MB file peaked at
338 MB when the whole file was parsed first). Import streams now: the peak should stay near a bare
open store's, whatever the file's size. Minimal tier by default (no model: the file is what moves).

    python -m bench.import_memory [--mb 200] [--tier minimal]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import corpus
from bench.common import REPO, write_result

PROBE = """
import json, sys, time
sys.path.insert(0, {repo!r})
from memento.cli import main
def rss():  # VmHWM, not ru_maxrss: ru_maxrss is inherited from the parent across fork+exec
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
argv = {argv!r}
started = time.perf_counter()
code = main(argv) if argv else 0
print(json.dumps({{"code": code, "seconds": time.perf_counter() - started, "peak_rss_mb": rss()}}), file=sys.stderr)
"""


def probe(argv: list) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE.format(repo=str(REPO), argv=argv)],
                         capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stderr.strip().splitlines()[-1])


def write_file(path: Path, megabytes: int) -> int:
    """Corpus texts, padded to about 1 KB per line (a long note), until the file reaches the size."""
    target, lines = megabytes * 1_000_000, 0
    texts = corpus.texts(5_000, seed=7)
    with path.open("w", encoding="utf-8") as out:
        while out.tell() < target:
            text = " ".join(texts[(lines + j) % len(texts)] for j in range(12))
            out.write(json.dumps({"text": text, "tags": ["bench"], "metadata": {"n": lines}}) + "\n")
            lines += 1
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--tier", default="minimal")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        jsonl = work / "import.jsonl"
        lines = write_file(jsonl, args.mb)
        size_mb = jsonl.stat().st_size / 1e6
        db = work / "store.db"
        bare = probe(["stats", "--db", str(db), "--tier", args.tier, "--json"])   # opens (creates) the store
        started = time.perf_counter()
        run = probe(["import", str(jsonl), "--db", str(db), "--tier", args.tier, "--json"])
        wall = time.perf_counter() - started
    row = {"tier": args.tier, "file_mb": round(size_mb, 1), "lines": lines,
           "peak_rss_mb": round(run["peak_rss_mb"], 1), "bare_open_peak_rss_mb": round(bare["peak_rss_mb"], 1),
           "peak_over_bare": round(run["peak_rss_mb"] / bare["peak_rss_mb"], 2),
           "peak_over_file": round(run["peak_rss_mb"] / size_mb, 3),
           "seconds": round(wall, 1), "lines_per_s": round(lines / wall)}
    print(f"memento import of {size_mb:,.0f} MB ({lines:,} lines, tier {args.tier}): peak RSS "
          f"{row['peak_rss_mb']:.0f} MB = {row['peak_over_bare']:.2f}x a bare open store "
          f"({row['bare_open_peak_rss_mb']:.0f} MB), {row['peak_over_file']:.3f}x the file; "
          f"{wall:.0f} s, {row['lines_per_s']:,}/s (checking pass included)")
    write_result("import_memory", {"rows": [row]})


if __name__ == "__main__":
    main()
