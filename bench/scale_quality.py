"""What issue 23's speed-ups cost in recall quality, on the LoCoMo dev set (bench/locomo.py's protocol:
a store per conversation, one memory per turn, k = 10): R@10 per category for

  - the keyword side led by the question's rare words (memento/rare_words.py: a word held by more
    than RankingSettings.common_word_share of the memories is scored, not searched; 1.0 = every word
    searched), and
  - the vector side with the vectors partitioned into cells (memento/vectors/partitions.py) and only
    the probe_cells nearest cells read. A dev store holds ~600 turns, far below the 20,000 vectors at
    which `memento optimize` partitions a store, so the cells are made on purpose here (~2 x sqrt(N) = 48 cells
    of ~12 vectors: reading 16 of them reads a third of the store, 4 a twelfth).

--distractors N asks the same of big stores (minimal tier: keyword; --tier full: hybrid, every text
embedded once and written with its vector): each conversation's turns once, in their threads, among
the other conversations' turns copied into new threads up to N memories, and only the
conversation's own turns count as found. The copies hold other people and other
topics, so a common word's share of the store is what it would be in a big store of many
conversations, not in one conversation's ~600 turns (where a word of one topic is "common").

Ranking alone is compared: recall(min_score=0), no relevance floor. Each configuration asks every
question of the same stores; the first line of each tier is the exact
one (no word left out, one cell), the one to compare with (within 0.005 per category).

    python bench/scale_quality.py --data locomo-dev.json --tier minimal
    python bench/scale_quality.py --data locomo-dev.json --tier full
    python bench/scale_quality.py --data locomo-dev.json --distractors 100000
    python bench/scale_quality.py --data locomo-dev.json --tier full --distractors 10000 --shares 1.0,0.05
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import memento  # noqa: E402
from bench import locomo  # noqa: E402
from bench.common import merge_rows, write_result  # noqa: E402

# memento/rare_words.py: 1.0 = every word searched (exact), the first line to compare with.
SHARES = (1.0, 0.2, 0.05, 0.02, 0.01)
PROBES = (32, 16, 4)


def configs(tier: str, shares: Sequence[float] = SHARES) -> List[Tuple[str, str, Dict[str, object], bool]]:
    """(label, mode, settings, partitioned)."""
    out: List[Tuple[str, str, Dict[str, object], bool]] = []
    if tier == "minimal":
        return [(f"keyword common_word_share={s}", "keyword", {"common_word_share": s}, False) for s in shares]
    for mode in ("hybrid", "vector"):
        out.append((f"{mode} one cell", mode, {"common_word_share": 1.0} if mode == "hybrid" else {}, False))
        out += [(f"{mode} cells, probe_cells={p}", mode, {"probe_cells": p}, True) for p in PROBES]
    return out + [(f"hybrid common_word_share={s}", "hybrid", {"common_word_share": s}, False) for s in shares[1:]]


def run(convs: Sequence[locomo.Conversation], tier: str, shares: Sequence[float] = SHARES) -> List[dict]:
    todo = configs(tier, shares)
    runs = {label: locomo.Run(label) for label, *_ in todo}
    for conv in convs:
        with tempfile.TemporaryDirectory(prefix="scale-quality-") as tmp, \
                memento.open(Path(tmp) / "m.db", tier=tier) as mem:
            made = mem.remember_many(locomo.memento_items(conv), dedup=False)
            dia = {m.id: t.dia_id for m, t in zip(made, conv.turns)}
            # each question embedded once, handed to every configuration (recall(vector=))
            qvec = dict(zip([q.text for q in conv.questions],
                            mem._vectors.embed([q.text for q in conv.questions]))) if tier != "minimal" else {}
            base = mem.ranking
            for partitioned in (False, True):
                if partitioned:
                    if tier == "minimal":
                        break
                    mem._vectors.partition()  # the bench's one private call: cells on a small store
                for label, mode, setting, wants in todo:
                    if wants != partitioned:
                        continue
                    mem.ranking = replace(base, **setting)
                    locomo.ask_all(runs[label], conv,
                                   lambda q, mode=mode, dia=dia, qvec=qvec: [
                                       dia[h.id] for h in mem.recall(q, k=10, mode=mode, vector=qvec.get(q), min_score=0)])
    rows = []
    for label, run_ in runs.items():
        lines = locomo.aggregate(run_)
        rows.append({"tier": tier, "config": label,
                     "R@10": {c: round(line["R@10"], 4) for c, line in lines.items()},
                     "query_ms_p50": locomo.speed(run_)["query_ms_p50"]})
        print(f"{tier:>8} {label:<36} " + "  ".join(f"{c}:{line['R@10']:.4f}" for c, line in lines.items()))
    return rows


def distractor_items(convs: Sequence[locomo.Conversation], own: locomo.Conversation, n: int) -> List[dict]:
    """The other conversations' turns copied into new threads until n memories with own's turns."""
    others = [item for c in convs if c.conv_id != own.conv_id for item in locomo.memento_items(c)]
    out: List[dict] = []
    while len(out) < n - len(own.turns):
        copy = len(out) // len(others)
        for item in others[:n - len(own.turns) - len(out)]:
            out.append({**item, "thread": f"{item['thread']}/copy_{copy}", "metadata": {}})
    return out


def with_vectors(items: List[dict], vecs: Dict[str, bytes]) -> List[dict]:
    """Each item with its text's vector, written through the caller-vector path (no vecs: as they are)."""
    return [{**item, "vector": vecs[item["text"]]} for item in items] if vecs else items


def run_distractors(convs: Sequence[locomo.Conversation], n: int, shares: Sequence[float] = SHARES,
                    depth: Optional[int] = None, tier: str = "minimal") -> List[dict]:
    deeper = {} if depth is None else {"rare_word_depth": depth}
    mode = "keyword" if tier == "minimal" else "hybrid"
    todo = [(f"{mode} common_word_share={s}" + (f", rare_word_depth={depth}" if depth and s < 1 else "")
             + f", {n:,} memories", {"common_word_share": s, **deeper}) for s in shares]
    runs = {label: locomo.Run(label) for label, _ in todo}
    vecs: Dict[str, bytes] = {}  # vector tiers: each unique text (turns, questions) embedded once
    for conv in convs:
        with tempfile.TemporaryDirectory(prefix="scale-quality-") as tmp, \
                memento.open(Path(tmp) / "m.db", tier=tier) as mem:
            if mode == "hybrid" and not vecs:
                texts = list(dict.fromkeys([t.text for c in convs for t in c.turns]
                                           + [q.text for c in convs for q in c.questions]))
                vecs = dict(zip(texts, mem._vectors.embed(texts)))
            mem.remember_stream(iter(with_vectors(distractor_items(convs, conv, n), vecs)), dedup=False)
            made = mem.remember_many(with_vectors(locomo.memento_items(conv), vecs), dedup=False)
            dia = {m.id: t.dia_id for m, t in zip(made, conv.turns)}
            base = mem.ranking
            for label, setting in todo:
                mem.ranking = replace(base, **setting)
                locomo.ask_all(runs[label], conv, lambda q, dia=dia, vecs=vecs: [  # D0: no session, never gold
                    dia.get(h.id, f"D0:{h.id}")
                    for h in mem.recall(q, k=10, mode=mode, vector=vecs.get(q), min_score=0)])
            print(f"  {conv.conv_id}: {mem.count():,} memories", file=sys.stderr)
    rows = []
    for label, run_ in runs.items():
        lines = locomo.aggregate(run_)
        rows.append({"tier": tier, "config": label,
                     "R@10": {c: round(line["R@10"], 4) for c, line in lines.items()},
                     "query_ms_p50": locomo.speed(run_)["query_ms_p50"]})
        print(f"{tier} {label:<52} " + "  ".join(f"{c}:{line['R@10']:.4f}" for c, line in lines.items())
              + f"  p50 {rows[-1]['query_ms_p50']} ms")
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--tier", default="minimal", choices=("minimal", "full", "light", "tiny"))
    ap.add_argument("--distractors", type=int, metavar="N", help="keyword (minimal) or hybrid (full) in stores "
                    "of N memories (each conversation among the others' turns copied)")
    ap.add_argument("--shares", default=",".join(map(str, SHARES)),
                    help="the common_word_share values to compare (1.0 = every word searched, first)")
    ap.add_argument("--depth", type=int, help="with --distractors: RankingSettings.rare_word_depth")
    args = ap.parse_args(argv)
    convs, sha = locomo.load(args.data)
    shares = [float(s) for s in args.shares.split(",")]
    rows = (run_distractors(convs, args.distractors, shares, args.depth, args.tier) if args.distractors
            else run(convs, args.tier, shares))
    write_result("scale_quality", {"data": args.data.name, "sha256": sha, "k": 10,
                                   "rows": merge_rows("scale_quality", rows, ("tier", "config"))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
