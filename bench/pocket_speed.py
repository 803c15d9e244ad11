"""What the pocket tier's hybrid recall costs over keyword recall, query by query, and where it goes.

A store of N memories made of the LoCoMo dev set's turns, copied until there are N, each copy of a
session its own thread (speaker and date kept); the dev set's real questions. One process opens the
store twice: in the pocket tier (modes hybrid and keyword) and in the minimal tier (keyword; the same
statement as pocket's keyword mode). The modes run interleaved per question, so a slow spell on a
shared host hits them alike; each time is the CPU time of this process (time.process_time), and the
gap is taken question by question (hybrid minus keyword, hybrid minus minimal), median over
questions, best of --rounds rounds.

It then splits hybrid's extra cost: the query's static vector (tokenize + token rows), and the calls
of memento_dot (counted, and the same calls replayed alone).

Only the standard library and memento are imported, so it runs in the emulated Pi lane's pocket venv:

  pocket_speed.py build PATH DEV_JSON [--size 10000]      (natively: the store)
  pocket_speed.py measure PATH DEV_JSON [--queries 150] [--rounds 3] [--profile]
  pocket_speed.py pi-estimate RESULT.json                  (emulated figures -> Pi estimates, pi_measure's factors)

Under qemu-user (bench/pi.sh's run-arm64.sh), process_time is the emulating process's CPU time; the
Pi estimate multiplies an emulated steady-state time by pi_measure.WARM_FACTORS.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))   # `from bench import pi_measure` without installing bench


def dev_turns(dev: Path):
    """(conversation id, session number, speaker, text, ISO date) of every dev turn, in order."""
    from datetime import datetime
    out = []
    for sample in json.loads(dev.read_text(encoding="utf-8")):
        conv = sample["conversation"]
        sessions = sorted(int(k.split("_")[1]) for k in conv if k.startswith("session_") and k.count("_") == 1)
        for n in sessions:
            iso = datetime.strptime(conv[f"session_{n}_date_time"], "%I:%M %p on %d %B, %Y").isoformat()
            for t in conv[f"session_{n}"]:
                text = f"{t['speaker']}: {t['text']}"
                if t.get("blip_caption"):
                    text += f" [shares photo: {t['blip_caption']}]"
                out.append((sample["sample_id"], n, t["speaker"], text, iso))
    return out


def dev_questions(dev: Path):
    return [qa["question"] for sample in json.loads(dev.read_text(encoding="utf-8")) for qa in sample["qa"]]


def build(path: str, dev: Path, size: int) -> dict:
    import memento
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    turns = dev_turns(dev)
    items = []
    copy = 0
    while len(items) < size:
        items += [{"text": text, "speaker": speaker, "created_at": iso, "thread": f"{conv}/session_{n}/copy_{copy}"}
                  for conv, n, speaker, text, iso in turns[:size - len(items)]]
        copy += 1
    started = time.process_time()
    with memento.open(path, tier="pocket") as mem:
        for i in range(0, size, 2000):
            mem.remember_many(items[i:i + 2000], dedup=False)
        count = mem.count()
    return {"path": path, "count": count, "copies": copy, "build_cpu_s": round(time.process_time() - started, 1)}


def cpu_ms(fn, *args) -> float:
    started = time.process_time()
    fn(*args)
    return (time.process_time() - started) * 1000


def measure(path: str, dev: Path, queries: int, rounds: int, profile: bool) -> dict:
    import memento
    from memento.pocket import table as table_file
    questions = dev_questions(dev)
    step = max(1, len(questions) // (queries + 20))
    qs = questions[::step][:queries + 20]
    warm, qs = qs[:20], qs[20:]
    out: dict = {"store": path, "queries": len(qs), "rounds": rounds}
    with memento.open(path, tier="pocket") as pocket, memento.open(path, tier="minimal") as minimal:
        out["count"] = pocket.count()
        runs = {"pocket hybrid": lambda q: pocket.recall(q, k=10, mode="hybrid"),
                "pocket keyword": lambda q: pocket.recall(q, k=10, mode="keyword"),
                "minimal keyword": lambda q: minimal.recall(q, k=10)}
        for q in warm + qs:
            for run in runs.values():
                run(q)
        best = None
        for _ in range(rounds):
            samples: dict = {name: [] for name in runs}
            for q in qs:
                for name, run in runs.items():
                    samples[name].append(cpu_ms(run, q))
            row = {name: round(statistics.median(s), 3) for name, s in samples.items()}
            row["gap hybrid - keyword"] = round(statistics.median(
                h - k for h, k in zip(samples["pocket hybrid"], samples["pocket keyword"])), 3)
            row["gap hybrid - minimal"] = round(statistics.median(
                h - k for h, k in zip(samples["pocket hybrid"], samples["minimal keyword"])), 3)
            if best is None or row["gap hybrid - keyword"] < best["gap hybrid - keyword"]:
                best = row
        out["p50_cpu_ms"] = best

        # The split of hybrid's extra cost.
        index = pocket._vectors
        qvecs = [index.query_vector(q) for q in qs]
        out["query_vector_cpu_ms"] = round(statistics.median(cpu_ms(index.query_vector, q) for q in qs), 3)
        calls = []
        conn = index._conn
        dot = table_file.Dot()

        def recording(a, b):
            calls.append((a, b))
            return dot(a, b)
        conn.create_scalar_function("memento_dot", recording, 2, deterministic=True)
        for q in qs:
            pocket.recall(q, k=10, mode="hybrid")
        conn.create_scalar_function("memento_dot", table_file.Dot(), 2, deterministic=True)
        out["dot_calls_per_query"] = round(len(calls) / len(qs), 1)
        replay = table_file.Dot()
        per_call = []
        for _ in range(rounds):
            started = time.process_time()
            for a, b in calls:
                replay(a, b)
            per_call.append((time.process_time() - started) * 1000 / len(calls))
        out["dot_cpu_us_per_call"] = round(min(per_call) * 1000, 2)
        out["dot_cpu_ms_per_query"] = round(min(per_call) * len(calls) / len(qs), 3)
        out["query_vector_bytes_distinct"] = len(set(qvecs))
        out["split_cpu_ms"] = split(pocket, index, qs, dict(zip(qs, qvecs)), rounds)
        if profile:
            import cProfile
            import io
            import pstats
            prof = cProfile.Profile()
            prof.enable()
            for q in qs:
                pocket.recall(q, k=10, mode="hybrid")
            prof.disable()
            text = io.StringIO()
            pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(18)
            print(text.getvalue(), file=sys.stderr)
    return out


def split(pocket, index, qs, qvecs, rounds: int) -> dict:
    """Hybrid's extra cost over keyword, part by part: each variant takes one more part away (its
    results differ; only its time counts). Medians over questions of the per-question difference
    from pocket keyword, best of `rounds`."""
    from memento import connection
    from memento.pocket import table as table_file
    conn = index._conn
    real_vector = index.query_vector
    variants = [("hybrid", lambda: None),
                ("hybrid, query vector given", lambda: setattr(index, "query_vector", qvecs.__getitem__)),
                ("... and memento_dot a constant",
                 lambda: conn.create_scalar_function("memento_dot", lambda a, b: 1.0, 2, deterministic=True)),
                ("... and memento_fold the identity",
                 lambda: conn.create_scalar_function("memento_fold", lambda s: s, 1, deterministic=True))]
    samples: dict = {name: [] for name, _ in variants}
    samples["keyword"] = []
    best: dict = {}
    for _ in range(rounds):
        for v in samples.values():
            v.clear()
        for q in qs:
            samples["keyword"].append(cpu_ms(lambda: pocket.recall(q, k=10, mode="keyword")))
        for name, setup in variants:
            setup()
            samples[name] = [cpu_ms(lambda: pocket.recall(q, k=10, mode="hybrid")) for q in qs]
        index.query_vector = real_vector
        conn.create_scalar_function("memento_dot", table_file.Dot(), 2, deterministic=True)
        conn.create_scalar_function("memento_fold", connection.fold_name, 1, deterministic=True)
        for name, _ in variants:
            gap = round(statistics.median(h - k for h, k in zip(samples[name], samples["keyword"])), 3)
            best[name] = min(best.get(name, gap), gap)
    return {f"{name} - keyword": gap for name, gap in best.items()}


def pi_estimate(result: str) -> dict:
    from bench.pi_measure import WARM_FACTORS
    doc = json.loads(Path(result).read_text())
    f = sum(WARM_FACTORS) / 2
    return {k: round(v * f, 2) for k, v in doc["p50_cpu_ms"].items()} | {"factor": f}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=("build", "measure", "pi-estimate"))
    ap.add_argument("path")
    ap.add_argument("dev", nargs="?", type=Path)
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        res = build(args.path, args.dev, args.size)
    elif args.cmd == "measure":
        res = measure(args.path, args.dev, args.queries, args.rounds, args.profile)
    else:
        res = pi_estimate(args.path)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
