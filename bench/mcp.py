"""`memento mcp`: how fast a client gets its handshake, and what a session costs in memory.

- initialize: wall time from spawning `python -m memento mcp` (initialize already written to its
  stdin) to the initialize response on its stdout; median of --runs, next to bare `python -c pass`
  (spawn to exit) measured in the same run.
- peak RSS: one server, 100 remember + 100 recall calls, then VmHWM of the server process.
- vector tiers: the first recall's wall time (it loads the model), and the server's own log line.
Targets (issue 13): initialize <= 150 ms in every tier; minimal peak RSS <= 30 MB."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, write_result

INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "bench", "version": "0"}}}
TOPICS = ["green tea", "the Atlas deadline", "Bob's peanut allergy", "the Lisbon flight", "Friday releases"]


class Server:
    def __init__(self, db: Path, tier: str):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("MEMENTO_TIER", None)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "memento", "mcp", "--db", str(db), "--tier", tier],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.next_id = 0

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                                          "params": params}).encode() + b"\n")
        self.proc.stdin.flush()
        response = json.loads(self.proc.stdout.readline())
        if "error" in response or response["result"].get("isError"):
            raise RuntimeError(f"{method} failed: {response}")
        return response["result"]

    def initialize(self) -> float:
        """Seconds from spawn to the initialize response (the request is written right after spawn)."""
        self.proc.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
        self.proc.stdin.flush()
        response = json.loads(self.proc.stdout.readline())
        elapsed = time.perf_counter() - self.started
        assert response["result"]["serverInfo"]["name"] == "memento", response
        self.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        self.proc.stdin.flush()
        return elapsed

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc")

    def close(self) -> str:
        self.proc.stdin.close()
        if self.proc.wait(120) != 0:
            raise RuntimeError(f"server exited {self.proc.returncode}")
        return self.proc.stderr.read().decode(errors="replace")


def bare_python_once() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def initialize_once(db: Path, tier: str) -> float:
    server = Server(db, tier)
    elapsed = server.initialize()
    server.close()
    return elapsed


def session(db: Path, tier: str) -> dict:
    """First recall (loads the model in vector tiers), then 100 remember + 100 recall; peak RSS."""
    server = Server(db, tier)
    server.initialize()
    started = time.perf_counter()
    server.request("tools/call", {"name": "recall", "arguments": {"query": "warm up"}})
    first_recall = time.perf_counter() - started
    for i in range(100):
        server.request("tools/call", {"name": "remember", "arguments": {
            "text": f"Note {i}: {TOPICS[i % len(TOPICS)]} came up again in meeting {i}", "tags": ["bench"]}})
    recall_times = []
    for i in range(100):
        started = time.perf_counter()
        result = server.request("tools/call", {"name": "recall", "arguments": {"query": TOPICS[i % len(TOPICS)], "k": 5}})
        recall_times.append(time.perf_counter() - started)
        assert result["structuredContent"]["results"], "recall found nothing"
    rss = server.peak_rss_mb()
    log = server.close()
    return {"first_recall_ms": round(first_recall * 1000, 1),
            "recall_median_ms": round(statistics.median(recall_times) * 1000, 2),
            "peak_rss_mb_after_100_remember_100_recall": round(rss, 1),
            "server_log": [line for line in log.splitlines() if "took" in line]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tiers", default="minimal")
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    tier_list = args.tiers.split(",")
    with tempfile.TemporaryDirectory(prefix="memento-bench-mcp-") as workdir:
        dbs = {tier: Path(workdir) / f"{tier}.db" for tier in tier_list}
        for tier, db in dbs.items():      # each store exists, and the page cache is warm, before timing
            warm = Server(db, tier)
            warm.initialize()
            warm.request("tools/call", {"name": "stats", "arguments": {}})
            warm.close()
        # Interleaved: bare python and each tier's handshake take turns, so a busy moment on this
        # shared machine lands on all of them alike.
        bare, inits = [], {tier: [] for tier in tier_list}
        for _ in range(args.runs):
            bare.append(bare_python_once())
            for tier in tier_list:
                inits[tier].append(initialize_once(dbs[tier], tier))
        bare_ms = statistics.median(bare) * 1000
        print(f"python -c pass: median {bare_ms:.0f} ms ({sys.executable}); load average {os.getloadavg()[0]:.1f}")
        results = {"python": sys.executable, "bare_python_median_ms": round(bare_ms, 1), "runs": args.runs,
                   "load_average_1min": round(os.getloadavg()[0], 2),
                   "targets": {"initialize_ms": 150, "minimal_peak_rss_mb": 30}, "tiers": {}}
        for tier in tier_list:
            times = inits[tier]
            row = {"initialize_median_ms": round(statistics.median(times) * 1000, 1),
                   "initialize_min_ms": round(min(times) * 1000, 1), "initialize_max_ms": round(max(times) * 1000, 1),
                   "initialize_over_bare_ms": round(statistics.median(times) * 1000 - bare_ms, 1),
                   **session(dbs[tier], tier)}
            results["tiers"][tier] = row
            print(f"{tier:>8}: initialize median {row['initialize_median_ms']:.0f} ms "
                  f"(min {row['initialize_min_ms']:.0f}; {row['initialize_median_ms'] / bare_ms:.1f}x bare python; "
                  f"target 150 ms); first recall {row['first_recall_ms']:.0f} ms; recall median "
                  f"{row['recall_median_ms']:.1f} ms; peak RSS {row['peak_rss_mb_after_100_remember_100_recall']:.1f} MB")
            for line in row["server_log"]:
                print(f"          server: {line}")
    write_result("mcp", results)


if __name__ == "__main__":
    main()
