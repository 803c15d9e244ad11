"""Capturing Claude Code transcripts (issue 24) at full size: `memento import --format claude-code`
over a generated folder of 2,000 sessions and ~500k lines, cold and again, its peak RSS against a
folder a tenth the size, and the latency of `memento hook claude-code` on a captured session that
got a few new lines.

The folder is written the way Claude Code writes ~/.claude/projects (tests/fixtures/claude-code holds
a real-shaped session): <project>/<sessionId>.jsonl, sessions of skewed length (a few long ones, many
short ones), and per turn a file-history-snapshot line, the user's prompt, often a thinking line, zero
to six tool calls (an assistant tool_use line, often after a short assistant text; a user tool_result
line of a few hundred bytes to tens of KB; hook progress lines), the reply, sometimes a
stop-hook system line; around them summaries, slash-command echoes and their caveat (isMeta), subagent
(isSidechain) lines, compaction (compact_boundary and the isCompactSummary preamble), a few replies
over 4,000 characters (chunked) and a few credentials (redacted). Roughly a third of the lines are
messages with text, the rest is what capture must skip.

Measured, each in a fresh process (`memento import ... --json --later`; peak RSS = VmHWM; bytes read
= /proc/self/io rchar during the import, the transcripts and the store together):
  cold        the whole folder into a new store: seconds, lines/s, memories, peak RSS, bytes read
  rerun       nothing new: seconds, files opened, bytes read (should be almost nothing)
  appended    a new turn appended to 1% of the sessions: seconds, lines read, bytes read
  small       a folder a tenth the size, cold, for its peak RSS (the batch bounds it, not the folder)
  hook        `memento hook claude-code --strict` after a turn is appended: p50 / p95 (process start
              included), next to `memento --version` alone

    python -m bench.capture [--sessions 2000] [--lines 250] [--hooks 40] [--tier minimal] [--dir DIR]

The folders are generated under --dir (default: a temporary folder in /tmp, removed afterwards) and
reused there when the same parameters made them.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from bench import corpus
from bench.common import REPO, write_result

VERSION = "2.0.42"
SECRETS = ("export GITHUB_TOKEN=ghp_{x}", "the staging password=Hunter{x}", "AKIA{X} is the deploy key",
           "curl -H 'Authorization: Bearer {x}{x}'")
TOOLS = ("Read", "Bash", "Grep", "Edit", "Glob", "Write", "WebFetch", "TodoWrite")
GENERATOR = 2   # bump when the generated folder changes: a kept --dir is then written again


class Session:
    """Writes one session's lines, as Claude Code does, with its own seeded randomness."""

    def __init__(self, session: str, cwd: str, texts: List[str], rng: random.Random, start: float):
        self.session, self.cwd, self.texts, self.rng, self.clock = session, cwd, texts, rng, start
        self.n, self.parent, self.lines = 0, None, []  # type: ignore[var-annotated]

    def _when(self) -> str:
        self.clock += self.rng.uniform(0.2, 40.0)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.clock)) + f".{int(self.clock * 1000) % 1000:03d}Z"

    def _say(self, sentences: int) -> str:
        return " ".join(self.rng.choice(self.texts) for _ in range(max(1, sentences)))

    def _base(self, kind: str, **extra) -> Dict[str, object]:
        self.n += 1
        uuid = f"{self.session[:8]}-{self.n:06d}-{self.rng.getrandbits(32):08x}"
        line = {"parentUuid": self.parent, "isSidechain": False, "userType": "external", "cwd": self.cwd,
                "sessionId": self.session, "version": VERSION, "gitBranch": "main", "type": kind,
                "uuid": uuid, "timestamp": self._when(), **extra}
        self.parent = uuid
        return line

    def _add(self, line: Dict[str, object]) -> None:
        self.lines.append(json.dumps(line, ensure_ascii=False))

    def user(self, content: object, **extra) -> None:
        self._add(self._base("user", message={"role": "user", "content": content}, **extra))

    def assistant(self, blocks: list, **extra) -> None:
        message = {"model": "claude-sonnet-4-5", "id": f"msg_{self.rng.getrandbits(48):012x}", "type": "message",
                   "role": "assistant", "content": blocks, "stop_reason": None,
                   "usage": {"input_tokens": self.rng.randint(3, 900), "output_tokens": self.rng.randint(1, 2000)}}
        self._add(self._base("assistant", message=message, requestId=f"req_{self.rng.getrandbits(40):010x}", **extra))

    def snapshot(self) -> None:
        self._add({"type": "file-history-snapshot", "messageId": self.parent or "",
                   "snapshot": {"messageId": self.parent or "", "trackedFileBackups": {}, "timestamp": self._when()},
                   "isSnapshotUpdate": False})

    def prompt(self) -> str:
        text = self._say(self.rng.choice((1, 1, 2, 3)))
        if self.rng.random() < 0.02:
            x = "".join(self.rng.choice("abcdefghijkmnpqrstuvwxyz0123456789") for _ in range(36))
            text += " " + self.rng.choice(SECRETS).format(x=x, X=x[:16].upper())
        return text

    def tool_call(self) -> None:
        tool, call = self.rng.choice(TOOLS), f"toolu_{self.rng.getrandbits(64):016x}"
        if self.rng.random() < 0.4:
            self.assistant([{"type": "text", "text": self._say(1)}])
        self.assistant([{"type": "tool_use", "id": call, "name": tool,
                         "input": {"file_path": f"{self.cwd}/src/module_{self.rng.randint(1, 90)}.py"}}])
        size = min(60_000, int(self.rng.lognormvariate(math.log(1500), 1.1)))
        body = "\n".join(self._say(3) for _ in range(max(1, size // 300)))[:size]
        self.user([{"tool_use_id": call, "type": "tool_result", "content": body}],
                  toolUseResult={"type": "text", "file": {"numLines": body.count("\n") + 1}})
        for _ in range(self.rng.choice((0, 1, 1, 2))):
            self._add(self._base("progress", data={"type": "hook_progress", "hookEvent": "PostToolUse",
                                                   "hookName": f"PostToolUse:{tool}", "command": "lint"},
                                 toolUseID=call, parentToolUseID=call))

    def turn(self) -> None:
        self.snapshot()
        self.user(self.prompt())
        if self.rng.random() < 0.5:
            self.assistant([{"type": "thinking", "thinking": self._say(4), "signature": "Eq" + "x" * 200}])
        for _ in range(self.rng.choice((0, 0, 1, 1, 1, 2, 2, 3, 4, 6))):
            self.tool_call()
        if self.rng.random() < 0.05:        # a subagent: its "user" is the main agent
            for role in ("user", "assistant", "user", "assistant"):
                line = self._base(role, message={"role": role, "content": self._say(2)})
                line["isSidechain"] = True
                self._add(line)
        reply = self._say(self.rng.choice((1, 2, 3, 5, 8)))
        if self.rng.random() < 0.01:        # a long answer: stored as several chunks
            reply = "\n\n".join(self._say(6) for _ in range(12))
        self.assistant([{"type": "text", "text": reply}])
        if self.rng.random() < 0.3:
            self._add(self._base("system", subtype="stop_hook_summary", content="Stop hook ran", level="info",
                                 isMeta=False))

    def command(self) -> None:
        """A slash command: the caveat (isMeta), its echo and its output, none of them said by anyone."""
        self.user("Caveat: The messages below were generated by the user while running local commands. "
                  "DO NOT respond to these messages.", isMeta=True)
        name = self.rng.choice(("model", "clear", "cost", "status"))
        self.user(f"<command-name>/{name}</command-name>\n<command-message>{name}</command-message>\n"
                  "<command-args></command-args>")
        self.user(f"<local-command-stdout>{name}: ok</local-command-stdout>")

    def compaction(self) -> None:
        self._add(self._base("system", subtype="compact_boundary", content="Conversation compacted", level="info",
                             compactMetadata={"trigger": "auto", "preTokens": 155_000}))
        self.user("This session is being continued from a previous conversation that ran out of context. "
                  + self._say(10), isCompactSummary=True, isVisibleInTranscriptOnly=True)


def session_sizes(sessions: int, lines: int, rng: random.Random) -> List[int]:
    """Lines per session: skewed (lognormal), averaging `lines`, at least 12."""
    weights = [rng.lognormvariate(0, 0.9) for _ in range(sessions)]
    scale = lines * sessions / sum(weights)
    return [max(12, int(w * scale)) for w in weights]


def session(index: int, size: int, texts: List[str]) -> Session:
    """Session number `index` of about `size` lines, the same on every run."""
    rng = random.Random(index)
    s = Session(f"{index:08x}-5b9e-4c1d-9a2f-{rng.getrandbits(48):012x}", f"/home/ada/project-{index % 40}",
                texts, rng, 1_767_225_600 + index * 9_000 + rng.uniform(0, 3_000))  # 2026 on, one after another
    if rng.random() < 0.3:
        s.lines.append(json.dumps({"type": "summary", "summary": rng.choice(texts)[:80], "leafUuid": "x"}))
    compact_at = size // 2 if size > 400 else -1
    while len(s.lines) < size:
        if rng.random() < 0.04:
            s.command()
        if compact_at >= 0 and len(s.lines) >= compact_at:
            s.compaction()
            compact_at = -1
        s.turn()
    return s


def write_folder(root: Path, sessions: int, lines: int) -> Dict[str, object]:
    """The folder (reused when a marker says these parameters wrote it); its line count and size."""
    marker = root / ".generated.json"
    wanted = {"sessions": sessions, "lines": lines, "generator": GENERATOR}
    if marker.exists() and json.loads(marker.read_text())["wanted"] == wanted:
        return json.loads(marker.read_text())
    shutil.rmtree(root, ignore_errors=True)
    texts, total, size = corpus.texts(20_000, seed=11), 0, 0
    sizes = session_sizes(sessions, lines, random.Random(sessions))
    for index in range(sessions):
        folder = root / f"-home-ada-project-{index % 40}"
        folder.mkdir(parents=True, exist_ok=True)
        s = session(index, sizes[index], texts)
        text = "\n".join(s.lines) + "\n"
        (folder / f"{s.session}.jsonl").write_text(text, encoding="utf-8")
        total, size = total + len(s.lines), size + len(text.encode())
    made = {"wanted": wanted, "lines": total, "bytes": size}
    marker.write_text(json.dumps(made))
    return made


PROBE = """
import io, json, os, resource, sys, time, contextlib
sys.path.insert(0, {repo!r})
from memento.cli import main
import memento.cli.capture, memento.cli.commands, memento.store  # imported before counting: their files are no read
transcript_bytes, real_pread = [0], os.pread
def pread(fd, n, offset):  # memento reads transcripts with os.pread only (SQLite reads in C, not through it)
    data = real_pread(fd, n, offset)
    transcript_bytes[0] += len(data)
    return data
os.pread = pread
def io_counters():
    return dict(l.split(": ") for l in open("/proc/self/io").read().split("\\n") if l)
def rss():  # VmHWM, not ru_maxrss: ru_maxrss is inherited from the parent across fork+exec
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
argv = {argv!r}
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
out = io.StringIO()
before, started, cpu_before = io_counters(), time.perf_counter(), cpu()
with contextlib.redirect_stdout(out):
    code = main(argv)
seconds, after, cpu_seconds = time.perf_counter() - started, io_counters(), cpu() - cpu_before
print(json.dumps({{"code": code, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_mb": rss(), "summary": json.loads(out.getvalue()),
                  "rchar": int(after["rchar"]) - int(before["rchar"]), "transcript_bytes": transcript_bytes[0],
                  "read_bytes": int(after["read_bytes"]) - int(before["read_bytes"])}}), file=sys.stderr)
"""


def probe(argv: List[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE.format(repo=str(REPO), argv=argv)],
                          capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(done.stderr.strip().splitlines()[-1])


def append_turn(path: Path, texts: List[str], seed: int) -> int:
    """One more turn at the end of a session file, as Claude Code appends it; returns its lines."""
    first = json.loads(path.open(encoding="utf-8").readline())
    rng = random.Random(seed)
    s = Session(first.get("sessionId") or path.stem, first.get("cwd") or "/", texts, rng, 1_800_000_000 + seed)
    s.turn()
    with path.open("a", encoding="utf-8") as out:
        out.write("\n".join(s.lines) + "\n")
    return len(s.lines)


def hook_latency(db: Path, transcript: Path, runs: int, tier: str, texts: List[str]) -> List[float]:
    env, seconds = {**os.environ, "PYTHONPATH": str(REPO)}, []
    payload = json.dumps({"session_id": transcript.stem, "transcript_path": str(transcript), "cwd": "/",
                          "hook_event_name": "Stop"})
    for r in range(runs):
        append_turn(transcript, texts, 9_000_000 + r)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "memento", "--db", str(db), "--tier", tier, "hook", "claude-code",
                        "--strict"], input=payload, text=True, check=True, env=env, cwd=REPO)
        seconds.append(time.perf_counter() - started)
    return sorted(seconds)


def bare_start(runs: int) -> List[float]:
    """`memento --version`: what any memento process costs to start here, for scale."""
    env, seconds = {**os.environ, "PYTHONPATH": str(REPO)}, []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "memento", "--version"], capture_output=True, check=True, env=env,
                       cwd=REPO)
        seconds.append(time.perf_counter() - started)
    return sorted(seconds)


def p95(values: List[float]) -> float:
    return sorted(values)[max(0, math.ceil(len(values) * 0.95) - 1)]


def run(work: Path, args: argparse.Namespace) -> dict:
    root, small_root = work / f"projects-{args.sessions}", work / f"projects-{args.sessions // 10}"
    started = time.perf_counter()
    made = write_folder(root, args.sessions, args.lines)
    small = write_folder(small_root, args.sessions // 10, args.lines)
    print(f"folders ready in {time.perf_counter() - started:.0f} s: {made['lines']:,} lines, "
          f"{made['bytes'] / 1e6:,.0f} MB; {small['lines']:,} lines", file=sys.stderr)
    db, small_db = work / "store.db", work / "store-small.db"
    for path in (db, small_db):
        for companion in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            companion.unlink(missing_ok=True)
    argv = lambda folder, store: ["--db", str(store), "--tier", args.tier, "import", "--format",  # noqa: E731
                                  "claude-code", str(folder), "--json", "--later"]
    cold = probe(argv(root, db))
    print(f"cold: {cold['seconds']:.1f} s", file=sys.stderr)
    rerun = probe(argv(root, db))
    texts = corpus.texts(2_000, seed=3)
    files = sorted(root.rglob("*.jsonl"))
    appended_lines = sum(append_turn(path, texts, i) for i, path in enumerate(files[::100]))
    appended = probe(argv(root, db))
    small_cold = probe(argv(small_root, small_db))
    hooks = hook_latency(db, files[1], args.hooks, args.tier, texts)
    bare = bare_start(args.hooks)
    (root / ".generated.json").unlink()    # appended to: the next run writes it again
    s = cold["summary"]
    return {"load_average": [round(x, 1) for x in os.getloadavg()],
        "tier": args.tier, "sessions": args.sessions, "lines": made["lines"], "megabytes": round(made["bytes"] / 1e6, 1),
        "messages": s["messages"], "memories": s["added"], "redacted": sum(s["redacted"].values()),
        "bad_lines": s["bad_lines"],
        "cold_seconds": round(cold["seconds"], 2), "cold_lines_per_s": round(made["lines"] / cold["seconds"]),
        "cold_memories_per_s": round(s["added"] / cold["seconds"]),
        "cold_cpu_seconds": round(cold["cpu_seconds"], 2),
        "cold_lines_per_cpu_s": round(made["lines"] / cold["cpu_seconds"]),
        "cold_peak_rss_mb": round(cold["peak_rss_mb"], 1), "cold_read_mb": round(cold["rchar"] / 1e6, 1),
        "cold_transcript_read_mb": round(cold["transcript_bytes"] / 1e6, 1),
        "rerun_seconds": round(rerun["seconds"], 3), "rerun_cpu_seconds": round(rerun["cpu_seconds"], 3),
        "rerun_files_opened": rerun["summary"]["files"],
        "rerun_transcript_read_bytes": rerun["transcript_bytes"],
        "rerun_read_kb": round(rerun["rchar"] / 1e3, 1), "rerun_peak_rss_mb": round(rerun["peak_rss_mb"], 1),
        "appended_files": len(files[::100]), "appended_lines": appended_lines,
        "appended_seconds": round(appended["seconds"], 3), "appended_lines_read": appended["summary"]["lines"],
        "appended_added": appended["summary"]["added"], "appended_read_kb": round(appended["rchar"] / 1e3, 1),
        "appended_transcript_read_kb": round(appended["transcript_bytes"] / 1e3, 1),
        "small_sessions": args.sessions // 10, "small_lines": small["lines"],
        "small_peak_rss_mb": round(small_cold["peak_rss_mb"], 1),
        "hook_runs": len(hooks), "hook_p50_ms": round(1000 * statistics.median(hooks), 1),
        "hook_p95_ms": round(1000 * p95(hooks), 1), "bare_start_p50_ms": round(1000 * statistics.median(bare), 1),
    }


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--lines", type=int, default=250, help="lines per session, on average")
    ap.add_argument("--hooks", type=int, default=40, help="hook runs timed")
    ap.add_argument("--tier", default="minimal")
    ap.add_argument("--dir", type=Path, help="where the folders and stores go (kept; default: a temporary folder)")
    args = ap.parse_args(argv)
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        row = run(args.dir, args)
    else:
        with tempfile.TemporaryDirectory(prefix="memento-capture-") as tmp:
            row = run(Path(tmp), args)
    print(f"capture of {row['sessions']:,} sessions, {row['lines']:,} lines ({row['megabytes']:,.0f} MB), "
          f"tier {row['tier']}: cold {row['cold_seconds']} s = {row['cold_lines_per_s']:,} lines/s "
          f"({row['cold_lines_per_cpu_s']:,} per CPU second) "
          f"({row['memories']:,} memories), peak RSS {row['cold_peak_rss_mb']} MB ({row['small_peak_rss_mb']} MB "
          f"for {row['small_sessions']} sessions); rerun with nothing new {row['rerun_seconds']} s, "
          f"{row['rerun_files_opened']} files opened, {row['rerun_transcript_read_bytes']} transcript bytes and "
          f"{row['rerun_read_kb']} kB in all read; {row['appended_lines']} lines appended to {row['appended_files']} "
          f"files: {row['appended_seconds']} s, {row['appended_transcript_read_kb']} kB of transcripts "
          f"({row['appended_read_kb']} kB in all) read; hook p50 {row['hook_p50_ms']} ms, p95 {row['hook_p95_ms']} ms "
          f"(`memento --version` alone: p50 {row['bare_start_p50_ms']} ms)")
    write_result(f"capture_{args.tier}", {"rows": [row]})


if __name__ == "__main__":
    main()
