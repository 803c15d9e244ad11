"""What the pocket tier's hybrid recall costs over keyword recall, query by query, and where it goes.

A store of N memories made of the LoCoMo dev set's turns, copied until there are N, each copy of a
session its own thread (speaker and date kept); the dev set's real questions. One process opens the
store twice: in the pocket tier (modes hybrid and keyword) and in the minimal tier (keyword; the same
statement as pocket's keyword mode). The modes run interleaved per question, so a slow spell on a
shared host hits them alike; each time is the CPU time of this process (time.process_time), and the
gap is taken question by question (hybrid minus keyword, hybrid minus minimal), median over
questions, best of --rounds rounds, each round on questions the store has not seen yet.

It then splits hybrid's extra cost: the query's static vector (tokenize + token rows), the pool's
cosines (memento_cosines; its inputs recorded and replayed alone), memento_fold and the rest.

Only the standard library and memento are imported, so it runs in the emulated Pi lane's pocket venv:

  pocket_speed.py build PATH DEV_JSON [--size 10000]      (natively: the store)
  pocket_speed.py measure PATH DEV_JSON [--queries 150] [--rounds 3] [--profile] [--gap-only]
                                                         (--gap-only: no split, e.g. for code without memento_cosines)
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


def cpu_ms(fn, *args, **kwargs) -> float:
    started = time.process_time()
    fn(*args, **kwargs)
    return (time.process_time() - started) * 1000


def question_sets(dev: Path, queries: int, rounds: int):
    """Disjoint sets of dev questions (conversations mixed): 20 to warm up, `rounds` sets of `queries`
    for the comparison, `rounds` more for the split, and what is left (for the query vector alone).
    Each set is new to the store's caches (words, token rows), as an agent's next question is, but
    for the words questions share. Sets wrap around when the dev set runs out."""
    questions = dev_questions(dev)
    n = len(questions)
    order = [questions[(i * 7919) % n] for i in range(n)]   # 7919 is prime: a permutation for n < 7919
    sizes = [20] + [queries] * (2 * rounds)
    sets, at = [], 0
    for size in sizes:
        sets.append([order[(at + i) % n] for i in range(size)])
        at += size
    rest = order[at:] if at < n else order[:queries]
    return sets[0], sets[1:rounds + 1], sets[rounds + 1:], rest


def measure(path: str, dev: Path, queries: int, rounds: int, profile: bool, gap_only: bool = False) -> dict:
    import memento
    from memento.pocket import table as table_file
    warm, main_sets, split_sets, rest = question_sets(dev, queries, rounds)
    out: dict = {"store": path, "queries": queries, "rounds": rounds,
                 "unseen_questions": 20 + 2 * rounds * queries <= len(dev_questions(dev))}
    with memento.open(path, tier="pocket") as pocket, memento.open(path, tier="minimal") as minimal:
        out["count"] = pocket.count()
        runs = {"pocket hybrid": lambda q: pocket.recall(q, k=10, mode="hybrid"),
                "pocket keyword": lambda q: pocket.recall(q, k=10, mode="keyword"),
                "minimal keyword": lambda q: minimal.recall(q, k=10)}
        for q in warm:
            for run in runs.values():
                run(q)
        best = None
        for qs in main_sets:
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
        if gap_only:
            return out

        # The split of hybrid's extra cost.
        index = pocket._vectors
        out["split_cpu_ms"] = split(pocket, index, split_sets)
        out["query_vector_cpu_ms"] = round(statistics.median(cpu_ms(index.query_vector, q) for q in rest), 3)
        # memento_cosines alone: each recall's pool rows, recorded, then the aggregate replayed.
        qs = main_sets[0]
        pools = []
        conn = index._conn

        class Recording(table_file.Cosines):
            def step(self, *row):
                rows.append(row)
                super().step(*row)
        for q in qs:
            rows: list = []
            conn.create_aggregate_function("memento_cosines", Recording, 4)
            pocket.recall(q, k=10, mode="hybrid")
            pools.append(rows)
        conn.create_aggregate_function("memento_cosines", table_file.Cosines, 4)
        out["pool_vectors_per_query"] = round(sum(map(len, pools)) / len(pools), 1)
        per_query = []
        for _ in range(rounds):
            started = time.process_time()
            for pool in pools:
                replay = table_file.Cosines()
                for row in pool:
                    replay.step(*row)
                replay.final()
            per_query.append((time.process_time() - started) * 1000 / len(pools))
        out["cosines_cpu_ms_per_query"] = round(min(per_query), 3)
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


def split(pocket, index, sets) -> dict:
    """Hybrid's extra cost over keyword, part by part: each variant takes one more part away (its
    results differ; only its time counts). Medians over questions of the per-question difference
    from pocket keyword, best over the sets (one round each; plain hybrid first, while the
    questions are new to the caches)."""
    from memento import connection
    from memento.pocket import table as table_file
    conn = index._conn
    real_vector = index.query_vector

    class Constant(table_file.Cosines):   # every cosine 0.5, at the cost of the steps only
        def final(self):
            return json.dumps(dict.fromkeys(map(str, self.ids), 0.5))
    names = ["hybrid", "hybrid, query vector given", "... and memento_cosines constant",
             "... and memento_fold the identity"]
    best: dict = {}
    for qs in sets:
        samples = {"keyword": [cpu_ms(pocket.recall, q, k=10, mode="keyword") for q in qs]}
        samples["hybrid"] = [cpu_ms(pocket.recall, q, k=10, mode="hybrid") for q in qs]
        qvecs = {q: real_vector(q) for q in qs}
        index.query_vector = qvecs.__getitem__
        samples[names[1]] = [cpu_ms(pocket.recall, q, k=10, mode="hybrid") for q in qs]
        conn.create_aggregate_function("memento_cosines", Constant, 4)
        samples[names[2]] = [cpu_ms(pocket.recall, q, k=10, mode="hybrid") for q in qs]
        conn.create_scalar_function("memento_fold", lambda s: s, 1, deterministic=True)
        samples[names[3]] = [cpu_ms(pocket.recall, q, k=10, mode="hybrid") for q in qs]
        index.query_vector = real_vector
        conn.create_aggregate_function("memento_cosines", table_file.Cosines, 4)
        conn.create_scalar_function("memento_fold", connection.fold_name, 1, deterministic=True)
        for name in names:
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
    ap.add_argument("--gap-only", action="store_true")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        res = build(args.path, args.dev, args.size)
    elif args.cmd == "measure":
        res = measure(args.path, args.dev, args.queries, args.rounds, args.profile, args.gap_only)
    else:
        res = pi_estimate(args.path)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
