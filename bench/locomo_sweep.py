"""`python bench/locomo.py --data PATH --sweep TIERS`: re-runs the choice of every ranking weight in
memento/ranking.py on the LoCoMo dev set, with leave-one-conversation-out (LOCO). The dev file
(--data, or $MEMENTO_LOCOMO_DATA) is read by bench/locomo.py, which hands the conversations to run();
where it comes from and how to make it: docs/benchmarks.md, "The LoCoMo dev set".

For each tier: one store per conversation (threads = sessions, created_at = the session's date),
built once; embeddings of turns and questions computed once per model and cached on disk
($MEMENTO_BENCH_DIR/locomo-embeddings-<model>.pkl), handed to memento through its public vector API
(remember_many items' "vector", recall(vector=)). Each grid point only swaps the store's
RankingSettings (Memento.ranking) and asks every question again.

Choice rule: a smoothed arg-max (each point's R@10 averaged with its grid neighbours, one step
along one axis), so a point on a plateau wins over a lone peak. LOCO: for each conversation, the
point is chosen on the other four and scored on it; the LOCO figure pools those held-out answers.
Scored: R@10 over categories 1-4 (n=760), as bench/locomo.py.

How much of dev - LOCO is noise: every fold's held-out R@10 at its own pick and at the all-dev
choice, and a bootstrap (questions resampled within each conversation, the whole choice and LOCO
re-run on each sample) of dev, LOCO and their gap. A choice on the edge of a grid is flagged: the
smoothing there averages fewer points and cannot see whether the plateau goes on.
"""
from __future__ import annotations

import itertools
import json
import pickle
import random
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

Point = Tuple[float, ...]

# The grids (every axis sorted), the same for every tier. Context weight and gamma matter in every
# tier; w_vector in vector tiers. The context weight is a keyword-index weight: chosen on the keyword
# tier (minimal) and kept for the vector tiers, whose grid is gamma x w_vector (a 3-d grid cost 3x
# the time for the same choice).
# - gamma (a share of a neighbour's score, 0..1) in even steps of 0.1 over its whole range, the same
#   axis for keyword_gamma (keyword statement) and gamma (hybrid statement);
# - w_vector scales the cosine against bm25/best: a scale, so a geometric axis, steps of sqrt(2)
#   (2 significant digits) from 1/4 to 4, symmetric around 1 (equal weights). The earlier axis
#   0.5..2.0 put full's choice on its edge (w 2.0), where the smoothing sees only one side.
CONTEXT_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
GAMMAS = tuple(i / 10 for i in range(11))
KEYWORD_GAMMAS = GAMMAS
W_VECTORS = (0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0)
KEYWORD_BASED = ("minimal", "pocket")   # tiers without a model's vectors (pocket: static token vectors)
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 12


def cache_dir() -> Path:
    import os
    d = Path(os.environ.get("MEMENTO_BENCH_DIR", "/tmp/memento-bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def embeddings(tier: str, texts: Sequence[str]) -> Dict[str, bytes]:
    """text -> stored-form vector for the tier's model, computed once and kept on disk."""
    from memento.vectors.embedder import Embedder
    from memento.vectors.registry import model_for_tier
    spec = model_for_tier(tier)
    path = cache_dir() / f"locomo-embeddings-{spec.id}.pkl"
    known: Dict[str, bytes] = pickle.loads(path.read_bytes()) if path.exists() else {}
    missing = sorted(set(texts) - set(known))
    if missing:
        started = time.perf_counter()
        known.update(zip(missing, Embedder(spec).embed(missing)))
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(known))
        tmp.replace(path)
        print(f"  embedded {len(missing):,} texts with {spec.id} in {time.perf_counter() - started:.1f} s")
    return known


class Stores:
    """One open store per conversation for a tier, built once (with or without threads)."""

    def __init__(self, memento, locomo, convs, tier: str, threads: bool):
        self.tmp = tempfile.TemporaryDirectory(prefix=f"locomo-sweep-{tier}-")
        self.convs, self.tier, self.locomo = convs, tier, locomo
        vectors = None
        if tier not in KEYWORD_BASED:   # the pocket tier computes its static vectors itself
            texts = [t.text for c in convs for t in c.turns] + [q.text for c in convs for q in c.questions]
            vectors = embeddings(tier, texts)
        self.qvec = {}
        self.mems, self.dia_of = [], []
        for conv in convs:
            mem = memento.open(Path(self.tmp.name) / f"{conv.conv_id}.db", tier=tier)
            items = locomo.memento_items(conv, threads=threads)
            if vectors is not None:
                items = [{**item, "vector": vectors[item["text"]]} for item in items]
                self.qvec.update({q.text: vectors[q.text] for q in conv.questions})
            made = mem.remember_many(items, dedup=False)  # one memory per turn, as locomo.py
            self.mems.append(mem)
            self.dia_of.append({m.id: t.dia_id for m, t in zip(made, conv.turns)})

    def r10(self, settings, mode: str) -> List[List[float]]:
        """R@10 of every scored question (categories 1-4), per conversation."""
        out = []
        for conv, mem, dia_of in zip(self.convs, self.mems, self.dia_of):
            mem.ranking = settings
            scores = []
            for q in conv.questions:
                if q.category not in self.locomo.OVERALL:
                    continue
                hits = mem.recall(q.text, k=self.locomo.K, mode=mode, vector=self.qvec.get(q.text), min_score=0)
                scores.append(self.locomo.score(q.gold, [dia_of[h.id] for h in hits])["R@10"])
            out.append(scores)
        return out

    def close(self):
        for mem in self.mems:
            mem.close()
        self.tmp.cleanup()


def pooled(per_conv: Sequence[Sequence[float]], which: Sequence[int]) -> float:
    values = [v for i in which for v in per_conv[i]]
    return statistics.fmean(values) if values else 0.0


Totals = Dict[Point, List[float]]  # point -> sum of R@10 per conversation (over a sample of its questions)


def totals(grid: Dict[Point, List[List[float]]], weights: Optional[Sequence[Sequence[int]]] = None
           ) -> Tuple[Totals, List[float]]:
    """Per point and conversation, the sum of R@10 (each question counted weights[c][i] times, or
    once), and the number of questions counted per conversation."""
    if weights is None:
        return ({p: [float(sum(v)) for v in per_conv] for p, per_conv in grid.items()},
                [float(len(v)) for v in next(iter(grid.values()))])
    return ({p: [float(sum(w * x for w, x in zip(wc, v) if w)) for wc, v in zip(weights, per_conv)]
             for p, per_conv in grid.items()}, [float(sum(wc)) for wc in weights])


def smoothed_argmax(sums: Totals, counts: Sequence[float], axes: Sequence[Sequence[float]],
                    convs: Sequence[int]) -> Point:
    """The point whose R@10 (on `convs`), averaged with its one-step grid neighbours, is highest."""
    n = sum(counts[c] for c in convs)
    raw = {p: sum(s[c] for c in convs) / n for p, s in sums.items()}

    def neighbours(p: Point):
        for axis, values in enumerate(axes):
            i = values.index(p[axis])
            for j in (i - 1, i + 1):
                if 0 <= j < len(values):
                    q = p[:axis] + (values[j],) + p[axis + 1:]
                    if q in raw:
                        yield q

    smooth = {p: statistics.fmean([raw[p], *(raw[q] for q in neighbours(p))]) for p in raw}
    return max(smooth, key=lambda p: (round(smooth[p], 6), round(raw[p], 6)))


def loco(sums: Totals, counts: Sequence[float], axes) -> Dict[str, Any]:
    everything = list(range(len(counts)))
    chosen = smoothed_argmax(sums, counts, axes, everything)
    picks = [smoothed_argmax(sums, counts, axes, [i for i in everything if i != c]) for c in everything]
    return {"chosen": chosen, "dev_R@10": sum(sums[chosen]) / sum(counts),
            "loco_R@10": sum(sums[pick][c] for c, pick in enumerate(picks)) / sum(counts),
            "loco_picks": picks}


def bootstrap(grid: Dict[Point, List[List[float]]], axes,
              samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED) -> Dict[str, Any]:
    """dev, LOCO and dev - LOCO over `samples` resamplings of the questions (with replacement,
    within each conversation), the whole choice re-run on each: how far the gap moves by chance."""
    rng = random.Random(seed)
    sizes = [len(v) for v in next(iter(grid.values()))]
    devs, locos, gaps = [], [], []
    for _ in range(samples):
        weights = []
        for size in sizes:
            counts = [0] * size
            for _ in range(size):
                counts[rng.randrange(size)] += 1
            weights.append(counts)
        result = loco(*totals(grid, weights), axes)
        devs.append(result["dev_R@10"])
        locos.append(result["loco_R@10"])
        gaps.append(result["dev_R@10"] - result["loco_R@10"])
    gaps.sort()

    def spread(values):
        return {"mean": round(statistics.fmean(values), 4), "sd": round(statistics.stdev(values), 4)}
    return {"samples": samples, "seed": seed, "dev_R@10": spread(devs), "loco_R@10": spread(locos),
            "gap": {**spread(gaps), "p05": round(gaps[int(0.05 * samples)], 4),
                    "p95": round(gaps[int(0.95 * samples) - 1], 4),
                    "share_over_0.01": round(sum(g > 0.01 for g in gaps) / samples, 3)}}


def on_edge(point: Point, axes) -> List[int]:
    """The axes (by index) on which `point` is the first or last value of a grid with 3+ values."""
    return [a for a, values in enumerate(axes) if len(values) > 2 and point[a] in (values[0], values[-1])]


def sweep_tier(memento, locomo, convs, tier: str, threads: bool = True) -> Dict[str, Any]:
    from memento.ranking import for_model
    from memento.vectors.registry import model_for_tier
    DEFAULT = for_model(None if tier in KEYWORD_BASED else model_for_tier(tier).id, tier)  # this tier's defaults
    started = time.perf_counter()
    stores = Stores(memento, locomo, convs, tier, threads)
    mode = "keyword" if tier == "minimal" else "hybrid"
    if tier == "minimal":
        names, axes = ("context_weight", "keyword_gamma"), (CONTEXT_WEIGHTS, KEYWORD_GAMMAS)
    elif threads:
        names, axes = ("gamma", "w_vector"), (GAMMAS, W_VECTORS)
    else:  # without threads there is no context and no neighbour: only the fusion weight
        names, axes = ("w_vector",), ((0.0,) + W_VECTORS,)
    grid: Dict[Point, List[List[float]]] = {}
    try:
        for point in itertools.product(*axes):
            grid[point] = stores.r10(replace(DEFAULT, **dict(zip(names, point))), mode)
        default_point = tuple(getattr(DEFAULT, n) for n in names)
        default_r10 = pooled(stores.r10(DEFAULT, mode), range(len(convs)))
    finally:
        stores.close()
    result = loco(*totals(grid), axes)
    chosen = result["chosen"]
    table = {json.dumps(dict(zip(names, p))): round(pooled(v, range(len(convs))), 4) for p, v in grid.items()}
    folds = [{"held_out": conv.conv_id, "n": len(grid[chosen][i]), "pick": dict(zip(names, pick)),
              "held_out_R@10": round(pooled(grid[pick], [i]), 4),
              "held_out_R@10_at_dev_choice": round(pooled(grid[chosen], [i]), 4)}
             for i, (conv, pick) in enumerate(zip(convs, result["loco_picks"]))]
    out = {"tier": tier, "mode": mode, "threads": threads, "axes": dict(zip(names, axes)),
           "chosen": dict(zip(names, chosen)), "dev_R@10": round(result["dev_R@10"], 4),
           "loco_R@10": round(result["loco_R@10"], 4),
           "loco_picks": [dict(zip(names, p)) for p in result["loco_picks"]], "loco_folds": folds,
           "chosen_on_edge": [names[a] for a in on_edge(chosen, axes)],
           "bootstrap": bootstrap(grid, axes),
           "default": dict(zip(names, default_point)), "default_R@10": round(default_r10, 4),
           "grid": table, "seconds": round(time.perf_counter() - started, 1)}
    b = out["bootstrap"]
    print(f"\n{tier} {mode} threads={threads}: chosen {out['chosen']} dev R@10 {out['dev_R@10']:.3f}, "
          f"LOCO {out['loco_R@10']:.3f} (gap {out['dev_R@10'] - out['loco_R@10']:+.3f}); ranking.py defaults "
          f"{out['default']}: {out['default_R@10']:.3f}  ({out['seconds']} s, {len(grid)} points)"
          + (f"\n  CHOSEN ON THE EDGE OF THE GRID: {', '.join(out['chosen_on_edge'])}" if out["chosen_on_edge"] else ""))
    print(f"  bootstrap ({b['samples']} resamplings of the questions within each conversation): dev sd "
          f"{b['dev_R@10']['sd']:.3f}, LOCO sd {b['loco_R@10']['sd']:.3f}, gap dev - LOCO mean "
          f"{b['gap']['mean']:.3f} sd {b['gap']['sd']:.3f} (90%: {b['gap']['p05']:.3f}..{b['gap']['p95']:.3f}; "
          f"over 0.01 in {b['gap']['share_over_0.01']:.0%})")
    for f in folds:
        print(f"  held out {f['held_out']} (n={f['n']}): chosen on the others {f['pick']}, R@10 there "
              f"{f['held_out_R@10']:.3f} (at the dev choice {f['held_out_R@10_at_dev_choice']:.3f})")
    _print_grid(names, axes, table)
    return out


def _print_grid(names, axes, table) -> None:
    """The grid as rows of the first axis... the last axis across."""
    last = axes[-1]
    print("  " + " ".join(f"{n}" for n in names[:-1]) + f" | {names[-1]}: " + " ".join(f"{v:>5}" for v in last))
    for head in itertools.product(*axes[:-1]):
        cells = [table[json.dumps(dict(zip(names, head + (v,))))] for v in last]
        print("  " + " ".join(f"{h:>5}" for h in head) + " | " + " ".join(f"{c:.3f}" for c in cells))


def run(memento, locomo, convs, tiers: Sequence[str]) -> List[Dict[str, Any]]:
    results = []
    for tier in tiers:
        results.append(sweep_tier(memento, locomo, convs, tier, threads=True))
        if tier == "full":
            results.append(sweep_tier(memento, locomo, convs, tier, threads=False))
    return results
