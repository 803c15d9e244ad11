"""Capturing Claude Code transcripts (issue 24): throughput of `memento import --format claude-code`
over a generated folder of sessions, cold and again with nothing new, its peak RSS, and the latency
of `memento hook claude-code` on an already-captured session that got a few new lines.

Each session is written the way Claude Code writes one: per turn a user prompt, an assistant
thinking line, a tool call, a tool result (~1 KB), a progress line, an assistant reply; about a
third of the lines are messages that become memories.

    python -m bench.capture [--sessions 2000] [--lines 250] [--hooks 40] [--tier minimal]
"""
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

from bench import corpus
from bench.common import REPO, write_result
from bench.import_memory import probe


def turn(session: str, n: int, texts: list, cwd: str) -> list:
    """The six lines of one turn, as Claude Code writes them."""
    base = {"isSidechain": False, "userType": "external", "cwd": cwd, "sessionId": session, "version": "2.0.42",
            "gitBranch": "main"}
    when = f"2026-03-{1 + n // 3600 % 28:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00.000Z"
    say = lambda k: " ".join(texts[(n * 7 + k + j) % len(texts)] for j in range(3))  # noqa: E731
    uid = lambda k: f"{session[:8]}-{n:06d}-{k}"  # noqa: E731
    msg = lambda role, content, k, **kw: dict(base, type=role, uuid=uid(k), timestamp=when,  # noqa: E731
                                              message={"role": role, "content": content}, **kw)
    return [
        msg("user", say(0), 0),
        msg("assistant", [{"type": "thinking", "thinking": say(1), "signature": "Eq" + "x" * 40}], 1),
        msg("assistant", [{"type": "tool_use", "id": f"toolu_{n}", "name": "Read", "input": {"file_path": cwd}}], 2),
        msg("user", [{"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": say(3) * 6}], 3,
            toolUseResult={"type": "text"}),
        dict(base, type="progress", uuid=uid(4), timestamp=when, data={"type": "hook_progress"}),
        msg("assistant", [{"type": "text", "text": say(5)}], 5),
    ]


def write_folder(root: Path, sessions: int, lines: int) -> int:
    texts, total = corpus.texts(5_000, seed=11), 0
    for s in range(sessions):
        session = f"{s:08x}-5b9e-4c1d-9a2f-0e6b8d4c1a77"
        folder = root / f"-home-ada-project-{s % 40}"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{session}.jsonl", "w", encoding="utf-8") as out:
            if s % 10 == 0:
                out.write(json.dumps({"type": "summary", "summary": "a session", "leafUuid": "x"}) + "\n")
            for n in range(lines // 6):
                for event in turn(session, s * 10_000 + n, texts, str(folder)):
                    out.write(json.dumps(event) + "\n")
                    total += 1
    return total


def hook_latency(db: Path, transcript: Path, runs: int, tier: str) -> list:
    texts, seconds = corpus.texts(200, seed=3), []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    payload = json.dumps({"session_id": transcript.stem, "transcript_path": str(transcript), "cwd": "/",
                          "hook_event_name": "Stop"})
    for r in range(runs):
        with open(transcript, "a", encoding="utf-8") as out:
            for event in turn(transcript.stem, 9_000_000 + r, texts, "/"):
                out.write(json.dumps(event) + "\n")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "memento", "--db", str(db), "--tier", tier, "hook", "claude-code",
                        "--strict"], input=payload, text=True, check=True, env=env, cwd=REPO)
        seconds.append(time.perf_counter() - started)
    return seconds


def bare_start(runs: int) -> list:
    """`memento --version`: what any memento process costs to start here, for scale."""
    env, seconds = {**os.environ, "PYTHONPATH": str(REPO)}, []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "memento", "--version"], capture_output=True, check=True, env=env,
                       cwd=REPO)
        seconds.append(time.perf_counter() - started)
    return sorted(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--lines", type=int, default=250, help="lines per session")
    ap.add_argument("--hooks", type=int, default=40, help="hook runs timed")
    ap.add_argument("--tier", default="minimal")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, db = Path(tmp) / "projects", Path(tmp) / "store.db"
        lines = write_folder(root, args.sessions, args.lines)
        megabytes = sum(f.stat().st_size for f in root.rglob("*.jsonl")) / 1e6
        argv = ["import", "--format", "claude-code", str(root), "--db", str(db), "--tier", args.tier, "--json",
                "--later"]
        cold = probe(argv)
        again = probe(argv)
        transcript = next(root.rglob("*.jsonl"))
        hooks = sorted(hook_latency(db, transcript, args.hooks, args.tier))
        bare = bare_start(args.hooks)
    row = {"tier": args.tier, "sessions": args.sessions, "lines": lines, "megabytes": round(megabytes, 1),
           "cold_seconds": round(cold["seconds"], 2), "cold_lines_per_s": round(lines / cold["seconds"]),
           "cold_peak_rss_mb": round(cold["peak_rss_mb"], 1),
           "rerun_seconds": round(again["seconds"], 3), "rerun_peak_rss_mb": round(again["peak_rss_mb"], 1),
           "hook_runs": len(hooks), "hook_p50_ms": round(1000 * statistics.median(hooks), 1),
           "hook_p95_ms": round(1000 * hooks[max(0, int(len(hooks) * 0.95) - 1)], 1),
           "bare_start_p50_ms": round(1000 * statistics.median(bare), 1)}
    print(f"capture of {args.sessions:,} sessions, {lines:,} lines ({megabytes:,.0f} MB), tier {args.tier}: "
          f"cold {row['cold_seconds']} s = {row['cold_lines_per_s']:,} lines/s, peak RSS {row['cold_peak_rss_mb']} MB; "
          f"rerun with nothing new {row['rerun_seconds']} s (peak {row['rerun_peak_rss_mb']} MB); "
          f"hook p50 {row['hook_p50_ms']} ms, p95 {row['hook_p95_ms']} ms (process start included; "
          f"`memento --version` alone: p50 {row['bare_start_p50_ms']} ms)")
    write_result(f"capture_{args.tier}", {"rows": [row]})


if __name__ == "__main__":
    main()
