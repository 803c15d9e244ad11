"""Turn bench/results/*.json into Markdown tables (bench/report/report.md), PNG plots (with the
`bench` extra: matplotlib), and the generated sections of the docs, so that the docs quote the
latest run and nothing else.

Each generated section sits in its page between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`
(PAGES below); the text around the markers is written by hand and never touched. The README's
"numbers at a glance" table is written by hand from these sections."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
REPORT = REPO / "bench" / "report"
DOCS = REPO / "docs"
PAGES = {"recall": DOCS / "recall.md", "relevance": DOCS / "recall.md", "perf": DOCS / "benchmarks.md",
         "scale": DOCS / "benchmarks.md", "replicate": DOCS / "backups.md", "capture": DOCS / "capture.md",
         "capture-locomo": DOCS / "capture.md", "capture-filters": DOCS / "capture.md"}
TIERS = ("minimal", "pocket", "tiny", "light", "full")


def load(name: str) -> Optional[dict]:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def table(header: List[str], rows: List[List[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def recall_section() -> str:
    data = load("locomo")
    if not data:
        return "(run `python bench/locomo.py --data PATH --all`)"
    names = {"1": "1 multi-hop", "2": "2 temporal", "3": "3 open-domain", "4": "4 single-hop",
             "overall": "**overall 1-4**", "5": "5 adversarial"}
    runs = [data] + [d for d in [load("locomo_no_threads")] if d]  # bench/locomo.py --no-threads --json-out ...
    rows = []
    for run in runs:
        for system, lines in run["results"].items():
            if run is not data and system.startswith("baseline"):
                continue
            speed = run.get("speed", {}).get(system, {})
            cells = [f"{lines[k]['R@10']:.3f} / {lines[k]['MRR']:.3f}" for k in names if k in lines]
            rows.append([system.replace("memento ", ""), *cells, speed.get("query_ms_p50", "")])
    n = {k: v["n"] for k, v in next(iter(data["results"].values())).items()}
    header = ["system"] + [f"{names[k]} (n={n[k]})" for k in names if k in n] + ["query p50 ms"]
    out = (table(header, rows) + "\n\nEach cell: R@10 / MRR. Errors: 0 everywhere. Threads: each turn's session is "
           "its thread, the session's date its created_at (\"no-threads\": the same turns without a thread). Commit "
           + ", ".join(f"`{r['machine']['commit'][:10]}` {r['machine']['when']}" for r in runs) + ".")
    sweep = load("locomo_sweep")
    if sweep:
        rows = [[r["tier"], r["mode"], "yes" if r["threads"] else "no",
                 ", ".join(f"{k} {v}" for k, v in r["chosen"].items()), f"{r['dev_R@10']:.3f}",
                 f"{r['loco_R@10']:.3f}", f"{r['dev_R@10'] - r['loco_R@10']:+.3f}",
                 (f"{r['bootstrap']['gap']['mean']:.3f} ± {r['bootstrap']['gap']['sd']:.3f}"
                  if "bootstrap" in r else "")] for r in sweep["results"]]
        out += ("\n\nHow the weights in `memento/ranking.py` were chosen (`python bench/locomo.py --data PATH --sweep ...`): "
                "one grid for every tier (neighbour share gamma 0 to 1 in steps of 0.1, the same axis in the "
                "keyword and the hybrid statement; vector weight w_vector 1/4 to 4 in steps of √2; context "
                "weight 0 to 1 in steps of 0.25), the smoothed arg-max (each point averaged with its one-step "
                "grid neighbours: a plateau, not a peak) on all 5 dev conversations, and "
                "leave-one-conversation-out (LOCO: chosen on 4, scored on the 5th, pooled). R@10 over "
                "categories 1-4 (n=760), queries given as vectors. The last column is the gap dev - LOCO "
                "when the questions are resampled (within each conversation) and the whole choice re-run, "
                "1,000 times: a gap of about 0.01 is what this choice on 5 conversations costs by chance "
                "(the dev conversations disagree: in full hybrid one is best near gamma 0.1, another at 0.7 or more); "
                "`bench/results/locomo_sweep.json` has every fold.\n\n"
                + table(["tier", "mode", "threads", "chosen", "dev R@10", "LOCO R@10", "dev - LOCO",
                         "dev - LOCO, bootstrap"], rows)
                + "\n\nThe defaults in `memento/ranking.py` are these choices (the vector tiers' grids run at "
                "the keyword tier's context weight); tiny uses full's weights (same model, int8; not swept)."
                + f"\n\nCommit `{sweep['machine']['commit'][:10]}`, {sweep['machine']['when']}.")
    return out


def relevance_section() -> str:
    runs = [r for r in (load(f"locomo_relevance_{t}") for t in TIERS) if r]
    if not runs:
        return "(run `python bench/locomo_relevance.py --data PATH --tier TIER`)"
    rows = []
    for r in runs:
        d, lo = r["dev"], r["loco"]
        rows.append([r["tier"], r["statement"], f"{r['floor']:.3f}",
                     f"{d['own_named_R@10']:.3f} -> {d['own_named_R@10_floor']:.3f} ({lo['own_named_R@10_floor']:.3f})",
                     f"{d['own_free_R@10']:.3f} -> {d['own_free_R@10_floor']:.3f} ({lo['own_free_R@10_floor']:.3f})",
                     f"{d['foreign_named_empty']:.0%} ({lo['foreign_named_empty']:.0%})",
                     f"{d['foreign_free_empty']:.0%} ({lo['foreign_free_empty']:.0%})",
                     f"{r['calibration_dev']['ece']:.3f} ({r['calibration_loco']['ece']:.3f})"])
    q = runs[0]["questions"]
    cats = [c for c in runs[0]["dev_per_category"] if c.startswith("own_named ")]
    def cell(r, c):
        named, free = r["dev_per_category"][c], r["dev_per_category"][c.replace("own_named", "own_free")]
        return (f"{named['R@10']:.3f} -> {named['R@10_floor']:.3f}; "
                f"{free['R@10']:.3f} -> {free['R@10_floor']:.3f}")
    per_cat = [[r["tier"]] + [cell(r, c) for c in cats] for r in runs]
    per_cat_table = table(["tier"] + [c.replace("own_named ", "") for c in cats], per_cat)
    return (table(["tier", "statement", "floor", f"own named R@10, no floor -> floor (n={q['own_named']})",
                   f"own name-free R@10 (n={q['own_free']})", f"foreign named: empty (n={q['foreign_named']})",
                   f"foreign name-free: empty (n={q['foreign_free']})", "calibration error"], rows)
            + "\n\nDev set, all 5 conversations; in parentheses leave-one-conversation-out (weights and floor "
            "chosen on 4 conversations' stores and questions, scored on the 5th's store). \"Own\": a store's own "
            "questions (categories 1-4), with their speakers' names, or with every name replaced by a pronoun; "
            "\"foreign\": the other conversations' questions asked of this store, naming people it never heard "
            "of, or with the names replaced. Empty: recall returned nothing. Calibration error: expected "
            "calibration error of every hit's relevance against whether it is evidence, the four kinds weighted "
            "equally (`bench/locomo_relevance.py`; `bench/results/locomo_relevance_<tier>.json` has the weights, "
            "each fold and every category).\n\nPer category (dev), R@10 without -> with the floor: own named "
            "questions; own name-free questions:\n\n" + per_cat_table)


def perf_section() -> str:
    out = []
    cold = load("cold_start")
    if cold:
        rows = [[t, f"{v['median_s'] * 1000:.0f}", f"{v['median_over_bare_ms']:+.0f}"] for t, v in cold["tiers"].items()]
        out.append(f"Cold start (new process: import + open a {cold['size']:,}-memory store + first recall, "
                   f"model load included; median of {cold['bare_python_s']['runs']}; bare `python -c pass` "
                   f"{cold['bare_python_s']['median_s'] * 1000:.0f} ms):\n\n"
                   + table(["tier", "ms", "ms over bare python"], rows))
    warm = load("warm_recall")
    if warm:
        rows = [[r["tier"], r["mode"], f"{r['size']:,}", "yes" if r.get("threads") else "no", r["p50_ms"], r["p95_ms"],
                 r["p99_ms"]] for r in warm["rows"]]
        out.append("Warm recall (k=10, store open, model loaded; threads: conversation turns in threads of 20, "
                   "`bench/warm_recall.py --threads`; \"query vector given\": recall(vector=), the SQL without the "
                   "model). Rows are kept from earlier runs where not re-measured: the minimal tier's rows and every threads row come from the latest run; the "
                   "vector tiers' rows without threads are older and from slower statements. Run to run on these "
                   "2 shared cores, p50 moves by up to ~10%:\n\n"
                   + table(["tier", "mode", "memories", "threads", "p50 ms", "p95 ms", "p99 ms"], rows))
    fts = load("fts_size")
    if fts:
        rows = [[f"{r['memories']:,}", f"{r['fts_bytes_without_threads'] / 1e6:.1f}", f"{r['fts_bytes_with_threads'] / 1e6:.1f}",
                 f"x{r['fts_ratio']}", f"{r['file_bytes_without_threads'] / 1e6:.1f}", f"{r['file_bytes_with_threads'] / 1e6:.1f}"]
                for r in fts["rows"]]
        out.append("Keyword index size with the context column (the same conversation turns without / with "
                   "threads, minimal tier, `bench/fts_size.py`):\n\n"
                   + table(["memories", "FTS MB without", "FTS MB with", "ratio", "file MB without", "file MB with"], rows))
    rss = load("peak_rss")
    if rss:
        rows = [[r["tier"], f"{r['peak_mb']:.0f}"] for r in rss["rows"]]
        out.append("Peak RSS of a process doing 100 recalls on a 10,000-memory store:\n\n"
                   + table(["tier", "peak RSS MB"], rows))
    ingest = load("ingest")
    if ingest:
        rows = [[r["tier"], r["how"], f"{r['n']:,}", f"{r['per_s']:,.0f}", f"{r.get('peak_rss_mb', '')}"]
                for r in ingest["rows"]]
        out.append("Ingest:\n\n" + table(["tier", "how", "memories", "per second", "peak RSS MB"], rows))
    size = load("install_size")
    if size:
        rows = [[f"[{r['extra']}]", r["added_mb"], ", ".join(f"{t['name']} {t['mb']}" for t in r["top"][:5])]
                for r in size["rows"]]
        out.append("Installed size (fresh venv, site-packages growth):\n\n"
                   + table(["extra", "MB", "largest"], rows))
    prefilter = [load(p.stem) for p in sorted(RESULTS.glob("prefilter_recall_*.json"))]
    rows = [[f"{p['size']:,}", r["prefilter"], r["recall_at_10"], r["p50_ms"], p["exact"]["p50_ms"]]
            for p in prefilter if p for r in p["rows"]]
    if rows:
        out.append("Vector search: sign-bit hamming prefilter (top N) + exact cosine, against exact KNN:\n\n"
                   + table(["memories", "N", "recall@10 vs exact", "p50 ms", "exact KNN p50 ms"], rows))
    peers = load("peers")
    if peers:
        rows = [[r["system"], f"{r['cold_ms']:.0f}", r["warm_p50_ms"], f"{r['ingest_per_s']:,.0f}",
                 r["peak_rss_mb"], r["disk_mb"], r["installed_mb"]] for r in peers["rows"]]
        ratio_rows = [[f"{r['memento']} / {r['peer']}", r["cold_ms"], r["warm_p50_ms"], r["ingest_per_s"],
                       r["peak_rss_mb"], r["disk_mb"], r["installed_mb"]] for r in peers["ratios"]]
        out.append(f"Peers, same machine and run, {peers['size']:,} memories, the same texts and the same "
                   f"embeddings (`bench/peers.py`; chromadb {peers['chromadb']} PersistentClient given "
                   "precomputed vectors, so it runs no model; \"memento full (precomputed)\" is handed the "
                   "same vectors through its public API (`remember_many` items' `vector`, `recall(vector=)`) and "
                   "never loads its model either; \"memento full\" embeds everything itself, model included):\n\n"
                   + table(["system", "cold start ms", "warm p50 ms", "ingest /s", "peak RSS MB", "disk MB",
                            "installed MB"], rows)
                   + "\n\nRatios (memento / peer; below 1 is better for memento except ingest):\n\n"
                   + table(["pair", "cold start", "warm p50", "ingest", "peak RSS", "disk", "installed"], ratio_rows)
                   + "\n\nmemento full's extra memory and start-up is its in-process model (onnxruntime, numpy, "
                   "tokenizers, fastembed's import chain and the weights); chromadb runs no model here. Handed the "
                   "same vectors, memento full never loads it (the precomputed row). Its warm query does more than "
                   "chromadb's single HNSW lookup: FTS5 bm25, a sign-bit KNN, exact cosine rescoring and the fusion.")
    pi = load("pi-lane")
    if pi:
        def killed(v: dict) -> dict:   # pytest processes the cap killed -> the same run uncapped (or None)
            return {r["command"].rsplit(" ", 1)[-1]: r.get("same_run_without_cap")
                    for r in (v.get("tests") or {}).get("runs", []) if r["killed_by_signal_9"]}

        def tests_cell(v: dict) -> str:
            t = v.get("tests")
            if not t:
                return "not run (vector tiers run no cap)"
            verdict = "yes" if t["passed"] else "**no**"
            n = len(killed(v))
            return (f"{verdict}: {t['tests_passed']} passed, {t['tests_failed']} failed ({t['pytest_processes']} "
                    f"pytest processes" + (f", {n} killed at the cap" if n else "") + ")")
        rows = [[f"{t} ({v.get('warm_recall_mode')})", v.get("installed_mb"), v.get("peak_rss_mb"),
                 v.get("cold_start_s_emulated"), v.get("cold_start_s_pi_estimate"), v.get("warm_recall_p50_ms_emulated"),
                 v.get("warm_recall_p50_ms_pi_estimate"), tests_cell(v)]
                for t, v in pi.items() if t in TIERS and isinstance(v, dict) and v.get("installed_mb") is not None]
        out.append("Emulated Raspberry Pi lane (qemu-user aarch64, Debian bookworm, `bash bench/pi.sh` as root, "
                   f"{pi.get('lane_wall_s', '?')} s; commit `{str(pi.get('commit'))[:10]}`). Pi Zero 2 W figures are "
                   "**estimates** from the calibration in docs/benchmarks.md, not measurements; emulated RSS counts "
                   "qemu's own memory too, so it is an upper bound. The small tiers (minimal, pocket) run their "
                   "tests and figures under a 100 MB cgroup cap, the tests one pytest process per test file (and per "
                   "test that starts a second interpreter): under qemu each process carries its own translated-code "
                   "cache, so one pytest for the whole suite would need ~118 MB emulated (58 MB natively). A Zero 2 W "
                   "(512 MB) is detected as `pocket` (`minimal`: keyword-only, `--tier minimal`); the vector tiers are for "
                   "larger boards and run uncapped here:\n\n"
                   + table(["tier (mode)", "installed MB", "peak RSS MB (emulated)", "cold start s (emulated)",
                            "cold start s (Pi est.)", "warm p50 ms (emulated)", "warm p50 ms (Pi est.)",
                            "tests under 100 MB"], rows))
        kills = {t: killed(v) for t, v in pi.items() if t in TIERS and isinstance(v, dict) and killed(v)}
        if kills:
            def unit(name: str, runs: List[Optional[dict]]) -> str:   # "tests/x.py (passes uncapped, 95 MB)"
                if not all(runs):
                    return name
                peaks = [u["peak_rss_mb_emulated"] for u in runs if u["peak_rss_mb_emulated"]]
                verdict = "passes" if all(u["ok"] for u in runs) else "fails"
                return f"{name} ({verdict} uncapped" + (f", {max(peaks):.0f} MB" if peaks else "") + ")"
            same = len({tuple(k) for k in kills.values()}) == 1
            groups = {" and ".join(kills): list(kills.values())} if same else {t: [k] for t, k in kills.items()}
            out.append("Killed at the 100 MB cap (exit 137; in brackets the same pytest run without the cap and its largest "
                       "process's peak RSS, emulated): " + "; ".join(
                           f"{label}: " + ", ".join(unit(n, [k[n] for k in ks]) for n in ks[0])
                           for label, ks in groups.items()) + ".")
        vs = pi.get("pocket", {}).get("vs_minimal")
        if vs:
            p, m = pi["pocket"], pi["minimal"]
            out.append(f"pocket against minimal in the same run (pocket minus minimal): warm recall p50 "
                       f"{vs['warm_recall_p50_ms_delta_emulated']:+} ms emulated "
                       f"({vs['warm_recall_p50_ms_delta_pi_estimate']:+} ms Pi est.; pocket in keyword mode, the "
                       f"same statement as minimal's: {vs['keyword_mode_p50_ms_delta_emulated']:+} ms), peak RSS "
                       f"{vs['peak_rss_mb_delta_emulated']:+} MB emulated; the same recall process natively "
                       f"(x86_64) peaks at {p['peak_rss_mb_native_x86_64']:.1f} MB (minimal "
                       f"{m['peak_rss_mb_native_x86_64']:.1f} MB). Installed sizes are the same wheel: `[pocket]` "
                       "adds no dependency, and its table ships inside the package. Timing across the two tiers' turns "
                       f"includes the shared host's load: bare `python -c pass` took {m['bare_python_emulated']['median_s']} s "
                       f"in minimal's turn and {p['bare_python_emulated']['median_s']} s in pocket's. Within pocket's turn, "
                       "query by query interleaved (the same load on both), hybrid took "
                       f"{p['warm_recall_emulated']['hybrid']['p50_ms'] - p['warm_recall_emulated']['keyword']['p50_ms']:+.2f} "
                       "ms p50 over keyword mode, emulated.")
    arm32 = load("armv7l")
    if arm32:
        def blocker(req: str, why: str) -> str:   # "fastembed (needs numpy>=1.21)" or "sqlite-vec"
            name = re.split(r"[<>=!~; ]", req)[0]
            missing = re.search(r"found for ([^;\s]+)", why)
            missing = missing.group(1) if missing else "?"
            return name if missing.startswith(name) else f"{name} (needs {missing})"
        rows = [[f"[{extra}]", "yes" if r["resolves"] else "no",
                 ", ".join(r["files"]) if r["resolves"] else "no armv7l wheel: " + ", ".join(
                     blocker(req, r["requirements"][req]) for req in r["failing"])]
                for extra, r in arm32["extras"].items()]
        out.append("32-bit Raspberry Pi OS (armv7l, CPython 3.11, glibc 2.36): does the extra install from PyPI's "
                   "binary wheels alone, no compiler? (`bash bench/armv7l_check.sh`: `pip download --only-binary=:all:` "
                   "for the armv7l platform tags, with the wheel's markers evaluated for armv7l; psutil is left out "
                   "there by its marker, and tier detection reads /proc/meminfo, the cgroup limit and "
                   "`os.cpu_count()` instead). The vector extras stay 64-bit only:\n\n"
                   + table(["extra", "installs on armv7l", "wheels / what is missing"], rows))
    return "\n\n".join(out)


def scale_section() -> str:
    """bench/scale.py (latency against store size, real text) and bench/scale_quality.py (what the
    speed-ups cost on the dev set)."""
    out = []
    scale = load("scale")
    if scale:
        modes = ("raw_fts", "keyword", "raw_vec", "vector", "hybrid_sql", "hybrid")
        rows = []
        for r in sorted(scale["rows"], key=lambda r: (r["n"], r["label"])):
            cpu = r.get("cpu")
            if not cpu:
                continue
            wall = r["latency"]
            rows.append([f"{r['n']:,}", r["label"]]
                        + [f"{wall[m]['p50_ms']:.1f} / {wall[m]['p95_ms']:.0f} ({cpu[m]['p50_ms']:.1f})" for m in modes]
                        + [r["ratios_cpu_p50"]["keyword/raw_fts"], r["ratios_cpu_p50"]["vector/raw_vec"],
                           r.get("vector_recall_at_10_vs_exact"), r.get("vector_recall_at_10_distinct_texts"),
                           f"{r['build_s']:.0f} ({r['rows_per_s']:,}/s)", f"{r['file_bytes'] / 2**20:.0f}"])
        out.append(f"Recall against store size on real text (`bench/scale.py`: the LoCoMo dev turns copied into "
                   f"threads up to N memories, full tier, vectors through the caller-vector path; "
                   f"{scale['rows'][0]['questions']} dev questions, each asked in every mode in turn). Wall time per "
                   "recall, p50 / p95 ms, and in brackets CPU time p50 (the process's: worker threads and the "
                   "model's threads included, onnxruntime's spinning after an embedding too; a big store's recall "
                   "runs on two cores, so its wall time is below its CPU time). `before`: the statements before "
                   "issue 23; `after`: this code; `after common_word_share=1.0` (every word searched) is from an "
                   "earlier run of issue 23's code, before the vector side ran beside the keyword side. raw_fts: FTS5 bm25 top-10 of the "
                   "same MATCH; raw_vec: vec0 exact float KNN top-10 of the same vectors; hybrid_sql: the query vector "
                   "given; hybrid: the model embeds the query. recall@10 of the vector candidates against the exact "
                   "KNN: tie-aware (copies share a vector), and over distinct texts:\n\n"
                   + table(["memories", "code", *[f"{m} ms" for m in modes], "keyword / raw_fts cpu",
                            "vector / raw_vec cpu", "recall@10 vs exact", "recall@10 distinct texts", "build s",
                            "file MiB"], rows))
    ann = load("ann_recall")
    if ann:
        rows = [[f"{r['n']:,}", r["cell_list_by"] if r["partitioned"] else "sign bits, one cell", r["label"],
                 f"{r['recall_at_10']:.4f}", f"{r['cpu']['p50_ms']:.2f} / {r['cpu']['p95_ms']:.1f}"]
                for r in sorted(ann["rows"], key=lambda r: (r["n"], r["cell_list_by"], r["label"]))]
        out.append("The vector side against exact KNN on distinct vectors (`bench/ann_recall.py`: each memory's "
                   "vector is a dev turn's plus half another's, normalised, so that no two are equal as copies' "
                   f"are; {ann['questions']} dev questions): recall@10 of the vector candidates' best 10 against "
                   "the true 10 nearest (numpy), and CPU time of the vector side's SQL, p50 / p95 ms. A store "
                   "without cells takes a list of `prefilter_factor` x 20 by hamming distance over the sign bits; "
                   "a partitioned one reads the `probe_cells` cells nearest the query, `cell_prefilter_factor` x 20 "
                   "from each, ranked by sign bits (before) or int8 vectors (now):\n\n"
                   + table(["vectors", "each list ranked by", "setting", "recall@10 vs exact", "cpu ms"], rows))
    quality = load("scale_quality")
    if quality:
        cats = ("1", "2", "3", "4", "overall", "5")
        def order(r: dict) -> tuple:  # per tier and mode (and distractor store), the exact statement first
            exact = "one cell" in r["config"] or "=1.0" in r["config"]
            big = r["config"].split(", ")[1] if ", " in r["config"] else ""
            return (r["tier"] != "minimal", r["tier"], big, r["config"].split()[0], not exact, r["config"])
        rows = [[r["tier"], r["config"], *[f"{r['R@10'].get(c, 0):.4f}" for c in cats]]
                for r in sorted(quality["rows"], key=order)]
        out.append("What the speed-ups cost on the LoCoMo dev set (`bench/scale_quality.py`, R@10 per category; "
                   "the first line of each tier and mode is the exact statement; dev stores hold ~600 turns, so "
                   "cells are made on purpose: 48 cells of ~12 vectors; \"N memories\": each conversation among "
                   "the other conversations' turns copied up to N, `--distractors N`):\n\n"
                   + table(["tier", "configuration", "1 multi-hop", "2 temporal", "3 open-domain", "4 single-hop",
                            "overall 1-4", "5 adversarial"], rows))
    return "\n\n".join(out)


def replicate_section() -> str:
    data = load("replicate")
    if not data:
        return "(run `PYTHONPATH=. python -m bench.replicate`)"
    t = data["throughput"]

    def row(name: str, how: str, note: str) -> List[str]:
        r = t[name]
        return [how, f"{r['without_per_s']:,.0f}/s", f"{r['without_autocheckpoint_per_s']:,.0f}/s",
                f"{r['with_per_s']:,.0f}/s", note.format(r["ratio_with_over_without"],
                                                        r["ratio_with_over_without_autocheckpoint"])]
    out = (f"Measured by `PYTHONPATH=. python -m bench.replicate` (bench/results/replicate.json; {data['tier']} tier, "
           f"Litestream {data['litestream']} to a local folder, sync every {data['sync_interval_s']} s; a shared "
           f"{data['machine']['cpus']}-core {data['machine']['machine']} VM under load, so single runs vary by tens "
           "of percent):\n\n"
           + table(["", "without Litestream", "without, checkpoints left to Litestream", "with Litestream",
                    "ratio with/without"],
                   [row("remember", "`remember()` one at a time", "{:.2f} ({:.2f} against the same checkpoint setting)"),
                    row("remember_many", "`remember_many()`, batches of 100", "{:.2f} ({:.2f})")])
           + f"\n\nReplication lag, commit to the LTX file in the replica: p50 {data['lag']['p50_ms']:.0f} ms, "
           f"p95 {data['lag']['p95_ms']:.0f} ms ({data['lag']['n']} commits at random moments). Litestream's "
           f"resident memory: {t['litestream_rss_mb']:.0f} MB (peak {t['litestream_peak_rss_mb']:.0f} MB), a "
           "separate process: it is not part of memento's own memory figures (docs/benchmarks.md).")
    arm = load("replicate-aarch64")
    if arm:
        a = arm["throughput"]
        out += (" In the emulated aarch64 lane (qemu-user, bench/results/replicate-aarch64.json; smaller passes): "
                f"ratio with/without {a['remember']['ratio_with_over_without']:.2f} for `remember()`, "
                f"{a['remember_many']['ratio_with_over_without']:.2f} for `remember_many()`, lag p50 "
                f"{arm['lag']['p50_ms']:.0f} ms / p95 {arm['lag']['p95_ms']:.0f} ms, Litestream "
                f"{a['litestream_rss_mb']:.0f} MB RSS including the emulator itself (not a Pi figure).")
    return out


def capture_section() -> str:
    """Capture throughput (bench/capture.py), one row per tier measured."""
    rows = [r for tier in TIERS for r in (load(f"capture_{tier}") or {}).get("rows", [])]
    if not rows:
        return "(run `python -m bench.capture`)"
    out = []
    for r in rows:
        data = load(f"capture_{r['tier']}") or {}
        when = data.get("machine", {})
        out.append(
            f"`python -m bench.capture --sessions {r['sessions']}` ({r['tier']} tier, `--later`; "
            f"{when.get('cpus', '?')} shared CPUs, {when.get('machine', '?')}, commit "
            f"`{str(when.get('commit'))[:10]}`, {when.get('when', '?')}; load average at the end "
            f"{r['load_average'][0]}: other work shared the cores, so wall times vary):\n\n" + table(["", ""], [
                ["transcripts", f"{r['sessions']:,} sessions, {r['lines']:,} lines, {r['megabytes']:,.0f} MB"],
                ["cold capture", f"{r['cold_seconds']:,} s: **{r['cold_lines_per_s']:,} lines/s** "
                                 f"({r['cold_lines_per_cpu_s']:,} lines per CPU second; {r['memories']:,} "
                                 f"memories from {r['messages']:,} messages, {r['redacted']} secrets redacted)"],
                ["peak RSS, cold", f"**{r['cold_peak_rss_mb']} MB** ({r['small_peak_rss_mb']} MB for a folder of "
                                   f"{r['small_sessions']:,} sessions, {r['small_lines']:,} lines)"],
                ["rerun, nothing new", f"**{r['rerun_seconds']} s** ({r['rerun_cpu_seconds']} s of CPU), "
                                       f"{r['rerun_files_opened']} files opened, "
                                       f"{r['rerun_transcript_read_bytes']:,} bytes of transcripts read "
                                       f"({r['rerun_read_kb']:,} kB in all: the store's pages)"],
                ["rerun after a turn was appended to 1% of the sessions",
                 f"{r['appended_seconds']} s: {r['appended_files']} files, {r['appended_lines_read']:,} lines read "
                 f"({r['appended_transcript_read_kb']:,} kB of transcripts), {r['appended_added']} memories added"],
                ["hook on a captured session + one new turn", f"p50 {r['hook_p50_ms']:.0f} ms, p95 "
                 f"{r['hook_p95_ms']:.0f} ms, process start included (`memento --version` alone: p50 "
                 f"{r['bare_start_p50_ms']:.0f} ms)"]]))
    return "\n\n".join(out)


def capture_locomo_section() -> str:
    """LoCoMo through the capture path (bench/locomo_capture.py), every tier measured, next to the
    direct path of the same run."""
    names = {"overall": "**overall 1-4**", "1": "1 multi-hop", "2": "2 temporal", "3": "3 open-domain",
             "4": "4 single-hop", "5": "5 adversarial"}
    runs = [(tier, data) for tier, data in ((t, load(f"locomo_capture_{t}")) for t in TIERS) if data]
    if not runs:
        return "(run `python bench/locomo_capture.py --tier TIER --explain --json-out ...`)"
    header: List[str] = ["R@10", "n"]
    columns = []
    for tier, data in runs:
        mode = data["mode"]
        columns += [data["results"][f"direct {tier} {mode}"], data["results"][f"capture {tier} {mode}"]]
        header += [f"{tier} direct", f"{tier} capture"]
    rows = [[title, columns[0][key]["n"], *(f"{c[key]['R@10']:.3f}" for c in columns)] for key, title in names.items()]
    counts = runs[0][1]["capture"]["name_prefix=False"]
    made = ", ".join(f"{tier} ({data['mode']}) `{data['machine']['commit'][:10]}` {data['machine']['when']}"
                     for tier, data in runs)
    return (table(header, rows) + f"\n\nRuns: {made}. Each capture run turned {counts['lines']:,} transcript lines "
            f"into exactly {counts['turns']:,} memories, one per turn.")


def capture_filters_section() -> str:
    """Recall with a session or source filter (bench/filter_recall.py), next to the checkout before
    the filters were seeks (filter_recall_before.json) when that run exists."""
    after, before = load("filter_recall"), load("filter_recall_before")
    if not after:
        return "(run `python -m bench.filter_recall`)"
    old = {r["filter"]: r for r in (before or {}).get("rows", [])}
    rows = [[r["filter"], f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}",
             f"{old[r['filter']]['p50_ms']:.1f}" if r["filter"] in old else ""] for r in after["rows"]]
    runs = [f"`{d['machine']['commit'][:10]}` {d['machine']['when']}" for d in (after, before) if d]
    return (f"Keyword recall (k=10) at {after['size']:,} memories in session threads, 90% `claude-code/...`, "
            f"10% `openclaw/main/...`, 100 turns a session (`python -m bench.filter_recall`; ms, "
            f"{after['rows'][0]['n']} questions; runs {', '.join(runs)}):\n\n"
            + table(["filter", "p50", "p95", "p50 before the filters were index seeks"], rows))


def plots() -> List[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    warm = load("warm_recall")
    if warm:
        fig, ax = plt.subplots(figsize=(6, 4))
        for key in sorted({(r["tier"], r["mode"]) for r in warm["rows"]}):
            pts = sorted((r["size"], r["p50_ms"]) for r in warm["rows"] if (r["tier"], r["mode"]) == key)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=" ".join(key))
        ax.set(xscale="log", xlabel="memories", ylabel="warm recall p50 (ms)", title="Recall latency")
        ax.legend()
        fig.savefig(REPORT / "latency.png", dpi=100, bbox_inches="tight")
        made.append("latency.png")
    rss = load("peak_rss")
    if rss:
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.bar([r["tier"] for r in rss["rows"]], [r["peak_mb"] for r in rss["rows"]])
        ax.set(ylabel="peak RSS (MB)", title="Recall process, 10k memories")
        fig.savefig(REPORT / "rss.png", dpi=100, bbox_inches="tight")
        made.append("rss.png")
    return made


def replace_between(text: str, marker: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- bench:{marker} -->\n).*?(<!-- /bench:{marker} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"bench/report.py: no <!-- bench:{marker} --> ... <!-- /bench:{marker} --> block "
                         f"in {PAGES[marker].relative_to(REPO)}")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def main() -> None:
    REPORT.mkdir(exist_ok=True)
    sections = {"recall": recall_section(), "relevance": relevance_section(), "perf": perf_section(),
                "scale": scale_section(), "replicate": replicate_section(), "capture": capture_section(),
                "capture-locomo": capture_locomo_section(), "capture-filters": capture_filters_section()}
    images = plots()
    report = (f"# memento benchmark report\n\n## Recall quality (LoCoMo dev)\n\n{sections['recall']}\n\n"
              f"## Relevance\n\n{sections['relevance']}\n\n"
              f"## Performance\n\n{sections['perf']}\n\n## A million memories\n\n{sections['scale']}\n\n"
              f"## Replication\n\n{sections['replicate']}\n\n"
              f"## Capture\n\n{sections['capture']}\n\n{sections['capture-locomo']}\n\n"
              f"{sections['capture-filters']}\n"
              + "".join(f"\n![{name}]({name})\n" for name in images))
    (REPORT / "report.md").write_text(report, encoding="utf-8")
    for marker, page in PAGES.items():
        page.write_text(replace_between(page.read_text(encoding="utf-8"), marker, sections[marker]), encoding="utf-8")
    print(f"wrote bench/report/report.md ({', '.join(images) or 'no plots: pip install matplotlib'}) and "
          + ", ".join(sorted({str(page.relative_to(REPO)) for page in PAGES.values()})))


if __name__ == "__main__":
    main()
