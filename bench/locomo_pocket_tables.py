"""Variants of the pocket tier's static token table, measured on the LoCoMo dev set.

    python bench/locomo_pocket_tables.py --data PATH/locomo-dev.json [--variant id:1e-4:none ...]

Needs a vector-tier venv (tools/pocket_table.py runs the full tier's model once; the token outputs
are kept in $MEMENTO_BENCH_DIR). Each variant is a table built from the same PCA (tools/pocket_table.py's
distil steps 1-2), then weighted and shifted differently, then quantized as the shipped one is:
  ranks  "id": a token's Zipf rank is its vocabulary id (the shipped recipe); "words": counted from
         the vocabulary's first word ("the", id 1996), the special tokens and single characters
         before it (code-point order, not frequency order) counted as the most frequent;
         "wordspunct": the same, but only punctuation and symbols among the single characters
  sif    the weighting's constant
  centre "none"; "zipf": every row minus the expected row of a text whose tokens follow the Zipf
         law (so a text's vector is centred on the expected text vector); "table": minus the
         mean row (the vocabulary's mean)
For each variant, one store per conversation in the pocket tier with that table, and gamma x w_vector
swept as bench/locomo_sweep.py does (smoothed arg-max, leave-one-conversation-out), the other
weights the tier's defaults. Writes bench/results/locomo_pocket_tables.json.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import unicodedata
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import locomo, locomo_sweep  # noqa: E402

VARIANTS = ("id:1e-4:none", "words:1e-4:none", "words:1e-4:zipf", "wordspunct:1e-4:none",
            "words:1e-5:none", "words:1e-3:none")
GAMMAS = (0.2, 0.3, 0.4)
W_VECTORS = (1.0, 1.4, 2.0, 2.8, 4.0)


def token_outputs():
    import numpy as np

    import tools.pocket_table as T
    from memento.vectors import model_files, registry
    folder = model_files.model_dir(registry.model_for_tier("full"))
    pieces, max_chars, unk = T.vocabulary(folder)
    cache = locomo_sweep.cache_dir() / "pocket-token-outputs.npy"
    if cache.exists():
        raw = np.load(cache)
    else:
        raw = T.token_vectors(folder, len(pieces))
        np.save(cache, raw)
    return raw, pieces, max_chars, unk


def build_variant(spec: str, raw, pieces, max_chars, unk, out: Path) -> str:
    import numpy as np

    import tools.pocket_table as T
    from memento.pocket import table as shipped
    kind, sif_text, centre = spec.split(":")
    sif, dim = float(sif_text), shipped.DIM
    reduced = T.distil(raw, dim, sif)
    ids = np.arange(len(pieces))
    inv_rank = 1.0 / np.arange(2, len(pieces) + 2, dtype=np.float64)
    shipped_weights = sif / (sif + inv_rank / inv_rank.sum())
    reduced = reduced / shipped_weights[:, None]            # undo distil's weighting: the PCA rows
    if kind == "id":
        ranks = ids + 1.0
    else:
        first = pieces.index("the")
        ranks = np.where(ids >= first, ids - first + 1.0, 1.0)
        if kind == "wordspunct":
            for i in range(first):
                if len(pieces[i]) == 1 and unicodedata.category(pieces[i])[0] not in "PS":
                    ranks[i] = i + 1.0
    inv = 1.0 / (ranks + 1.0)
    p = inv / inv.sum()
    rows = reduced * (sif / (sif + p))[:, None]
    if centre == "zipf":
        rows = rows - (p[:, None] * rows).sum(axis=0)
    elif centre == "table":
        rows = rows - rows.mean(axis=0)
    scales, q = T.quantize(rows)
    triples = [(i, pieces[i], float(scales[i]), q[i].tobytes()) for i in range(len(pieces))]
    meta = {"format": str(shipped.FORMAT), "dim": str(dim), "sif": repr(sif), "max_input_chars_per_word": str(max_chars),
            "unk_token": unk, "model": "variant", "recipe": spec}
    meta["content_sha256"] = shipped.content_hash(dim, triples)
    shipped.write(out, meta, triples)
    return meta["content_sha256"]


def evaluate(memento, convs, table_path: Path, tmp: Path):
    """{(gamma, w_vector): [[R@10 of each question of categories 1-4] per conversation]}, and adversarial."""
    import memento.pocket.table as pt
    saved, pt.PATH = pt.PATH, table_path
    try:
        stores = []
        for conv in convs:
            mem = memento.open(tmp / f"{conv.conv_id}.db", tier="pocket")
            made = mem.remember_many(locomo.memento_items(conv), dedup=False)
            stores.append((conv, mem, {m.id: t.dia_id for m, t in zip(made, conv.turns)}))
        base = stores[0][1].ranking
        grid, adversarial = {}, {}
        for point in itertools.product(GAMMAS, W_VECTORS):
            settings = replace(base, gamma=point[0], w_vector=point[1])
            per_conv, adv = [], []
            for conv, mem, dia in stores:
                mem.ranking = settings
                scores = []
                for q in conv.questions:
                    hits = mem.recall(q.text, k=locomo.K, min_score=0)
                    r = locomo.score(q.gold, [dia[h.id] for h in hits])["R@10"]
                    (scores if q.category in locomo.OVERALL else adv).append(r)
                per_conv.append(scores)
            grid[point], adversarial[point] = per_conv, statistics.fmean(adv)
        for _, mem, _ in stores:
            mem.close()
        return grid, adversarial
    finally:
        pt.PATH = saved


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=os.environ.get("MEMENTO_LOCOMO_DATA"))
    ap.add_argument("--variant", action="append", help=f"ranks:sif:centre (default: {', '.join(VARIANTS)})")
    args = ap.parse_args()
    if args.data is None:
        ap.error("--data PATH is required (or set MEMENTO_LOCOMO_DATA)")
    import memento
    convs, sha256 = locomo.load(Path(args.data))
    raw, pieces, max_chars, unk = token_outputs()
    axes = (GAMMAS, W_VECTORS)
    results = []
    for spec in args.variant or VARIANTS:
        with tempfile.TemporaryDirectory(prefix="pocket-tables-") as tmp:
            content = build_variant(spec, raw, pieces, max_chars, unk, Path(tmp) / "table.sqlite")
            grid, adversarial = evaluate(memento, convs, Path(tmp) / "table.sqlite", Path(tmp))
        sums, counts = locomo_sweep.totals(grid)
        chosen = locomo_sweep.loco(sums, counts, axes)
        results.append({"variant": spec, "content_sha256": content,
                        "chosen": {"gamma": chosen["chosen"][0], "w_vector": chosen["chosen"][1]},
                        "dev_R@10": round(chosen["dev_R@10"], 4), "loco_R@10": round(chosen["loco_R@10"], 4),
                        "adversarial_R@10": round(adversarial[chosen["chosen"]], 4),
                        "grid": {f"gamma={g} w_vector={w}": {"R@10": round(sum(sums[(g, w)]) / sum(counts), 4),
                                                             "adversarial_R@10": round(adversarial[(g, w)], 4)}
                                 for g, w in grid}})
        print(json.dumps({k: v for k, v in results[-1].items() if k != "grid"}), flush=True)
    out = REPO / "bench" / "results" / "locomo_pocket_tables.json"
    out.write_text(json.dumps({"data_sha256": sha256, "axes": {"gamma": GAMMAS, "w_vector": W_VECTORS},
                               "variants": results}, indent=1) + "\n")
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
