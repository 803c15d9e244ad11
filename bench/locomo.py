"""Recall quality on the LoCoMo dev set (protocol in docs/benchmarks.md, "The LoCoMo dev set"):
a fresh store per conversation, one memory per dialog turn, the question verbatim, k = 10.
Reports R@10, R@5, MRR and S@5 per category (1-4 pooled as "overall", 5 on its own line) for the
fts_porter baseline (stdlib sqlite3, measured in the same run; it validates the harness) and for
the memento tiers and modes asked for, with ingest time and query latency.

    python bench/locomo.py --data locomo-dev.json --tier minimal --mode keyword
    python bench/locomo.py --data locomo-dev.json --tier full --mode vector,hybrid --dump /tmp/full.jsonl
    python bench/locomo.py --data locomo-dev.json --all --json-out /tmp/locomo.json
    python bench/locomo.py --data locomo-dev.json --tier full --mode hybrid --recall-kw since='"2023-01-01"'

--recall-kw KEY=VALUE (repeatable) is passed to memento's recall(**kw); VALUE is parsed as JSON
(a bare word that is not JSON is taken as a string).

The data: --data PATH, or $MEMENTO_LOCOMO_DATA when --data is not given. The dev file holds 5 of
the 10 conversations of LoCoMo (Maharana et al., ACL 2024, arXiv:2402.17753;
https://github.com/snap-research/locomo, data/locomo10.json): conv-26, conv-30, conv-41, conv-42 and
conv-43, unmodified (docs/benchmarks.md says how to make the file; its sha256 is DEV_SHA256 below).
It is CC BY-NC 4.0, for evaluation only: never copy it into the repository; keep --dump files (they
hold its questions) outside the repo too.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # measure the working tree's memento, also as `python bench/locomo.py`

DATA_ENV = "MEMENTO_LOCOMO_DATA"   # the data file's path when --data is not given
DEFAULT_OUT = REPO / "bench" / "results" / "locomo.json"
DEV_SHA256 = "c79d45f1db724e998b2083bb5b4d0653e1d00958a97c188045c716e968b60fec"
EXPECTED_BASELINE = {"n": 760, "errors": 0, "R@10": 0.609, "MRR": 0.450}  # fts_porter overall on the dev file
TOLERANCE = 0.002

K = 10
METRICS = ("R@10", "R@5", "MRR", "S@5")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
OVERALL = (1, 2, 3, 4)
TIER_MODES = {"minimal": ("keyword",), "pocket": ("keyword", "hybrid"), "tiny": ("keyword", "vector", "hybrid"),
              "light": ("keyword", "vector", "hybrid"), "full": ("keyword", "vector", "hybrid")}
DEFAULT_MODE = {"minimal": "keyword", "pocket": "hybrid", "tiny": "hybrid", "light": "hybrid", "full": "hybrid"}
GOLD_RE = re.compile(r"D:?(\d+):(\d+)")
SESSION_RE = re.compile(r"session_(\d+)")
WORD_RE = re.compile(r"\w+")
SESSION_TIME_FORMAT = "%I:%M %p on %d %B, %Y"

# nltk.corpus.stopwords.words("english"), 179 words.
STOPWORDS = frozenset("""
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves
he him his himself she she's her hers herself it it's its itself they them their theirs themselves
what which who whom this that that'll these those am is are was were be been being have has had
having do does did doing a an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on off over
under again further then once here there when where why how all any both each few more most other
some such no nor not only own same so than too very s t can will just don don't should should've
now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn
hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn
shouldn't wasn wasn't weren weren't won won't wouldn wouldn't
""".split())
assert len(STOPWORDS) == 179

Search = Callable[[str], List[str]]  # question -> ranked dia_ids


# -- the data --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Turn:
    dia_id: str
    text: str
    session: int
    speaker: str
    when: str  # the session's date_time string
    iso: str   # ... and its ISO form


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    gold: Tuple[str, ...]


@dataclass(frozen=True)
class Conversation:
    conv_id: str
    turns: Tuple[Turn, ...]
    questions: Tuple[Question, ...]  # scored ones only (non-empty gold)


def turn_text(turn: dict) -> str:
    text = f"{turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        text += f" [shares photo: {turn['blip_caption']}]"
    return text


def read_turns(conv: dict) -> List[Turn]:
    """Every dialog turn, sessions in numeric order, turns in file order."""
    numbers = sorted(int(m.group(1)) for m in map(SESSION_RE.fullmatch, conv) if m)
    out = []
    for n in numbers:
        when = conv[f"session_{n}_date_time"]
        iso = datetime.strptime(when, SESSION_TIME_FORMAT).isoformat()
        out += [Turn(t["dia_id"], turn_text(t), n, t["speaker"], when, iso) for t in conv[f"session_{n}"]]
    return out


def parse_gold(evidence: Sequence[str], valid: set) -> Tuple[str, ...]:
    """Gold dia_ids: every `D:?(\\d+):(\\d+)` match, leading zeros dropped, unknown ids and duplicates dropped."""
    ids = (f"D{int(s)}:{int(t)}" for item in evidence for s, t in GOLD_RE.findall(item))
    return tuple(dict.fromkeys(i for i in ids if i in valid))


def read_conversation(sample: dict) -> Conversation:
    turns = read_turns(sample["conversation"])
    valid = {t.dia_id for t in turns}
    questions = [Question(qa["question"], int(qa["category"]), parse_gold(qa.get("evidence", []), valid))
                 for qa in sample["qa"]]
    return Conversation(sample["sample_id"], tuple(turns), tuple(q for q in questions if q.gold))


def load(path: Path) -> Tuple[List[Conversation], str]:
    raw = path.read_bytes()
    return [read_conversation(s) for s in json.loads(raw)], hashlib.sha256(raw).hexdigest()


# -- metrics ---------------------------------------------------------------------------------------

def session_of(dia_id: str) -> int:
    return int(dia_id[1:].split(":")[0])


def score(gold: Sequence[str], returned: Sequence[str]) -> Dict[str, float]:
    g, r = set(gold), list(returned)[:K]
    first = next((rank for rank, d in enumerate(r, 1) if d in g), None)
    gold_sessions = {session_of(d) for d in g}
    return {"R@10": len(g & set(r[:10])) / len(g), "R@5": len(g & set(r[:5])) / len(g),
            "MRR": 1 / first if first else 0.0,
            "S@5": float(any(session_of(d) in gold_sessions for d in r[:5]))}


@dataclass
class Answer:
    conv_id: str
    question: Question
    returned: List[str]
    error: Optional[str]


@dataclass
class Run:
    """One system's answers to every question, with its timings."""
    label: str
    answers: List[Answer] = field(default_factory=list)
    ingest_s: float = 0.0
    query_ms: List[float] = field(default_factory=list)


def summarize(answers: Sequence[Answer]) -> Dict[str, Any]:
    n = len(answers)
    line: Dict[str, Any] = {"n": n, "errors": sum(a.error is not None for a in answers)}
    scores = [score(a.question.gold, a.returned) for a in answers]
    # Unrounded: printing rounds once (.3f); rounding here too would round twice (0.60549 -> 0.6055 -> 0.606).
    line.update({m: statistics.fmean(s[m] for s in scores) if n else None for m in METRICS})
    return line


def aggregate(run: Run) -> Dict[str, Dict[str, Any]]:
    """One line per category present, plus "overall" (categories 1-4 pooled, micro-average)."""
    cats = sorted({a.question.category for a in run.answers})
    lines = {str(c): summarize([a for a in run.answers if a.question.category == c]) for c in cats}
    lines["overall"] = summarize([a for a in run.answers if a.question.category in OVERALL])
    return lines


def speed(run: Run) -> Dict[str, Any]:
    q = run.query_ms
    return {"ingest_s_total": round(run.ingest_s, 3), "queries": len(q),
            "query_ms_mean": round(statistics.fmean(q), 2) if q else None,
            "query_ms_p50": round(statistics.median(q), 2) if q else None}


# -- running a system ------------------------------------------------------------------------------

def ask_all(run: Run, conv: Conversation, search: Search) -> None:
    """Every scored question of `conv`; an exception is an error scored with R = []."""
    for q in conv.questions:
        started = time.perf_counter()
        try:
            returned, error = list(dict.fromkeys(search(q.text)))[:K], None
            run.query_ms.append((time.perf_counter() - started) * 1000)
        except Exception as exc:  # noqa: BLE001 - the protocol counts and scores errors
            returned, error = [], f"{type(exc).__name__}: {exc}"
        run.answers.append(Answer(conv.conv_id, q, returned, error))


# -- baseline fts_porter: stdlib sqlite3, one FTS5 table per conversation ---------------------------

FTS_SQL = "SELECT id FROM mem WHERE mem MATCH :expr ORDER BY bm25(mem) LIMIT 10"


def match_expr(question: str) -> str:
    words = list(dict.fromkeys(WORD_RE.findall(question.lower())))
    kept = [w for w in words if w not in STOPWORDS] or words
    return " OR ".join(f'"{w}"' for w in kept)


def porter_index(conv: Conversation) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE mem USING fts5(id UNINDEXED, text, "
               "tokenize='porter unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO mem (id, text) VALUES (?, ?)", [(t.dia_id, t.text) for t in conv.turns])
    return db


def run_baseline(convs: Sequence[Conversation]) -> Run:
    run = Run("baseline fts_porter")
    for conv in convs:
        started = time.perf_counter()
        db = porter_index(conv)
        run.ingest_s += time.perf_counter() - started
        ask_all(run, conv, lambda q, db=db: [row[0] for row in db.execute(FTS_SQL, {"expr": match_expr(q)})])
        db.close()
    return run


def check_baseline(lines: Dict[str, Dict[str, Any]], sha256: str) -> Dict[str, Any]:
    """The harness check: fts_porter overall R@10 0.609, MRR 0.450, n 760, 0 errors (+-0.002) on the dev file."""
    if sha256 != DEV_SHA256:
        return {"checked": False, "why": "not the dev file (sha256 differs)"}
    got = lines["overall"]
    ok = (got["n"] == EXPECTED_BASELINE["n"] and got["errors"] == EXPECTED_BASELINE["errors"]
          and all(abs(got[m] - EXPECTED_BASELINE[m]) <= TOLERANCE for m in ("R@10", "MRR")))
    return {"checked": True, "ok": ok, "expected": EXPECTED_BASELINE, "tolerance": TOLERANCE,
            "got": {k: got[k] for k in EXPECTED_BASELINE}}


# -- memento, through its public API only ---------------------------------------------------------

def memento_items(conv: Conversation, threads: bool = True, speakers: bool = True) -> List[dict]:
    """One item per turn; with threads, each turn's session is its thread (the session's date is
    already its created_at), so a turn's neighbours in the conversation help recall find it; with
    speakers, the turn's speaker is the memory's (recall's speaker boost reads it)."""
    return [{"text": t.text, "created_at": t.iso, **({"speaker": t.speaker} if speakers else {}),
             **({"thread": f"{conv.conv_id}/session_{t.session}"} if threads else {}),
             "metadata": {"conv": conv.conv_id, "session": t.session, "speaker": t.speaker,
                          "dia_id": t.dia_id, "session_date_time": t.when, "session_iso": t.iso}}
            for t in conv.turns]


def config_label(tier: str, mode: str, recall_kw: Dict[str, Any], threads: bool = True,
                 speakers: bool = True) -> str:
    extra = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(recall_kw.items()))
    return (f"memento {tier} {mode}" + ("" if threads else " no-threads") + ("" if speakers else " no-speaker")
            + (f" [{extra}]" if extra else ""))


def run_tier(memento: Any, convs: Sequence[Conversation], tier: str, modes: Sequence[str],
             recall_kw: Dict[str, Any], threads: bool = True, dedup: bool = False,
             speakers: bool = True, settings: Optional[Dict[str, Any]] = None) -> List[Run]:
    """One fresh store per conversation (in a new temp dir); every mode queries that same store.
    dedup=False (default): every turn is its own memory, even a repeated "Thanks!" in a session, so
    each turn's dia_id maps to one memory id (--dedup measures the default remember behaviour)."""
    label = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted((settings or {}).items()))
    runs = {mode: Run(config_label(tier, mode, recall_kw, threads, speakers) + (" dedup" if dedup else "")
                      + (f" {{{label}}}" if label else "")) for mode in modes}
    for conv in convs:
        with tempfile.TemporaryDirectory(prefix=f"locomo-{tier}-") as tmp, \
                memento.open(Path(tmp) / "memento.db", tier=tier) as mem:
            if settings:
                from dataclasses import replace
                mem.ranking = replace(mem.ranking, **settings)
            started = time.perf_counter()
            made = mem.remember_many(memento_items(conv, threads, speakers), **({} if dedup else {"dedup": False}))
            ingest_s = time.perf_counter() - started
            if len(made) != len(conv.turns):
                raise RuntimeError(f"remember_many returned {len(made)} memories for {len(conv.turns)} turns")
            dia_of = {m.id: t.dia_id for m, t in zip(made, conv.turns) if m.duplicate_of is None} \
                if dedup else {m.id: t.dia_id for m, t in zip(made, conv.turns)}
            # min_score=0: ranking is measured over every hit, as in the protocol (the relevance floor's
            # effect on these questions: bench/locomo_relevance.py)
            for mode, run in runs.items():
                run.ingest_s += ingest_s
                ask_all(run, conv, lambda q, mode=mode, dia_of=dia_of: [dia_of[h.id] for h in
                                                          mem.recall(q, k=K, mode=mode, min_score=0, **recall_kw)])
    return list(runs.values())


def tier_available(memento: Any, tier: str) -> bool:
    with tempfile.TemporaryDirectory(prefix="locomo-probe-") as tmp:
        try:
            with memento.open(Path(tmp) / "probe.db", tier=tier):
                return True
        except memento.TierUnavailableError as exc:
            print(f"skipping tier {tier}: {exc}", file=sys.stderr)
            return False


def configs_to_run(args: argparse.Namespace, memento: Any) -> List[Tuple[str, List[str]]]:
    """(tier, modes) pairs: every available one with --all, else --tier with --mode (or its default)."""
    if args.all:
        return [(t, list(m)) for t, m in TIER_MODES.items() if tier_available(memento, t)]
    modes = args.mode.split(",") if args.mode else [DEFAULT_MODE.get(args.tier, "hybrid")]
    return [(args.tier, modes)]


# -- output ----------------------------------------------------------------------------------------

def print_run(run: Run, lines: Dict[str, Dict[str, Any]]) -> None:
    s = speed(run)
    latency = (f"query mean {s['query_ms_mean']:.2f} ms, p50 {s['query_ms_p50']:.2f} ms"
               if s["queries"] else "no successful query")
    print(f"\n{run.label}   (ingest {s['ingest_s_total']:.2f} s; {latency})")
    print(f"  {'category':<16} {'n':>4} {'errors':>6}   R@10    R@5    MRR    S@5")
    order = [k for k in lines if k not in ("overall", "5")] + ["overall"] + (["5"] if "5" in lines else [])
    for key in order:
        line = lines[key]
        title = "overall 1-4" if key == "overall" else f"{key} {CATEGORIES.get(int(key), '?')}"
        cells = "  ".join(f"{line[m]:.3f}" if line[m] is not None else "  -  " for m in METRICS)
        print(f"  {title:<16} {line['n']:>4} {line['errors']:>6}  {cells}")


def dump_answers(path: Path, runs: Sequence[Run]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for run in runs:
            for a in run.answers:
                out.write(json.dumps({"system": run.label, "conv": a.conv_id, "question": a.question.text,
                                      "category": a.question.category, "gold": list(a.question.gold),
                                      "returned": a.returned, "error": a.error}) + "\n")


def git(*argv: str) -> Optional[str]:
    try:
        done = subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def machine(memento: Any) -> Dict[str, Any]:
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "sqlite_stdlib": sqlite3.sqlite_version,
            "memento": getattr(memento, "__version__", None), "commit": git("rev-parse", "HEAD"),
            "dirty": None if status is None else bool(status),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def write_json(path: Path, payload: Dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    print(f"\nwrote {path}")


# -- command line ----------------------------------------------------------------------------------

def parse_kw(pairs: Sequence[str], fixed: Sequence[str] = ("query", "k", "mode")) -> Dict[str, Any]:
    kw: Dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--recall-kw / --setting want KEY=VALUE, not {pair!r}")
        if key in fixed:
            raise SystemExit(f"--recall-kw cannot set {key!r}: the protocol fixes it")
        try:
            kw[key] = json.loads(value)
        except json.JSONDecodeError:
            kw[key] = value
    return kw


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tier", default="minimal", choices=list(TIER_MODES))
    ap.add_argument("--mode", help="keyword | vector | hybrid, or several comma-separated "
                                   "(one store per conversation serves them all); default: the tier's default")
    ap.add_argument("--all", action="store_true", help="every available tier with every mode it has")
    from_env = os.environ.get(DATA_ENV) or None
    ap.add_argument("--data", type=Path, default=from_env, required=from_env is None, metavar="PATH",
                    help=f"the LoCoMo dev file (locomo-dev.json; how to make it: docs/benchmarks.md); "
                         f"default: ${DATA_ENV}" + (f" = {from_env}" if from_env else " (not set)"))
    ap.add_argument("--json-out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    ap.add_argument("--dump", type=Path, help="JSON Lines, one per system and question: conv, question, "
                                              "category, gold, returned dia_ids, error")
    ap.add_argument("--dedup", action="store_true", help="remember with duplicate detection on (a repeated "
                    "turn in a session is merged into its first; that turn's id answers for both)")
    ap.add_argument("--no-threads", action="store_true", help="store turns without threads (as before threads)")
    ap.add_argument("--no-speaker", action="store_true", help="store turns without their speaker field (the "
                    "text still starts with the speaker's name)")
    ap.add_argument("--sweep", metavar="TIERS", help="re-run the choice of memento/ranking.py's weights with "
                    "leave-one-conversation-out on dev, for these tiers (e.g. minimal,light,full); writes "
                    "bench/results/locomo_sweep.json")
    ap.add_argument("--recall-kw", action="append", default=[], metavar="KEY=VALUE",
                    help="extra keyword argument for recall(), VALUE parsed as JSON; repeatable")
    ap.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                    help="a RankingSettings field (memento/ranking.py) for this run, VALUE parsed as JSON; "
                         "repeatable (e.g. common_word_share=1.0: every query word searched)")
    args = ap.parse_args(argv)
    if not args.data.is_file():
        ap.error(f"no LoCoMo data file at {args.data} (how to make locomo-dev.json: docs/benchmarks.md)")
    if args.mode and not args.all:
        bad = [m for m in args.mode.split(",") if m not in TIER_MODES[args.tier]]
        if bad:
            ap.error(f"tier {args.tier} has modes {', '.join(TIER_MODES[args.tier])}, not {', '.join(bad)}")
    return args


def import_memento() -> Any:
    try:
        import memento
    except ImportError as exc:
        print(f"memento is not importable ({exc}): baseline only", file=sys.stderr)
        return None
    return memento


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    recall_kw = parse_kw(args.recall_kw)
    started = time.perf_counter()
    convs, sha256 = load(args.data)
    print(f"{args.data.name}: {len(convs)} conversations, {sum(len(c.turns) for c in convs)} turns, "
          f"{sum(len(c.questions) for c in convs)} scored questions")
    if args.sweep:
        from bench import locomo_sweep
        memento = import_memento()
        results = locomo_sweep.run(memento, sys.modules[__name__], convs, args.sweep.split(","))
        # --json-out names another file for a sweep of some tiers only (locomo_sweep.json holds every tier's)
        write_json(args.json_out if args.json_out != DEFAULT_OUT else REPO / "bench" / "results" / "locomo_sweep.json", {
            "machine": machine(memento), "data": {"file": args.data.name, "sha256": sha256},
            "k": K, "metric": "R@10, categories 1-4 pooled", "results": results,
            "elapsed_s": round(time.perf_counter() - started, 1)})
        return 0

    baseline = run_baseline(convs)
    runs, lines = [baseline], {baseline.label: aggregate(baseline)}
    check = check_baseline(lines[baseline.label], sha256)
    print_run(baseline, lines[baseline.label])
    if check["checked"]:
        print(f"  harness check (expected: overall R@10 0.609, MRR 0.450, n=760, 0 errors, +-{TOLERANCE}): "
              + ("OK" if check["ok"] else f"FAILED, got {check['got']}"))

    memento = import_memento()
    failed = [] if memento else [{"error": "memento is not importable"}]
    for tier, modes in (configs_to_run(args, memento) if memento else []):
        try:
            tier_runs = run_tier(memento, convs, tier, modes, recall_kw, threads=not args.no_threads,
                                 dedup=args.dedup, speakers=not args.no_speaker,
                                 settings=parse_kw(args.setting, fixed=()))
        except Exception as exc:  # noqa: BLE001 - a broken tier must not hide the others
            print(f"\nmemento {tier}: FAILED before scoring: {type(exc).__name__}: {exc}", file=sys.stderr)
            failed.append({"tier": tier, "modes": modes, "error": f"{type(exc).__name__}: {exc}"})
            continue
        for run in tier_runs:
            lines[run.label] = aggregate(run)
            print_run(run, lines[run.label])
        runs += tier_runs

    elapsed = time.perf_counter() - started
    print(f"\ntotal {elapsed:.1f} s")
    if args.dump:
        dump_answers(args.dump, runs)
    write_json(args.json_out, {
        "machine": machine(memento),
        "data": {"file": args.data.name, "sha256": sha256, "conversations": len(convs),
                 "turns": sum(len(c.turns) for c in convs)},
        "k": K, "recall_kw": recall_kw, "settings": parse_kw(args.setting, fixed=()), "harness_check": check,
        "results": lines, "speed": {run.label: speed(run) for run in runs},
        "failed": failed, "elapsed_s": round(elapsed, 1)})
    return 1 if failed or (check["checked"] and not check["ok"]) else 0


if __name__ == "__main__":
    sys.exit(main())
