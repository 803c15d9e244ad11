"""Choose the hybrid statement's thread channel (memento/ranking.py: w_thread, thread_half) on the LoCoMo dev set.

    python bench/locomo_thread.py --data PATH/locomo-dev.json --tier full
    python bench/locomo_thread.py --data PATH/locomo-dev.json --tier light

The data (--data, or $MEMENTO_LOCOMO_DATA) and where it comes from: docs/benchmarks.md. One store
per conversation (turns with their speaker, sessions as threads, as bench/locomo.py stores them);
each grid point swaps the channel's settings into the store's RankingSettings and asks every
question again (hybrid, k = 10, min_score=0, the query vectors computed once).

The channel (sql/queries/recall_hybrid.sql): each memory's score gains w_thread x its thread's
score, an aggregate of the fused scores of the thread's ranked members (thread_agg: 0 sum, 1 max,
2 mean of the positive ones), and the best thread's thread_half memories before and after its best
candidate join the candidates (0: none join).

The rule: the point with the highest smoothed R@10 on categories 1-4 (a point averaged with its
neighbours one step along w_thread and thread_half, within one aggregate, as bench/locomo_sweep.py
does), chosen on four conversations and scored on the fifth (leave-one-conversation-out). The
channel ships on when that LOCO R@10 gains at least MIN_GAIN over the channel off and no category
loses more than MAX_CATEGORY_LOSS (LOCO, per category); otherwise w_thread stays 0.
Writes bench/results/locomo_thread_<tier>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from array import array
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import locomo  # noqa: E402
from bench.locomo_boosts import build  # noqa: E402

# w_thread per aggregate: a sum over a thread's ranked members runs ~5-10x a single member's score;
# normalised (thread_norm 1: a thread's score / the best thread's) every aggregate runs 0..1
WEIGHTS = {0: (0.005, 0.01, 0.02, 0.04, 0.08), 1: (0.05, 0.1, 0.2, 0.4, 0.8), 2: (0.05, 0.1, 0.2, 0.4, 0.8),
           3: (0.05, 0.1, 0.2, 0.4, 0.8), 4: (0.05, 0.1, 0.2, 0.4, 0.8), 5: (0.05, 0.1, 0.2, 0.4, 0.8)}
HALVES = (0, 8, 16, 32)
AGGREGATES = {0: "sum", 1: "max", 2: "mean", 3: "sum/best", 4: "max/best", 5: "mean/best"}
MIN_GAIN = 0.004
MAX_CATEGORY_LOSS = 0.005
OFF = (0, 0.0, 0)


def vectors_for(tier: str, convs) -> dict:
    from memento.vectors.embedder import Embedder
    from memento.vectors.registry import model_for_tier
    texts = sorted({q.text for conv in convs for q in conv.questions})
    return {t: array("f", v).tolist() for t, v in zip(texts, Embedder(model_for_tier(tier)).embed(texts))}


def answers(stores, settings, vectors) -> list:
    """Per conversation: [(category, R@10)] for each of its questions."""
    out = []
    for conv, mem, dia in stores:
        mem.ranking = settings
        out.append([(q.category, locomo.score(q.gold, [dia[h.id] for h in mem.recall(
            q.text, k=locomo.K, mode="hybrid", vector=vectors[q.text], min_score=0)])["R@10"])
            for q in conv.questions])
    return out


def r10(per_conv, which, categories=locomo.OVERALL) -> float:
    return statistics.fmean([r for i in which for c, r in per_conv[i] if c in categories])


def neighbours(p: tuple) -> list:
    agg, w, half = p
    if p == OFF:
        return [p]
    ws, i, j = WEIGHTS[agg], WEIGHTS[agg].index(w), HALVES.index(half)
    near = [p] + [(agg, ws[k], half) for k in (i - 1, i + 1) if 0 <= k < len(ws)]
    return near + [(agg, w, HALVES[k]) for k in (j - 1, j + 1) if 0 <= k < len(HALVES)]


def choose(grid: dict, which) -> tuple:
    def smoothed(p: tuple) -> float:
        return statistics.fmean(r10(grid[q], which) for q in neighbours(p))
    return max(grid, key=lambda p: (round(smoothed(p), 4), p == OFF, -p[1], -p[2]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=os.environ.get("MEMENTO_LOCOMO_DATA"),
                    help="the LoCoMo dev file (or $MEMENTO_LOCOMO_DATA); see docs/benchmarks.md")
    ap.add_argument("--tier", default="full", choices=("tiny", "light", "full"))
    ap.add_argument("--aggregates", default="0,1,2,3,4,5", help="which of " + str(AGGREGATES))
    ap.add_argument("--halves", default="0,8,16,32", help="thread_half values")
    ap.add_argument("--out", type=Path, help="where to write (default bench/results/locomo_thread_<tier>.json)")
    args = ap.parse_args()
    if args.data is None:
        ap.error("--data PATH is required (or set MEMENTO_LOCOMO_DATA)")
    import memento
    convs, sha256 = locomo.load(Path(args.data))
    vectors = vectors_for(args.tier, convs)
    aggregates = [int(a) for a in args.aggregates.split(",")]
    global HALVES
    HALVES = tuple(int(h) for h in args.halves.split(","))
    points = [OFF] + [(agg, w, half) for agg in aggregates for w in WEIGHTS[agg] for half in HALVES]
    grid = {}
    with tempfile.TemporaryDirectory(prefix=f"locomo-thread-{args.tier}-") as tmp:
        stores = build(memento, convs, args.tier, tmp)
        base = stores[0][1].ranking
        for p in points:
            grid[p] = answers(stores, replace(base, thread_agg=p[0] % 3, thread_norm=p[0] // 3, w_thread=p[1], thread_half=p[2]), vectors)
            print(f"{AGGREGATES[p[0]]:>4} w {p[1]:<6} half {p[2]:>2}: R@10 {r10(grid[p], range(len(convs))):.4f}",
                  flush=True)
        for _, mem, _ in stores:
            mem.close()
    every = range(len(convs))
    folds = [(convs[i].conv_id, choose(grid, [j for j in every if j != i])) for i in every]

    def loco(categories) -> float:
        return statistics.fmean([r for i, (_, p) in enumerate(folds) for c, r in grid[p][i] if c in categories])

    per_category = {name: {"off": round(r10(grid[OFF], every, (c,)), 4), "loco": round(loco((c,)), 4)}
                    for c, name in locomo.CATEGORIES.items()}
    gain = loco(locomo.OVERALL) - r10(grid[OFF], every)
    worst = min(v["loco"] - v["off"] for c, v in zip(locomo.CATEGORIES, per_category.values()) if c in locomo.OVERALL)
    chosen = choose(grid, every)
    ships = gain >= MIN_GAIN and worst >= -MAX_CATEGORY_LOSS
    result = {
        "tier": args.tier, "data_sha256": sha256,
        "rule": f"max smoothed R@10 (categories 1-4), LOCO; on when LOCO gains >= {MIN_GAIN} and no category "
                f"loses more than {MAX_CATEGORY_LOSS}",
        "chosen": {"thread_agg": AGGREGATES[chosen[0]], "w_thread": chosen[1], "thread_half": chosen[2]},
        "ships": ships, "dev_R@10": round(r10(grid[chosen], every), 4), "off_R@10": round(r10(grid[OFF], every), 4),
        "loco_R@10": round(loco(locomo.OVERALL), 4), "loco_gain": round(gain, 4), "worst_category_change": round(worst, 4),
        "per_category": per_category,
        "loco_picks": [{"held_out": c, "thread_agg": AGGREGATES[p[0]], "w_thread": p[1], "thread_half": p[2]}
                       for c, p in folds],
        "grid": {f"{AGGREGATES[p[0]]} w_thread={p[1]} thread_half={p[2]}": {
            "R@10": round(r10(v, every), 4), "adversarial_R@10": round(r10(v, every, (5,)), 4),
            "per_conversation": [round(r10(v, [i]), 4) for i in every]} for p, v in grid.items()},
    }
    out = args.out or REPO / "bench" / "results" / f"locomo_thread_{args.tier}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "grid"}, indent=1))
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
