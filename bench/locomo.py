"""Recall quality on the LoCoMo dev set (../shared/eval), following its README's protocol exactly:
a fresh store per conversation, one memory per dialog turn, the question verbatim, k = 10.
Reports R@10, R@5, MRR and S@5 per category (1-4 pooled as "overall"; 5 on its own line), for the
fts_porter baseline (stdlib sqlite3, measured in the same run) and for memento's tiers and modes.

    python bench/locomo.py --all                  # every installed tier and mode
    python bench/locomo.py --tier full --mode hybrid --dump /tmp/full.jsonl

The data set is CC BY-NC 4.0 (Maharana et al., ACL 2024): it is read from ../shared, never copied.
"""
from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import memento  # noqa: E402
from bench.common import REPO, write_result  # noqa: E402
from memento import fts_query, tiers  # noqa: E402

DATA = REPO.parent / "shared" / "eval" / "locomo-dev.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
Search = Callable[[str], List[str]]  # question -> ranked dia_ids


def sessions(conv: dict) -> List[str]:
    keys = [k for k in conv if re.fullmatch(r"session_\d+", k)]
    return sorted(keys, key=lambda k: int(k.split("_")[1]))


def turns(sample: dict) -> List[dict]:
    """Each dialog turn as the protocol's memory: id, text, metadata, session time."""
    conv, out = sample["conversation"], []
    for key in sessions(conv):
        when = conv[f"{key}_date_time"]
        iso = datetime.strptime(when, "%I:%M %p on %d %B, %Y").isoformat()
        for turn in conv[key]:
            text = f"{turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [shares photo: {turn['blip_caption']}]"
            out.append({"dia_id": turn["dia_id"], "text": text, "iso": iso, "session": int(key.split("_")[1]),
                        "speaker": turn["speaker"], "when": when})
    return out


def gold(qa: dict, valid: set) -> List[str]:
    found = []
    for evidence in qa.get("evidence", []):
        for s, t in re.findall(r"D:?(\d+):(\d+)", evidence):
            dia = f"D{int(s)}:{int(t)}"
            if dia in valid and dia not in found:
                found.append(dia)
    return found


def session_of(dia_id: str) -> int:
    return int(dia_id[1:].split(":")[0])


def score(gold_ids: List[str], ranked: List[str]) -> Dict[str, float]:
    g, r = set(gold_ids), list(dict.fromkeys(ranked))[:10]
    first = next((i for i, d in enumerate(r) if d in g), None)
    sessions_g = {session_of(d) for d in g}
    return {"R@10": len(g & set(r)) / len(g), "R@5": len(g & set(r[:5])) / len(g),
            "MRR": 0.0 if first is None else 1 / (first + 1),
            "S@5": float(any(session_of(d) in sessions_g for d in r[:5]))}


# -- systems under test ----------------------------------------------------------------------------

def fts_porter(sample: dict, tmp: Path) -> Search:
    """The README's baseline: its own FTS5 table, words OR-joined minus NLTK stopwords."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE mem USING fts5(id UNINDEXED, text, "
               "tokenize='porter unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO mem VALUES (?, ?)", [(t["dia_id"], t["text"]) for t in turns(sample)])

    def search(question: str) -> List[str]:
        words = list(dict.fromkeys(re.findall(r"\w+", question.lower())))
        kept = [w for w in words if w not in fts_query.STOPWORDS] or words
        expr = " OR ".join(f'"{w}"' for w in kept)
        return [r[0] for r in db.execute("SELECT id FROM mem WHERE mem MATCH ? ORDER BY bm25(mem) LIMIT 10",
                                         (expr,))]
    return search


def memento_system(tier: str, mode: str, timings: Dict[str, List[float]]):
    def build(sample: dict, tmp: Path) -> Search:
        items = turns(sample)
        started = time.perf_counter()
        mem = memento.open(tmp / f"{sample['sample_id']}.db", tier=tier)
        made = mem.remember_many([{"text": t["text"], "created_at": t["iso"],
                                   "metadata": {"conv": sample["sample_id"], "session": t["session"],
                                                "speaker": t["speaker"], "dia_id": t["dia_id"],
                                                "session_date_time": t["when"], "session_iso": t["iso"]}}
                                  for t in items])
        timings["ingest_s"].append(time.perf_counter() - started)
        dia_of = {m.id: t["dia_id"] for m, t in zip(made, items)}

        def search(question: str) -> List[str]:
            t0 = time.perf_counter()
            hits = mem.recall(question, k=10, mode=mode)
            timings["query_ms"].append((time.perf_counter() - t0) * 1000)
            return [dia_of[h.id] for h in hits]
        search.close = mem.close  # type: ignore[attr-defined]
        return search
    return build


# -- the protocol ----------------------------------------------------------------------------------

def evaluate(data: list, build, dump=None, label: str = "") -> dict:
    per_cat: Dict[int, List[Dict[str, float]]] = {}
    errors: Dict[int, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sample in data:
            search = build(sample, Path(tmp))
            valid = {t["dia_id"] for t in turns(sample)}
            for qa in sample["qa"]:
                g = gold(qa, valid)
                if not g:
                    continue
                cat = qa["category"]
                try:
                    ranked = search(qa["question"])
                except Exception:  # noqa: BLE001 - the protocol counts errors and scores them as R = []
                    errors[cat] = errors.get(cat, 0) + 1
                    ranked = []
                per_cat.setdefault(cat, []).append(score(g, ranked))
                if dump is not None:
                    dump.write(json.dumps({"system": label, "conv": sample["sample_id"], "category": cat,
                                           "question": qa["question"], "gold": g,
                                           "returned": list(dict.fromkeys(ranked))[:10]}) + "\n")
            getattr(search, "close", lambda: None)()
    lines = {}
    for name, cats in [(str(c), [c]) for c in sorted(per_cat)] + [("overall", [1, 2, 3, 4])]:
        rows = [r for c in cats for r in per_cat.get(c, [])]
        lines[name] = {"n": len(rows), "errors": sum(errors.get(c, 0) for c in cats),
                       **{m: round(statistics.fmean(r[m] for r in rows), 3) for m in ("R@10", "R@5", "MRR", "S@5")}}
    return lines


def print_lines(label: str, lines: dict) -> None:
    print(f"\n{label}")
    print(f"  {'category':<16} {'n':>4} {'err':>4}  R@10   R@5    MRR    S@5")
    for name in [k for k in lines if k != "overall"][:4] + ["overall"] + [k for k in lines if k == "5"]:
        line = lines[name]
        title = "overall 1-4" if name == "overall" else f"{name} {CATEGORIES[int(name)]}"
        print(f"  {title:<16} {line['n']:>4} {line['errors']:>4}  {line['R@10']:.3f}  {line['R@5']:.3f}  "
              f"{line['MRR']:.3f}  {line['S@5']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tier", default="minimal")
    ap.add_argument("--mode", default=None, help="keyword | vector | hybrid (default: the tier's default)")
    ap.add_argument("--all", action="store_true", help="every installed tier, every mode")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--dump", type=Path, help="write every question's ranked ids as JSON Lines")
    ap.add_argument("--json-out", default="locomo", help="result name under bench/results/")
    args = ap.parse_args()
    data = json.loads(args.data.read_text(encoding="utf-8"))
    if args.all:
        configs = [("minimal", "keyword")] + [(t, m) for t in ("tiny", "light", "full")
                                              if not tiers.missing_packages(t) for m in ("vector", "hybrid")]
    else:
        configs = [(args.tier, args.mode or ("keyword" if args.tier == "minimal" else "hybrid"))]
    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
    results = {"baseline fts_porter": evaluate(data, fts_porter, dump, "fts_porter")}
    print_lines("baseline fts_porter (stdlib sqlite3 " + sqlite3.sqlite_version + ")", results["baseline fts_porter"])
    speed = {}
    for tier, mode in configs:
        timings: Dict[str, List[float]] = {"ingest_s": [], "query_ms": []}
        label = f"memento {tier} {mode}"
        results[label] = evaluate(data, memento_system(tier, mode, timings), dump, label)
        speed[label] = {"ingest_s_total": round(sum(timings["ingest_s"]), 2),
                        "query_ms_p50": round(statistics.median(timings["query_ms"]), 2),
                        "query_ms_mean": round(statistics.fmean(timings["query_ms"]), 2)}
        print_lines(f"{label}   (ingest {speed[label]['ingest_s_total']}s for 2,760 turns, "
                    f"query p50 {speed[label]['query_ms_p50']} ms)", results[label])
    if dump:
        dump.close()
    write_result(args.json_out, {"data": str(args.data.name), "k": 10, "results": results, "speed": speed})


if __name__ == "__main__":
    main()
