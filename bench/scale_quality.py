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

--shared-distractors (with --distractors N; hybrid, full tier unless --tier names another vector
tier) makes that affordable at 1M (a store of N memories per conversation: ~26 min each at 1M;
here two base stores of 11-15 min each, optimize included, then ~1 min a conversation).
The conversations are split in two halves in file order (the first the bigger when their number
is odd: 3 + 2 in the dev set). For each half, ONE base store of N memories holds the OTHER half's
turns copied into new threads (copy_0, copy_1, ...), with their vectors (each unique text embedded
once, written through the caller-vector path), and is optimized as `memento optimize` does (at 1M:
its vectors partitioned into cells, as a real store of that size would be). Each conversation of
the half is then asked in a copy of that file (closed and checkpointed first): its turns
remembered into the copy (N + its turns memories), every question asked in each configuration,
the copy deleted. Gold is only the conversation's own turns. Configurations (SHARED): the exact
keyword side (every word searched, the pool walked exactly), the shipped RankingSettings(), and
those with the pool walked exactly. The base stores stay, with their build facts beside them, under
$MEMENTO_BENCH_DIR (default /tmp/memento-bench)/scale-quality/ and are reused by a later run;
delete them to build again.

Ranking alone is compared: recall(min_score=0), no relevance floor. Each configuration asks every
question of the same stores; the first line of each tier is the exact
one (no word left out, one cell), the one to compare with (within 0.005 per category).

    python bench/scale_quality.py --data locomo-dev.json --tier minimal
    python bench/scale_quality.py --data locomo-dev.json --tier full
    python bench/scale_quality.py --data locomo-dev.json --distractors 100000
    python bench/scale_quality.py --data locomo-dev.json --tier full --distractors 10000 --shares 1.0,0.05
    python bench/scale_quality.py --data locomo-dev.json --tier full --distractors 1000000 --shared-distractors \
        --answers /tmp/answers-1m.jsonl
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import apsw  # noqa: E402

import memento  # noqa: E402
from bench import locomo  # noqa: E402
from bench.common import STORES, merge_rows, write_result  # noqa: E402

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
    return result_rows(runs.values(), tier)


def copied(convs: Sequence[locomo.Conversation], n: int) -> Iterator[dict]:
    """n memories: the turns of convs copied into new threads (copy_0, copy_1, ...), metadata dropped."""
    items = [item for c in convs for item in locomo.memento_items(c)]
    for i in range(n):
        item = items[i % len(items)]
        yield {**item, "thread": f"{item['thread']}/copy_{i // len(items)}", "metadata": {}}


def distractor_items(convs: Sequence[locomo.Conversation], own: locomo.Conversation, n: int) -> Iterator[dict]:
    """The other conversations' turns copied into new threads until n memories with own's turns."""
    return copied([c for c in convs if c.conv_id != own.conv_id], n - len(own.turns))


def with_vectors(items: Iterable[dict], vecs: Dict[str, bytes]) -> Iterator[dict]:
    """Each item with its text's vector, written through the caller-vector path (no vecs: as they are)."""
    return ({**item, "vector": vecs[item["text"]]} for item in items) if vecs else iter(items)


def run_distractors(convs: Sequence[locomo.Conversation], n: int, shares: Sequence[float] = SHARES,
                    depth: Optional[int] = None, tier: str = "minimal") -> List[dict]:
    deeper = {} if depth is None else {"rare_word_depth": depth}
    mode = "keyword" if tier == "minimal" else "hybrid"
    todo = [(f"{mode} common_word_share={s}" + (f", rare_word_depth={depth}" if depth and s < 1 else "")
             + f", {n:,} memories", {"common_word_share": s, **deeper}) for s in shares]
    runs = {label: locomo.Run(label) for label, _ in todo}
    vecs = embedded(convs, tier) if mode == "hybrid" else {}  # each unique text embedded once
    for conv in convs:
        with tempfile.TemporaryDirectory(prefix="scale-quality-") as tmp, \
                memento.open(Path(tmp) / "m.db", tier=tier) as mem:
            mem.remember_stream(with_vectors(distractor_items(convs, conv, n), vecs), dedup=False)
            made = mem.remember_many(with_vectors(locomo.memento_items(conv), vecs), dedup=False)
            dia = {m.id: t.dia_id for m, t in zip(made, conv.turns)}
            base = mem.ranking
            for label, setting in todo:
                mem.ranking = replace(base, **setting)
                locomo.ask_all(runs[label], conv, lambda q, dia=dia, vecs=vecs: [  # D0: no session, never gold
                    dia.get(h.id, f"D0:{h.id}")
                    for h in mem.recall(q, k=10, mode=mode, vector=vecs.get(q), min_score=0)])
            print(f"  {conv.conv_id}: {mem.count():,} memories", file=sys.stderr)
    return result_rows(runs.values(), tier)


# --shared-distractors: the exact keyword side, the shipped settings, the shipped ones with the pool walked exactly.
EVERY = 2 ** 31 - 1  # pool_walk_holders (its most): the pool scored by a walk of every match at any size
SHARED = (("hybrid common_word_share=1.0, pool_walk_holders=2**31-1 (exact keyword side)",
           {"common_word_share": 1.0, "pool_walk_holders": EVERY}),
          ("hybrid shipped defaults", {}),
          ("hybrid shipped defaults, pool_walk_holders=2**31-1 (pool walked exactly)", {"pool_walk_holders": EVERY}))


def halves(convs: Sequence[locomo.Conversation]) -> Tuple[List[locomo.Conversation], List[locomo.Conversation]]:
    """The conversations in file order, split in two (the first one the bigger when their number is odd)."""
    cut = (len(convs) + 1) // 2
    return list(convs[:cut]), list(convs[cut:])


def embedded(convs: Sequence[locomo.Conversation], tier: str) -> Dict[str, bytes]:
    """Each unique text of the dev set (turns, questions) embedded once by the tier's model, cached
    beside the base stores."""
    from memento.vectors.embedder import Embedder
    from memento.vectors.registry import model_for_tier
    spec = model_for_tier(tier)
    texts = sorted({t.text for c in convs for t in c.turns} | {q.text for c in convs for q in c.questions})
    cache = STORES / "scale-quality" / \
        f"vectors-{spec.id}-{hashlib.sha256(chr(10).join(texts).encode()).hexdigest()[:16]}.json"
    if cache.exists():
        return {t: bytes.fromhex(v) for t, v in json.loads(cache.read_text()).items()}
    vecs = dict(zip(texts, Embedder(spec).embed(texts)))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({t: v.hex() for t, v in vecs.items()}))
    return vecs


def base_store(path: Path, others: Sequence[locomo.Conversation], n: int, vecs: Dict[str, bytes],
               tier: str) -> Dict[str, object]:
    """The store of n memories copied from `others`' turns, then optimized (`memento optimize`:
    the vectors partitioned into cells once the store is big enough); cached with its build facts
    in <store>.json. Closed when returned, its WAL checkpointed into the main file."""
    facts = path.with_suffix(".json")
    if facts.exists() and path.exists():
        return json.loads(facts.read_text())
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with memento.open(path, tier=tier) as mem:
        stored = mem.remember_stream(with_vectors(copied(others, n), vecs), batch_size=5_000, dedup=False)
        written = time.perf_counter()
        cells = mem.optimize()
    checkpointed(path)
    out = {"n": stored, "from": [c.conv_id for c in others], "build_s": round(time.perf_counter() - started, 1),
           "optimize_s": round(time.perf_counter() - written, 1), "cells": cells,
           "file_bytes": path.stat().st_size}
    facts.write_text(json.dumps(out))
    return out


def checkpointed(path: Path) -> None:
    """No WAL left beside a closed store (the last connection to close checkpoints; here, to be sure)."""
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        conn = apsw.Connection(str(path))
        conn.pragma("wal_checkpoint", "TRUNCATE")
        conn.close()
    assert not wal.exists() or wal.stat().st_size == 0, wal


def run_shared(convs: Sequence[locomo.Conversation], n: int, tier: str = "full",
               answers: Optional[Path] = None) -> List[dict]:
    """--shared-distractors: each half of the conversations asked among the other half's turns
    copied up to n memories, one base store a half (copied for each conversation, which is then
    remembered into the copy)."""
    suffix = f", {n:,} memories, shared distractors (other half)"
    runs = {label: locomo.Run(label + suffix) for label, _ in SHARED}
    vecs = embedded(convs, tier)
    first, second = halves(convs)
    for own, others in ((first, second), (second, first)):
        path = STORES / "scale-quality" / f"{tier}-{n}-shared-{'+'.join(c.conv_id for c in others)}.db"
        facts = base_store(path, others, n, vecs, tier)
        print(f"  base {path}: {facts}", file=sys.stderr)
        for conv in own:
            scratch = path.with_name(f"scratch-{conv.conv_id}.db")
            shutil.copyfile(path, scratch)
            try:
                with memento.open(scratch, tier=tier) as mem:
                    made = mem.remember_many(with_vectors(locomo.memento_items(conv), vecs), dedup=False)
                    dia = {m.id: t.dia_id for m, t in zip(made, conv.turns)}
                    base = mem.ranking
                    for label, setting in SHARED:
                        mem.ranking = replace(base, **setting)
                        locomo.ask_all(runs[label], conv, lambda q, dia=dia: [  # D0: no session, never gold
                            dia.get(h.id, f"D0:{h.id}")
                            for h in mem.recall(q, k=10, mode="hybrid", vector=vecs[q], min_score=0)])
                    print(f"  {conv.conv_id}: {mem.count():,} memories", file=sys.stderr)
            finally:
                for end in ("", "-wal", "-shm"):
                    Path(f"{scratch}{end}").unlink(missing_ok=True)
        print(f"  after {', '.join(c.conv_id for c in own)}:", file=sys.stderr)
        rows = result_rows(runs.values(), tier)
        if answers:
            locomo.dump_answers(answers, list(runs.values()))
    return rows


def result_rows(runs: Iterable[locomo.Run], tier: str) -> List[dict]:
    """Each configuration's R@10 per category and query p50 (scale_quality.json's rows), printed."""
    rows = []
    for run_ in runs:
        lines = locomo.aggregate(run_)
        rows.append({"tier": tier, "config": run_.label,
                     "R@10": {c: round(line["R@10"], 4) for c, line in lines.items()},
                     "query_ms_p50": locomo.speed(run_)["query_ms_p50"]})
        print(f"{tier} {run_.label:<52} " + "  ".join(f"{c}:{line['R@10']:.4f}" for c, line in lines.items())
              + f"  p50 {rows[-1]['query_ms_p50']} ms", flush=True)
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--tier", default="minimal", choices=("minimal", "full", "light", "tiny"))
    ap.add_argument("--distractors", type=int, metavar="N", help="keyword (minimal) or hybrid (full) in stores "
                    "of N memories (each conversation among the others' turns copied)")
    ap.add_argument("--shares", default=",".join(map(str, SHARES)),
                    help="the common_word_share values to compare (1.0 = every word searched, first)")
    ap.add_argument("--shared-distractors", action="store_true",
                    help="with --distractors (full tier): one base store a half of the conversations, "
                    "from the other half's turns, optimized, copied for each conversation")
    ap.add_argument("--answers", type=Path, help="with --shared-distractors: every question's returned turns, "
                    "per configuration, written here (after each half)")
    ap.add_argument("--depth", type=int, help="with --distractors: RankingSettings.rare_word_depth")
    args = ap.parse_args(argv)
    convs, sha = locomo.load(args.data)
    shares = [float(s) for s in args.shares.split(",")]
    if args.shared_distractors and not args.distractors:
        ap.error("--shared-distractors needs --distractors N")
    rows = (run_shared(convs, args.distractors, "full" if args.tier == "minimal" else args.tier,
                       args.answers)
            if args.shared_distractors else
            run_distractors(convs, args.distractors, shares, args.depth, args.tier) if args.distractors
            else run(convs, args.tier, shares))
    write_result("scale_quality", {"data": args.data.name, "sha256": sha, "k": 10,
                                   "rows": merge_rows("scale_quality", rows, ("tier", "config"))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
