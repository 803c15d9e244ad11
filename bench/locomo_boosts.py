"""Choose recall's speaker and time boosts (memento/ranking.py) on the LoCoMo dev set.

    python bench/locomo_boosts.py --data PATH/locomo-dev.json --tier minimal
    python bench/locomo_boosts.py --data PATH/locomo-dev.json --tier full
    python bench/locomo_boosts.py --data PATH/locomo-dev.json --tier pocket   # the whole-score share
    python bench/locomo_boosts.py --data PATH/locomo-dev.json --tier full --set w_time=0.5 \
        --axis w_thread=0,0.4,0.8,1.2,1.6 --axis w_speaker=0,0.2,0.5,0.8,1.2,1.6 --label gated

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
--off-at-zero makes the grid's all-zero point boosts off instead (a new boost swept on top of the shipped ones).
--axis (repeatable) sweeps any RankingSettings fields, --set fixes others for every point (boosts
off included); boosts off and the tier's shipped settings are measured in the same run, and the result
says whether the choice ships: LOCO R@10 at least MIN_GAIN above the shipped settings', no category
more than MAX_CATEGORY_LOSS below theirs, LOCO adversarial R@10 within the constraint.
Writes bench/results/locomo_boosts_<tier>[_<label>].json.
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
# A change ships when its LOCO R@10 (categories 1-4) gains this much over the shipped settings' and no
# category loses more than MAX_CATEGORY_LOSS (bench/locomo_thread.py's rule).
MIN_GAIN = 0.004
MAX_CATEGORY_LOSS = 0.005
# The fields that make "boosts off" (each 0 there): the tier's pair, and any other given on the command line.
BOOSTS = ("w_speaker", "w_time", "keyword_w_speaker", "keyword_w_time")


def build(memento, convs, tier: str, tmp: str) -> list:
    stores = []
    for conv in convs:
        mem = memento.open(Path(tmp) / f"{conv.conv_id}.db", tier=tier)
        made = mem.remember_many(locomo.memento_items(conv), dedup=False)
        stores.append((conv, mem, {m.id: t.dia_id for m, t in zip(made, conv.turns)}))
    return stores


def r10(stores, settings, vectors=None) -> list:
    """Per conversation: (R@10 of each question in categories 1-4, of each adversarial question,
    (category, R@10) of each question). vectors: the questions' embeddings (vector tiers), computed
    once instead of at every grid point."""
    out = []
    for conv, mem, dia in stores:
        mem.ranking = settings
        scored, adversarial, every = [], [], []
        for q in conv.questions:
            extra = {"vector": vectors[q.text]} if vectors else {}
            r = locomo.score(q.gold, [dia[h.id] for h in mem.recall(q.text, k=locomo.K, min_score=0, **extra)])["R@10"]
            (scored if q.category in locomo.OVERALL else adversarial).append(r)
            every.append((q.category, r))
        out.append((scored, adversarial, every))
    return out


def by_category(per_conv, which, category: int) -> float:
    return statistics.fmean([r for i in which for c, r in per_conv[i][2] if c == category])


def pooled(per_conv, which, part: int) -> float:
    return statistics.fmean([v for i in which for v in per_conv[i][part]])


def choose(grid: dict, which, axes, off=None, smooth_constraint: bool = False) -> tuple:
    """The allowed point with the best smoothed R@10: its own averaged with its grid neighbours one
    step along each axis (bench/locomo_sweep.py's rule), so a plateau wins over a lone peak. off: the
    boosts-off answers the adversarial constraint compares with (default: the grid's all-zero point).
    smooth_constraint: the constraint reads the point's smoothed adversarial R@10 too, so a point next
    to a cliff (a neighbour far below) is not allowed."""
    off = off if off is not None else grid[tuple(0.0 for _ in axes)]

    def smoothed(p: tuple, part: int) -> float:
        near = [p]
        for a, values in enumerate(axes):
            i = values.index(p[a])
            near += [p[:a] + (values[j],) + p[a + 1:] for j in (i - 1, i + 1) if 0 <= j < len(values)]
        return statistics.fmean(pooled(grid[q], which, part) for q in near)

    def adversarial(p: tuple) -> float:
        return smoothed(p, 1) if smooth_constraint else pooled(grid[p], which, 1)
    allowed = [p for p in grid if pooled(off, which, 1) - adversarial(p) <= MAX_ADVERSARIAL_LOSS]
    allowed = allowed or [min(grid)]  # no point passes (a grid without its boosts-off point): the smallest
    return max(allowed, key=lambda p: (round(smoothed(p, 0), 4), *(-v for v in p)))


def measure(memento, convs, args, names, axes, fixed) -> tuple:
    """Every grid point's answers, boosts off's and the shipped settings'."""
    vectors = None
    if args.tier in ("tiny", "light", "full"):
        from bench.locomo_thread import vectors_for
        vectors = vectors_for(args.tier, convs)
    with tempfile.TemporaryDirectory(prefix=f"locomo-boosts-{args.tier}-") as tmp:
        stores = build(memento, convs, args.tier, tmp)
        shipped_settings = stores[0][1].ranking
        base = replace(shipped_settings, **fixed)
        boosts = [n for n in BOOSTS if n in fixed or n in names or (args.tier == "minimal") == n.startswith("keyword_")]
        off_settings = replace(base, **{n: 0.0 for n in boosts})
        grid = {}
        for p in itertools.product(*axes):
            grid[p] = r10(stores, replace(base, **dict(zip(names, p))), vectors)
            print(" ".join(f"{n}={v}" for n, v in zip(names, p)),
                  f"R@10 {pooled(grid[p], range(len(convs)), 0):.4f} adv {pooled(grid[p], range(len(convs)), 1):.4f}",
                  flush=True)
        off = r10(stores, off_settings, vectors)
        shipped = r10(stores, shipped_settings, vectors)
        for _, mem, _ in stores:
            mem.close()
    return grid, off, shipped, boosts, {n: getattr(off_settings, n) for n in boosts}


def parse_axis(text: str) -> tuple:
    name, _, values = text.partition("=")
    return name, tuple(int(v) if v.isdigit() else float(v) for v in values.split(","))


def parse_set(text: str) -> tuple:
    name, _, value = text.partition("=")
    return name, (int(value) if value.lstrip("-").isdigit() else float(value))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=os.environ.get("MEMENTO_LOCOMO_DATA"),
                    help="the LoCoMo dev file (or $MEMENTO_LOCOMO_DATA); see docs/benchmarks.md")
    ap.add_argument("--tier", default="minimal", choices=("minimal", "pocket", "tiny", "light", "full"))
    ap.add_argument("--axis", action="append", type=parse_axis, default=[], metavar="SETTING=V1,V2,...",
                    help="a grid axis over a RankingSettings field (repeat; default: the tier's speaker x time)")
    ap.add_argument("--set", action="append", type=parse_set, default=[], metavar="SETTING=V",
                    help="a RankingSettings field fixed for every point, boosts-off included (repeat)")
    ap.add_argument("--label", help="written to bench/results/locomo_boosts_<tier>_<label>.json")
    ap.add_argument("--smooth-constraint", action="store_true",
                    help="the adversarial constraint reads the smoothed adversarial R@10 (point and grid neighbours)")
    ap.add_argument("--off-at-zero", action="store_true",
                    help="boosts off is the grid's all-zero point (the other fields as shipped): for a new "
                    "boost swept alone on top of the shipped ones, whose adversarial cost it is not")
    ap.add_argument("--answers", type=Path, help="each point's answers: read from this file when it exists "
                    "(same axes and settings), else measured and written there (to re-run the choice only)")
    args = ap.parse_args()
    if args.data is None:
        ap.error("--data PATH is required (or set MEMENTO_LOCOMO_DATA)")
    import memento
    convs, sha256 = locomo.load(Path(args.data))
    if args.axis:
        names = tuple(n for n, _ in args.axis)
        axes = tuple(v for _, v in args.axis)
    else:
        names = ("keyword_w_speaker", "keyword_w_time") if args.tier == "minimal" else ("w_speaker", "w_time")
        axes = AXES[args.tier if args.tier in ("minimal", "pocket") else "hybrid"]
    fixed = dict(args.set)
    key = {"tier": args.tier, "names": names, "axes": axes, "fixed": fixed}
    if args.answers and args.answers.exists() and json.loads(args.answers.read_text())["key"] == json.loads(json.dumps(key)):
        saved = json.loads(args.answers.read_text())
        grid = {tuple(p): v for p, v in saved["grid"]}
        off, shipped, boosts = saved["off"], saved["shipped"], saved["boosts"]
        off_values = saved["off_values"]
    else:
        grid, off, shipped, boosts, off_values = measure(memento, convs, args, names, axes, fixed)
        if args.answers:
            args.answers.write_text(json.dumps({"key": key, "grid": [[list(p), v] for p, v in grid.items()], "off": off,
                                                "shipped": shipped, "boosts": boosts, "off_values": off_values}))
    if args.off_at_zero:
        off, off_values = grid[tuple(0 for _ in axes)], dict.fromkeys(names, 0.0)
    every = range(len(convs))
    sc = args.smooth_constraint
    chosen = choose(grid, every, axes, off, sc)
    folds = [(convs[i].conv_id, choose(grid, [j for j in every if j != i], axes, off, sc)) for i in every]

    def loco(part: int) -> float:
        return statistics.fmean([v for i, (_, p) in enumerate(folds) for v in grid[p][i][part]])

    def loco_category(c: int) -> float:
        return statistics.fmean([r for i, (_, p) in enumerate(folds) for cat, r in grid[p][i][2] if cat == c])

    per_category = {name: {"shipped": round(by_category(shipped, every, c), 4), "off": round(by_category(off, every, c), 4),
                           "dev": round(by_category(grid[chosen], every, c), 4), "loco": round(loco_category(c), 4)}
                    for c, name in locomo.CATEGORIES.items()}
    gain = loco(0) - pooled(shipped, every, 0)
    worst = min(v["loco"] - v["shipped"] for c, v in zip(locomo.CATEGORIES, per_category.values()) if c in locomo.OVERALL)
    result = {
        "tier": args.tier, "data_sha256": sha256, "rule": f"max smoothed R@10 (categories 1-4) with adversarial R@10 at most "
        f"{MAX_ADVERSARIAL_LOSS} below boosts off", "fixed": fixed, "axes": dict(zip(names, axes)),
        "chosen": dict(zip(names, chosen)),
        "dev_R@10": round(pooled(grid[chosen], every, 0), 4), "dev_adversarial_R@10": round(pooled(grid[chosen], every, 1), 4),
        "constraint": "smoothed adversarial R@10" if sc else "the point's adversarial R@10",
        "off": off_values,
        "off_R@10": round(pooled(off, every, 0), 4), "off_adversarial_R@10": round(pooled(off, every, 1), 4),
        "shipped_R@10": round(pooled(shipped, every, 0), 4), "shipped_adversarial_R@10": round(pooled(shipped, every, 1), 4),
        "loco_R@10": round(loco(0), 4), "loco_adversarial_R@10": round(loco(1), 4),
        "loco_gain_over_shipped_dev": round(gain, 4), "worst_category_change_loco_vs_shipped": round(worst, 4),
        "ships": gain >= MIN_GAIN and worst >= -MAX_CATEGORY_LOSS
                 and pooled(off, every, 1) - loco(1) <= MAX_ADVERSARIAL_LOSS,
        "per_category": per_category,
        "loco_picks": [{"held_out": c, **dict(zip(names, p))} for c, p in folds],
        "grid": {" ".join(f"{n}={v}" for n, v in zip(names, p)): {
            "R@10": round(pooled(v, every, 0), 4), "adversarial_R@10": round(pooled(v, every, 1), 4),
            "per_category": {name: round(by_category(v, every, c), 4) for c, name in locomo.CATEGORIES.items()},
            "per_conversation": [[round(pooled(v, [i], 0), 4), round(pooled(v, [i], 1), 4)] for i in every]}
            for p, v in grid.items()},
    }
    suffix = f"_{args.label}" if args.label else ""
    out = REPO / "bench" / "results" / f"locomo_boosts_{args.tier}{suffix}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "grid"}, indent=1))
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
