"""What does embedding cost per tier? Load time, query latency, throughput and peak RSS, each
measured in a fresh process (ru_maxrss never goes down, so one process per figure).

    python bench/embed_probe.py                       # all installed tiers, default token budget
    python bench/embed_probe.py --tiers full --budgets 512 1024 2048 4096
    python bench/embed_probe.py --agreement           # tiny/light vs full cosine on the corpus

Model folders are built first, once, in $MEMENTO_CACHE_DIR (the build runs in a child process and
is not part of any figure). Writes bench/results/embed_probe.json.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def long_texts(n: int):
    """~300-token documents (longer than every model's limit, so each is truncated to max_tokens)."""
    from bench import corpus
    sents = corpus.texts(n * 16, seed=11)
    return [" ".join(sents[i * 16:(i + 1) * 16]) for i in range(n)]


def child(tier: str, mode: str, budget: int) -> dict:
    t0 = time.perf_counter()
    from memento.vectors.embedder import Embedder
    from memento.vectors.registry import model_for_tier
    t_import = time.perf_counter() - t0
    emb = Embedder(model_for_tier(tier), token_budget=budget)
    t = time.perf_counter()
    emb.load()
    out = {"tier": tier, "mode": mode, "budget": budget, "import_s": round(t_import, 3),
           "load_s": round(time.perf_counter() - t, 3)}
    t = time.perf_counter()
    emb.embed_one("what does Alice drink?")
    out["first_embed_ms"] = round((time.perf_counter() - t) * 1000, 1)
    out["cold_total_s"] = round(time.perf_counter() - t0, 3)
    out["rss_after_load_mb"] = round(_rss_mb())
    if mode == "query":
        from bench import corpus
        times = []
        for q in corpus.texts(50, seed=3):
            t = time.perf_counter()
            emb.embed_one(q)
            times.append((time.perf_counter() - t) * 1000)
        out["query_p50_ms"] = round(statistics.median(times), 2)
    else:
        if mode == "short":
            from bench import corpus
            texts = corpus.texts(10_000)
        else:
            texts = long_texts(256)
        t = time.perf_counter()
        vecs = emb.embed(texts)
        dt = time.perf_counter() - t
        assert len(vecs) == len(texts) and all(len(v) == 4 * emb.spec.dim for v in vecs)
        out["n"] = len(texts)
        out["docs_per_s"] = round(len(texts) / dt, 1)
    out["peak_rss_mb"] = round(_peak_mb())
    out["rss_end_mb"] = round(_rss_mb())
    return out


def agreement() -> dict:
    """Cosine between tiers on the same texts (the vectors of different models are not comparable
    directly; this compares tiny with full, which are the same model, and reports light for scale)."""
    import numpy as np

    from bench import corpus
    from memento.vectors.embedder import Embedder
    from memento.vectors.registry import model_for_tier
    texts = corpus.texts(500, seed=5) + long_texts(20)
    vecs = {}
    for tier in ("full", "tiny"):
        blobs = Embedder(model_for_tier(tier)).embed(texts)
        vecs[tier] = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(texts), -1)
    cos = (vecs["full"] * vecs["tiny"]).sum(axis=1)
    # neighbourhood agreement: top-5 of each short text among the short texts
    short = 500
    top = {t: np.argsort(-(v[:short] @ v[:short].T), axis=1)[:, 1:6] for t, v in vecs.items()}
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top["full"], top["tiny"])])
    return {"tiny_vs_full_cos_mean": round(float(cos.mean()), 4), "tiny_vs_full_cos_min": round(float(cos.min()), 4),
            "tiny_vs_full_cos_p05": round(float(np.percentile(cos, 5)), 4), "top5_overlap": round(float(overlap), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiers", nargs="*", default=["full", "light", "tiny"])
    ap.add_argument("--modes", nargs="*", default=["query", "short", "long"])
    ap.add_argument("--budgets", nargs="*", type=int, default=None)
    ap.add_argument("--agreement", action="store_true")
    ap.add_argument("--child", nargs=3, metavar=("TIER", "MODE", "BUDGET"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], int(args.child[2]))))
        return
    from memento.vectors import embedder, model_files, registry
    budgets = args.budgets or [embedder.TOKEN_BUDGET]
    results = []
    for tier in args.tiers:
        spec = registry.model_for_tier(tier)
        missing = registry.missing_packages(spec)
        if missing:
            print(f"{tier}: skipped, missing {missing}")
            continue
        t = time.perf_counter()
        model_files.model_dir(spec)   # build once, outside the figures
        print(f"{tier}: model folder ready in {time.perf_counter() - t:.2f}s")
        for mode in args.modes:
            for budget in (budgets if mode != "query" else budgets[:1]):
                proc = subprocess.run([sys.executable, __file__, "--child", tier, mode, str(budget)],
                                      capture_output=True, text=True, check=True)
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                results.append(r)
                print(json.dumps(r))
    out = {"results": results}
    if args.agreement:
        out["agreement"] = agreement()
        print(json.dumps(out["agreement"]))
    results_dir = REPO / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "embed_probe.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
