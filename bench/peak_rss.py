"""Peak RSS of a process that opens a 10,000-memory store and runs recalls (the agent's steady
state), per tier, each in a fresh process; also the RSS right after `import memento`."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bench.common import REPO, build_store, merge_rows, write_result

PROBE = """
import json, sys
sys.path.insert(0, {repo!r})
def rss():  # VmHWM, not ru_maxrss: ru_maxrss is inherited from the parent across fork+exec
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
import memento
after_import = rss()
from bench import corpus
with memento.open({path!r}, tier={tier!r}) as mem:
    for q in corpus.queries(100):
        mem.recall(q, k=10)
print(json.dumps({{"after_import_mb": after_import, "peak_mb": rss()}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tiers", default="minimal")
    ap.add_argument("--size", type=int, default=10_000)
    args = ap.parse_args()
    rows = []
    for tier in args.tiers.split(","):
        path = build_store(tier, args.size)
        out = subprocess.run([sys.executable, "-c", PROBE.format(repo=str(REPO), path=str(path), tier=tier)],
                             check=True, capture_output=True, text=True).stdout
        row = {"tier": tier, "size": args.size, **{k: round(v, 1) for k, v in json.loads(out).items()}}
        rows.append(row)
        print(f"{tier:>8}: peak RSS {row['peak_mb']:.0f} MB during 100 recalls on {args.size:,} memories "
              f"(after import: {row['after_import_mb']:.0f} MB)")
    write_result("peak_rss", {"rows": merge_rows("peak_rss", rows, ("tier", "size"))})


if __name__ == "__main__":
    main()
