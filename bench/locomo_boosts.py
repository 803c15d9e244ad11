"""Choose recall's speaker and time boosts (memento/ranking.py) on the LoCoMo dev set.

    python bench/locomo_boosts.py --data PATH/locomo-dev.json --tier minimal
    python bench/locomo_boosts.py --data PATH/locomo-dev.json --tier full
    python bench/locomo_boosts.py --data PATH/locomo-dev.json --tier pocket   # the whole-score share

The data (--data, or $MEMENTO_LOCOMO_DATA) and where it comes from: docs/benchmarks.md. One store
per conversation (turns with their speaker, sessions as threads, as bench/locomo.py stores them);
each grid point swaps the boosts in the store's RankingSettings and asks every question again.

The rule: the highest smoothed R@10 on categories 1-4 (a point averaged with its grid neighbours,
as bench/locomo_sweep.py does) among the points whose adversarial R@10 (category 5,
questions that name the wrong person or ask about what never happened) is at most 0.01 below the
boosts-off point. A boost that names a speaker can bury the right memory under the named person's
weak matches when the question names the wrong person; the constraint keeps that cost small, on a
category the protocol does not pool. Ties go to the smaller weights. Leave-one-conversation-out:
the point is chosen on four conversations (constraint included) and scored on the fifth.
Writes bench/results/locomo_boosts_<tier>.json.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import locomo  # noqa: E402

AXES = {  # (speaker, time): the keyword statement's scores run 0..1 with few ties, hybrid's are denser
    "minimal": ((0.0, 0.5, 1.0, 2.0, 3.0, 4.0), (0.0, 0.25, 0.5, 1.0)),
    "hybrid": ((0.0, 0.05, 0.1, 0.2, 0.3, 0.5), (0.0, 0.25, 0.5, 1.0)),
    # pocket: its keyword part carries the keyword statement's boosts (keyword_w_*, chosen with
    # --tier minimal); this grid is the boost factor on the whole score (w_*), a share as in hybrid
    "pocket": ((0.0, 0.05, 0.1, 0.2, 0.3, 0.5), (0.0, 0.25, 0.5, 1.0)),
}
MAX_ADVERSARIAL_LOSS = 0.01


def build(memento, convs, tier: str, tmp: str) -> list:
    stores = []
    for conv in convs:
        mem = memento.open(Path(tmp) / f"{conv.conv_id}.db", tier=tier)
        made = mem.remember_many(locomo.memento_items(conv), dedup=False)
        stores.append((conv, mem, {m.id: t.dia_id for m, t in zip(made, conv.turns)}))
    return stores


def r10(stores, settings) -> list:
    """Per conversation: (R@10 of each question in categories 1-4, of each adversarial question)."""
    out = []
    for conv, mem, dia in stores:
        mem.ranking = settings
        scored, adversarial = [], []
        for q in conv.questions:
            r = locomo.score(q.gold, [dia[h.id] for h in mem.recall(q.text, k=locomo.K, min_score=0)])["R@10"]
            (scored if q.category in locomo.OVERALL else adversarial).append(r)
        out.append((scored, adversarial))
    return out


def pooled(per_conv, which, part: int) -> float:
    return statistics.fmean([v for i in which for v in per_conv[i][part]])


def choose(grid: dict, which, axes) -> tuple:
    """The allowed point with the best smoothed R@10: its own averaged with its grid neighbours one
    step along each axis (bench/locomo_sweep.py's rule), so a plateau wins over a lone peak."""
    off = grid[(0.0, 0.0)]
    allowed = [p for p in grid if pooled(off, which, 1) - pooled(grid[p], which, 1) <= MAX_ADVERSARIAL_LOSS]

    def smoothed(p: tuple) -> float:
        near = [p]
        for a, values in enumerate(axes):
            i = values.index(p[a])
            near += [p[:a] + (values[j],) + p[a + 1:] for j in (i - 1, i + 1) if 0 <= j < len(values)]
        return statistics.fmean(pooled(grid[q], which, 0) for q in near)
    return max(allowed, key=lambda p: (round(smoothed(p), 4), -p[0], -p[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=os.environ.get("MEMENTO_LOCOMO_DATA"),
                    help="the LoCoMo dev file (or $MEMENTO_LOCOMO_DATA); see docs/benchmarks.md")
    ap.add_argument("--tier", default="minimal", choices=("minimal", "pocket", "tiny", "light", "full"))
    args = ap.parse_args()
    if args.data is None:
        ap.error("--data PATH is required (or set MEMENTO_LOCOMO_DATA)")
    import memento
    convs, sha256 = locomo.load(Path(args.data))
    names = ("keyword_w_speaker", "keyword_w_time") if args.tier == "minimal" else ("w_speaker", "w_time")
    speaker_axis, time_axis = AXES[args.tier if args.tier in ("minimal", "pocket") else "hybrid"]
    with tempfile.TemporaryDirectory(prefix=f"locomo-boosts-{args.tier}-") as tmp:
        stores = build(memento, convs, args.tier, tmp)
        base = stores[0][1].ranking
        grid = {p: r10(stores, replace(base, **dict(zip(names, p)))) for p in itertools.product(speaker_axis, time_axis)}
        for _, mem, _ in stores:
            mem.close()
    every = range(len(convs))
    axes = (speaker_axis, time_axis)
    chosen = choose(grid, every, axes)
    folds = [(convs[i].conv_id, choose(grid, [j for j in every if j != i], axes)) for i in every]
    result = {
        "tier": args.tier, "data_sha256": sha256, "rule": f"max smoothed R@10 (categories 1-4) with adversarial R@10 at most "
        f"{MAX_ADVERSARIAL_LOSS} below boosts off", "chosen": dict(zip(names, chosen)),
        "dev_R@10": round(pooled(grid[chosen], every, 0), 4), "dev_adversarial_R@10": round(pooled(grid[chosen], every, 1), 4),
        "off_R@10": round(pooled(grid[(0.0, 0.0)], every, 0), 4),
        "off_adversarial_R@10": round(pooled(grid[(0.0, 0.0)], every, 1), 4),
        "loco_R@10": round(statistics.fmean([v for i, (_, p) in enumerate(folds) for v in grid[p][i][0]]), 4),
        "loco_adversarial_R@10": round(statistics.fmean([v for i, (_, p) in enumerate(folds) for v in grid[p][i][1]]), 4),
        "loco_picks": [{"held_out": c, **dict(zip(names, p))} for c, p in folds],
        "grid": {f"{names[0]}={p[0]} {names[1]}={p[1]}": {"R@10": round(pooled(v, every, 0), 4),
                                                          "adversarial_R@10": round(pooled(v, every, 1), 4)}
                 for p, v in grid.items()},
    }
    out = REPO / "bench" / "results" / f"locomo_boosts_{args.tier}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "grid"}, indent=1))
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
