"""Measurements for the emulated Pi lane (bench/pi.sh). Runs inside the arm64 rootfs (or natively,
for building stores and the native RSS reference) and prints JSON to stdout; progress goes to stderr.

  pi_measure.py build-store PATH TIER N        a store of N corpus memories (bench/corpus.py)
  pi_measure.py install-size VENV SPEC         pip install SPEC into the fresh VENV: site-packages delta
  pi_measure.py bench PATH TIER                cold start, peak RSS, `memento mcp`, warm recall on the store at PATH
  pi_measure.py summarize OUT_DIR RESULT.json  emulated figures + Pi Zero 2 W estimates -> pi-lane.json
  pi_measure.py scale-recall PATH TIER QUESTIONS.json   warm keyword recall on a big store of real text
                                               (bench/scale.py's), with and without the rare-word search

Only the standard library, memento and bench/corpus.py are imported, so it runs in a venv that holds
nothing but memento's wheel. Every time is wall time of the emulated process: see summarize() for how
it becomes a Pi estimate.
"""
from __future__ import annotations

import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))   # `from bench import corpus` without installing bench


def log(msg: str) -> None:
    print(f"pi_measure: {msg}", file=sys.stderr, flush=True)


def build_store(path: str, tier: str, n: int) -> dict:
    import memento
    from bench import corpus
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    texts = corpus.texts(n)
    started = time.perf_counter()
    with memento.open(path, tier=tier) as mem:
        for i in range(0, n, 2000):   # dedup off: the corpus repeats texts, the store must hold n rows
            mem.remember_many(texts[i:i + 2000], dedup=False)
        count = mem.count()
    secs = time.perf_counter() - started
    log(f"built {path}: {count:,} {tier} memories in {secs:.1f}s")
    return {"path": path, "tier": tier, "count": count, "build_s": round(secs, 1)}


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def install_size(venv: str, spec: str) -> dict:
    """Same method as bench/install_size.py: site-packages before and after, per top-level entry."""
    sp = next((Path(venv) / "lib").glob("python3*/site-packages"))
    before = {p.name: tree_bytes(p) for p in sp.iterdir()}
    started = time.perf_counter()
    subprocess.run([f"{venv}/bin/python", "-m", "pip", "install", "-q", "--disable-pip-version-check", spec],
                   check=True)
    secs = time.perf_counter() - started
    after = {p.name: tree_bytes(p) for p in sp.iterdir()}
    added = {n: s for n, s in after.items() if s != before.get(n)}
    top = sorted(added.items(), key=lambda kv: -kv[1])[:8]
    return {"spec": spec, "installed_mb": round(sum(added.values()) / 1e6, 1), "pip_install_s": round(secs, 1),
            "top": [{"name": n, "mb": round(s / 1e6, 1)} for n, s in top]}


# A fresh process: import memento, open the store, recall; then report its own peak RSS. VmHWM and not
# ru_maxrss, which a child inherits from its parent across fork+exec. Under qemu-user this is the qemu
# process's RSS (guest + translator), i.e. an upper bound for the same process on a real Pi.
PROBE = """
import json, sys, time
def hwm():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
import memento
after_import = hwm()
queries = json.loads(sys.argv[3])
with memento.open(sys.argv[1], tier=sys.argv[2]) as mem:
    for q in queries:
        assert mem.recall(q, k=10) is not None
print(json.dumps({"after_import_mb": after_import, "peak_mb": hwm()}))
"""
QUERY = "what does Alice drink in the morning?"


def run_times(argv, runs: int) -> list:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def summary_s(times) -> dict:
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
            "max_s": round(max(times), 3), "runs": len(times)}


def pct(samples_ms) -> dict:
    s = sorted(samples_ms)
    at = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
    return {"p50_ms": round(statistics.median(s), 2), "p95_ms": round(at(0.95), 2), "n": len(s)}


MCP_CALLS = ([("remember", {"text": f"Pi note {i}: the kettle is in cupboard {i}", "tags": ["pi"]}) for i in range(5)]
             + [("recall", {"query": q, "k": 5}) for q in ("kettle cupboard", QUERY, "pi note", "tea", "project")] * 2
             + [("get", {"id": 1}), ("update", {"id": 2, "tags": ["pi", "edited"]}), ("list", {"limit": 5}),
                ("stats", {}), ("forget", {"id": 1})])


def mcp_session(path: str, tier: str, runs: int) -> dict:
    """`memento mcp` on a copy of the store: initialize latency after spawn (median of `runs`, bare
    `python -c pass` interleaved), then one session of 20 tool calls and the server's peak RSS."""
    import shutil
    import tempfile
    py = sys.executable
    init = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                       "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                  "clientInfo": {"name": "pi-lane", "version": "0"}}}).encode() + b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "mcp.db")
        shutil.copyfile(path, db)

        def spawn():
            return subprocess.Popen([py, "-m", "memento", "mcp", "--db", db, "--tier", tier], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

        bare, inits = [], []
        for _ in range(runs):
            bare += run_times([py, "-c", "pass"], 1)
            started = time.perf_counter()
            proc = spawn()
            proc.stdin.write(init)
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["result"]["serverInfo"]["name"] == "memento"
            inits.append(time.perf_counter() - started)
            proc.stdin.close()
            assert proc.wait(120) == 0
        proc = spawn()
        proc.stdin.write(init)
        proc.stdin.flush()
        proc.stdout.readline()
        ok = 0
        for i, (name, arguments) in enumerate(MCP_CALLS, 1):
            proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                         "params": {"name": name, "arguments": arguments}}).encode() + b"\n")
            proc.stdin.flush()
            reply = json.loads(proc.stdout.readline())
            ok += "result" in reply and not reply["result"]["isError"]
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak = int(next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]) / 1024
        proc.stdin.close()
        exit_code = proc.wait(120)
    return {"initialize": summary_s(inits), "bare_python": summary_s(bare), "tool_calls": len(MCP_CALLS),
            "tool_calls_ok": ok, "exit_code_at_eof": exit_code, "server_peak_rss_mb": round(peak, 1)}


def bench(path: str, tier: str, runs: int = 7, queries: int = 100) -> dict:
    import memento
    from bench import corpus
    py = sys.executable
    out = {"tier": tier, "store": path, "python": py}

    # First load ever: vector tiers build their model folder in the cache here (a child process).
    started = time.perf_counter()
    subprocess.run([py, "-c", PROBE, path, tier, json.dumps([QUERY])], check=True, stdout=subprocess.DEVNULL)
    out["first_load_s"] = round(time.perf_counter() - started, 2)
    # The largest process so far (the probe, or the child that builds the model): ru_maxrss of children.
    out["first_load_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    log(f"{tier}: first load (model build if any) {out['first_load_s']}s")

    # Cold start: fresh processes, bare `python -c pass` interleaved in the same run.
    bare, cold = [], []
    for _ in range(runs):
        bare += run_times([py, "-c", "pass"], 1)
        cold += run_times([py, "-c", PROBE, path, tier, json.dumps([QUERY])], 1)
    out["bare_python"] = summary_s(bare)
    out["cold_start"] = summary_s(cold)
    log(f"{tier}: cold start median {out['cold_start']['median_s']}s (bare python {out['bare_python']['median_s']}s)")

    # Peak RSS: a fresh process doing import + open + 50 different recalls (an agent's steady state).
    rss = subprocess.run([py, "-c", PROBE, path, tier, json.dumps(corpus.queries(50))],
                         check=True, capture_output=True, text=True).stdout
    out["rss"] = {k: round(v, 1) for k, v in json.loads(rss).items()}
    log(f"{tier}: peak RSS {out['rss']['peak_mb']} MB")

    out["mcp"] = mcp_session(path, tier, runs)
    log(f"{tier}: memento mcp initialize median {out['mcp']['initialize']['median_s']}s, "
        f"{out['mcp']['tool_calls_ok']}/{out['mcp']['tool_calls']} tool calls ok, "
        f"server peak RSS {out['mcp']['server_peak_rss_mb']} MB")

    # Warm recall: one open store, every mode warmed up, then `queries` different queries with the
    # modes interleaved per query, so a slow spell on the (shared) host hits all modes alike.
    modes = {"minimal": ["keyword"], "pocket": ["hybrid", "keyword"]}.get(tier, ["hybrid", "keyword", "vector"])
    qs = corpus.queries(queries + 10)
    samples = {mode: [] for mode in modes}
    with memento.open(path, tier=tier) as mem:
        out["count"] = mem.count()
        for q in qs[:10]:
            for mode in modes:
                mem.recall(q, k=10, mode=mode)
        for q in qs[10:]:
            for mode in modes:
                t = time.perf_counter()
                mem.recall(q, k=10, mode=mode)
                samples[mode].append((time.perf_counter() - t) * 1000)
    out["warm_recall"] = {mode: pct(samples[mode]) for mode in modes}
    for mode in modes:
        log(f"{tier}: warm recall {mode} p50 {out['warm_recall'][mode]['p50_ms']} ms")
    out["default_mode"] = modes[0]
    return out


# ---------------------------------------------------------------------------------------------
# Pi Zero 2 W estimates (nothing here ran on a Pi; the calibration is in docs/benchmarks.md, "Pi Zero 2 W
# estimates"). Measured on the lane's host, the same Debian python3 natively and under qemu-user:
#   python3 -c pass                      9.8 ms native,  246 ms emulated  (~25x)
#   python3 -c 'import sqlite3'          14-17 ms,       287 ms           (~19x)
#   pure-Python loop, 1e6 iterations     50-53 ms,       497 ms           (~10x)
#   FTS5: 2000 inserts + 200 MATCHes     196-199 ms,     2378 ms          (~12x)
#   peak RSS of python3 -c pass          12 MB,          36.5 MB          (+24 MB: qemu)
# A Pi Zero 2 W is roughly 7x slower than a modern x86 core for integer C code (published figures), so:
#   startup-dominated (cold start): Pi ~= 0.3 x emulated     (7x slower than native / 20-25x emulation)
#   steady state (warm recall):     Pi ~= 0.6-0.7 x emulated (7x / 10-12x)
#   RSS: emulated is an upper bound; qemu adds ~24 MB (bare python) to ~40 MB (apsw) and ~110 MB
#   once onnxruntime is loaded. The pocket tier loads what minimal loads (apsw, pure Python).
COLD_FACTOR = 0.3
WARM_FACTORS = (0.6, 0.7)
QEMU_RSS_MB = {"minimal": (24, 40), "pocket": (24, 40), "light": (110, 110), "tiny": (110, 110)}


def _pytest_run(log_file: Path, rc_file: Path) -> dict:
    """One pytest process's outcome from pi.sh's files: exit status (137 = killed by the memory
    cap, 5 = nothing selected), counts from its summary line, failures, skips, peak RSS if timed."""
    text = log_file.read_text(errors="replace")
    lines = text.splitlines()
    code = int(rc_file.read_text())
    summary = next((l.strip("= ") for l in reversed(lines)
                    if re.search(r"\d+ (passed|failed|errors?|deselected|skipped)", l)), None)
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|deselected|errors?)", summary or "")}
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return {"exit_status": code, "ok": code in (0, 5), "killed_by_signal_9": code == 137, "summary": summary,
            "passed": counts.get("passed", 0), "failed": counts.get("failed", 0) + counts.get("error", 0)
            + counts.get("errors", 0), "skipped": counts.get("skipped", 0),
            "failures": [l for l in lines if l.startswith(("FAILED", "ERROR"))],
            "skips": [l for l in lines if l.startswith("SKIPPED")],
            "peak_rss_mb_emulated": round(int(rss.group(1)) / 1024, 1) if rss else None}


def tests_result(d: Path, tier: str):
    """The capped test runs of pi.sh (one pytest process per file, one per spawns_python test)."""
    tdir = d / f"tests-{tier}"
    if not tdir.is_dir():
        return None
    runs = []
    for rc_file in sorted(tdir.glob("*.rc")):
        if rc_file.name.endswith(".uncapped.rc"):
            continue
        stem = rc_file.name[:-3]
        run = {"command": (tdir / f"{stem}.cmd").read_text().strip(),
               **_pytest_run(tdir / f"{stem}.log", rc_file)}
        if (tdir / f"{stem}.uncapped.rc").exists():
            run["same_run_without_cap"] = _pytest_run(tdir / f"{stem}.uncapped.log", tdir / f"{stem}.uncapped.rc")
        runs.append(run)
    return {"passed": bool(runs) and all(r["ok"] for r in runs),
            "tests_passed": sum(r["passed"] for r in runs), "tests_failed": sum(r["failed"] for r in runs),
            "tests_skipped": sum(r["skipped"] for r in runs), "pytest_processes": len(runs),
            "memory_cap": "100M per pytest process (cgroup: the process and any interpreter it starts)",
            "why_split": "qemu-user gives every process its own translated-code cache, growing with the code run: "
                         "one pytest process for the whole suite peaks at ~118 MB emulated (58 MB natively), and "
                         "pytest (~55 MB emulated) plus a child interpreter (~45 MB) cannot share 100 MB",
            "runs": runs}


def vs_minimal(m: dict, p: dict) -> dict:
    """The pocket tier against the minimal tier of the same run (same host, same corpus of the same
    size): differences, pocket minus minimal. Its warm recall in keyword mode is the same statement
    as minimal's, so `keyword_mode_p50_ms_delta_emulated` shows the noise between two tiers' runs."""
    d = lambda a, b, n=2: round(a - b, n)  # noqa: E731
    pw, mw = p["warm_recall_emulated"], m["warm_recall_emulated"]
    return {
        "warm_recall_p50_ms_delta_emulated": d(p["warm_recall_p50_ms_emulated"], m["warm_recall_p50_ms_emulated"]),
        "warm_recall_p50_ms_delta_pi_estimate": d(p["warm_recall_p50_ms_pi_estimate"], m["warm_recall_p50_ms_pi_estimate"]),
        "keyword_mode_p50_ms_delta_emulated": d(pw["keyword"]["p50_ms"], mw["keyword"]["p50_ms"]) if "keyword" in pw else None,
        "peak_rss_mb_delta_emulated": d(p["peak_rss_mb"], m["peak_rss_mb"], 1),
        "peak_rss_mb_delta_native_x86_64": d(p["peak_rss_mb_native_x86_64"], m["peak_rss_mb_native_x86_64"], 1)
        if p["peak_rss_mb_native_x86_64"] and m["peak_rss_mb_native_x86_64"] else None,
        "installed_mb_delta": d(p["installed_mb"], m["installed_mb"], 1),
        "cold_start_s_delta_emulated": d(p["cold_start_s_emulated"], m["cold_start_s_emulated"], 3),
    }


def summarize(out_dir: str, result: str) -> dict:
    d = Path(out_dir)
    doc = {}
    for tier in ("minimal", "pocket", "light", "tiny"):
        f = d / f"bench-{tier}.json"
        if not f.exists():
            doc[tier] = {"measured": False, "why": f"no {f.name}: not run (see pi.sh PI_TIERS)"}
            continue
        b = json.loads(f.read_text())
        size = json.loads((d / f"size-{tier}.json").read_text())
        native = d / f"rss-native-{tier}.json"
        cold = b["cold_start"]["median_s"]
        warm = b["warm_recall"][b["default_mode"]]
        lo, hi = QEMU_RSS_MB[tier]
        tests = tests_result(d, tier)
        row = {
            "installed_mb": size["installed_mb"],
            "peak_rss_mb": b["rss"]["peak_mb"],
            "cold_start_s_emulated": cold,
            "cold_start_s_pi_estimate": round(cold * COLD_FACTOR, 2),
            "warm_recall_p50_ms_emulated": warm["p50_ms"],
            "warm_recall_p50_ms_pi_estimate": round(warm["p50_ms"] * sum(WARM_FACTORS) / 2, 2),
            "tests_passed_under_100M": tests["passed"] if tests else None,
            "mcp_initialize_s_emulated": b["mcp"]["initialize"]["median_s"] if "mcp" in b else None,
            "mcp_initialize_s_pi_estimate": round(b["mcp"]["initialize"]["median_s"] * COLD_FACTOR, 3) if "mcp" in b else None,
            "mcp_tool_calls_ok": f"{b['mcp']['tool_calls_ok']}/{b['mcp']['tool_calls']}" if "mcp" in b else None,
            "mcp_server_peak_rss_mb_emulated": b["mcp"]["server_peak_rss_mb"] if "mcp" in b else None,
            # --- more detail (all emulated unless the name says otherwise) ---
            "peak_rss_mb_note": "emulated qemu-user process (guest + translator): an upper bound for a Pi",
            "peak_rss_mb_pi_estimate_range": [round(b["rss"]["peak_mb"] - hi, 1), round(b["rss"]["peak_mb"] - lo, 1)],
            "peak_rss_mb_native_x86_64": json.loads(native.read_text())["peak_mb"] if native.exists() else None,
            "rss_after_import_mb": b["rss"]["after_import_mb"],
            "cold_start_emulated": b["cold_start"],
            "bare_python_emulated": b["bare_python"],
            "bare_python_s_pi_estimate": round(b["bare_python"]["median_s"] * COLD_FACTOR, 3),
            "first_load_s_emulated": b["first_load_s"],
            "first_load_peak_rss_mb_emulated": b.get("first_load_peak_rss_mb"),
            "warm_recall_mode": b["default_mode"],
            "warm_recall_emulated": b["warm_recall"],
            "warm_recall_p95_ms_emulated": warm["p95_ms"],
            "warm_recall_p95_ms_pi_estimate": round(warm["p95_ms"] * sum(WARM_FACTORS) / 2, 2),
            "warm_recall_p50_ms_pi_estimate_range": [round(warm["p50_ms"] * f, 2) for f in WARM_FACTORS],
            "store_memories": b["count"],
            "install": size,
            "measured_under_mem_limit": (d / f"limit-{tier}").read_text().strip() if (d / f"limit-{tier}").exists() else None,
        }
        if tests:
            row["tests"] = tests
        doc[tier] = row
    if doc["minimal"].get("installed_mb") is not None and doc["pocket"].get("installed_mb") is not None:
        doc["pocket"]["vs_minimal"] = vs_minimal(doc["minimal"], doc["pocket"])
    doc["machine"] = json.loads((d / "machine.json").read_text())
    doc["commit"] = doc["machine"].pop("commit", None)
    doc["machine"]["guest"] = {"rootfs": doc["machine"]["guest"], **json.loads((d / "guest.json").read_text())}
    if (d / "wall_s").exists():
        doc["lane_wall_s"] = int((d / "wall_s").read_text())
        doc["lane_step_start_s"] = {step: int(t) for t, step in
                                    (l.split(" ", 1) for l in (d / "timeline.txt").read_text().splitlines())}
    doc["estimates"] = {
        "method": "Pi Zero 2 W ESTIMATES from emulated figures, calibrated in docs/benchmarks.md "
                  "(Pi Zero 2 W estimates); "
                  "not measured on a Pi (SD card and 512 MB shared RAM not modelled)",
        "cold_start_factor": COLD_FACTOR, "warm_recall_factor": sum(WARM_FACTORS) / 2,
        "warm_recall_factor_range": list(WARM_FACTORS), "qemu_rss_overhead_mb": QEMU_RSS_MB,
    }
    Path(result).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return doc


def scale_recall(path: str, tier: str, questions_file: str, warm: int = 10) -> dict:
    """Warm recall (wall ms) of the questions (a JSON list, e.g. bench/scale.py's dev questions) on a
    big store of real text, the default search and the whole search (common_word_share=1.0, every query
    word searched: memento/rare_words.py) question by question in turn, so both see the same load."""
    from dataclasses import replace

    import memento
    questions = json.loads(Path(questions_file).read_text(encoding="utf-8"))
    times: dict = {"default": [], "whole": []}
    with memento.open(path, tier=tier) as mem:
        settings = {"default": mem.ranking, "whole": replace(mem.ranking, common_word_share=1.0)}
        for i, q in enumerate(questions):
            for name, ranking in settings.items():
                mem.ranking = ranking
                started = time.perf_counter()
                mem.recall(q, k=10)
                if i >= warm:
                    times[name].append((time.perf_counter() - started) * 1000)
        rows = mem.count()
    factor = sum(WARM_FACTORS) / 2
    out = {"memories": rows, "tier": tier, "questions": len(questions) - warm}
    for name, samples in times.items():
        p = pct(samples)
        out[name] = {**p, "p50_ms_pi_estimate": round(p["p50_ms"] * factor, 2),
                     "p95_ms_pi_estimate": round(p["p95_ms"] * factor, 2)}
    return out


def main(argv) -> None:
    cmd, *args = argv
    if cmd == "build-store":
        res = build_store(args[0], args[1], int(args[2]))
    elif cmd == "install-size":
        res = install_size(*args)
    elif cmd == "bench":
        res = bench(args[0], args[1], runs=int(os.environ.get("PI_RUNS", 7)),
                    queries=int(os.environ.get("PI_QUERIES", 100)))
        res["machine"] = {"machine": platform.machine(), "python": platform.python_version()}
    elif cmd == "rss":   # native reference: the same probe, same store, this machine's python
        from bench import corpus
        res = json.loads(subprocess.run([sys.executable, "-c", PROBE, args[0], args[1], json.dumps(corpus.queries(50))],
                                        check=True, capture_output=True, text=True).stdout)
    elif cmd == "summarize":
        res = summarize(*args)
    elif cmd == "scale-recall":
        res = scale_recall(*args)
    else:
        raise SystemExit(__doc__)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
