"""Choose the hybrid statement's thread channel (memento/ranking.py: w_thread) on the LoCoMo dev set.

    python bench/locomo_thread.py --data PATH/locomo-dev.json --tier full
    python bench/locomo_thread.py --data PATH/locomo-dev.json --tier light

The data (--data, or $MEMENTO_LOCOMO_DATA) and where it comes from: docs/benchmarks.md. One store
per conversation (turns with their speaker, sessions as threads, as bench/locomo.py stores them);
each grid point swaps w_thread into the store's RankingSettings and asks every question again
(hybrid, k = 10, min_score=0, the query vectors computed once).

The channel (sql/queries/recall_hybrid.sql): each memory's score gains w_thread x the best positive
fused score among the ranked memories of its thread.

The rule: the weight with the highest smoothed R@10 on categories 1-4 (a point averaged with its
neighbours on the grid, as bench/locomo_sweep.py does), chosen on four conversations and scored on
the fifth (leave-one-conversation-out). The channel ships on when that LOCO R@10 gains at least
MIN_GAIN over the channel off and no category loses more than MAX_CATEGORY_LOSS (LOCO, per
category); otherwise w_thread stays 0. Writes bench/results/locomo_thread_<tier>.json.
(The forms that lost to this one, a sum or mean over the thread's ranked members, normalised or
not, with the best thread's window joining the candidates: docs/ranking-weights.md and
bench/results/locomo_thread_full_variants.json.)
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

WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
MIN_GAIN = 0.004
MAX_CATEGORY_LOSS = 0.005
OFF = 0.0


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


def choose(grid: dict, which) -> float:
    def smoothed(w: float) -> float:
        i = WEIGHTS.index(w)
        return statistics.fmean(r10(grid[WEIGHTS[j]], which) for j in (i - 1, i, i + 1) if 0 <= j < len(WEIGHTS))
    return max(grid, key=lambda w: (round(smoothed(w), 4), -w))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=os.environ.get("MEMENTO_LOCOMO_DATA"),
                    help="the LoCoMo dev file (or $MEMENTO_LOCOMO_DATA); see docs/benchmarks.md")
    ap.add_argument("--tier", default="full", choices=("tiny", "light", "full"))
    ap.add_argument("--out", type=Path, help="where to write (default bench/results/locomo_thread_<tier>.json)")
    args = ap.parse_args()
    if args.data is None:
        ap.error("--data PATH is required (or set MEMENTO_LOCOMO_DATA)")
    import memento
    convs, sha256 = locomo.load(Path(args.data))
    vectors = vectors_for(args.tier, convs)
    grid = {}
    with tempfile.TemporaryDirectory(prefix=f"locomo-thread-{args.tier}-") as tmp:
        stores = build(memento, convs, args.tier, tmp)
        base = stores[0][1].ranking
        for w in WEIGHTS:
            grid[w] = answers(stores, replace(base, w_thread=w), vectors)
            print(f"w_thread {w:<5}: R@10 {r10(grid[w], range(len(convs))):.4f}", flush=True)
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
        "chosen": {"w_thread": chosen},
        "ships": ships, "dev_R@10": round(r10(grid[chosen], every), 4), "off_R@10": round(r10(grid[OFF], every), 4),
        "loco_R@10": round(loco(locomo.OVERALL), 4), "loco_gain": round(gain, 4), "worst_category_change": round(worst, 4),
        "per_category": per_category,
        "loco_picks": [{"held_out": c, "w_thread": p} for c, p in folds],
        "grid": {f"w_thread={p}": {
            "R@10": round(r10(v, every), 4), "adversarial_R@10": round(r10(v, every, (5,)), 4),
            "per_category": {name: round(r10(v, every, (c,)), 4) for c, name in locomo.CATEGORIES.items()},
            "per_conversation": [round(r10(v, [i]), 4) for i in every]} for p, v in grid.items()},
    }
    out = args.out or REPO / "bench" / "results" / f"locomo_thread_{args.tier}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "grid"}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
