"""Peers side by side, same machine, same run: memento's minimal (keyword) and full (hybrid) tiers
against chromadb (PersistentClient) and a plain-SQLite lower bound (raw FTS5 MATCH, raw vec0 KNN),
on the same corpus texts, the same queries and the same embeddings.

Embeddings: memento's full-tier model embeds the texts and the queries once, up front. chromadb and
vec0 are handed those vectors (chroma's collection has no embedding function, cosine space); memento's
full tier goes through its public API and so embeds them again itself (model load included). A third
memento row, "full (precomputed)", is handed the same vectors as the peers through its public API
(remember_many items' "vector", recall(vector=)): it never loads the model, as chromadb never does here.

Per system, each figure in a fresh process: ingest (N texts in batches into a new store, clock after
open), cold start (import + open the persisted store + one query: median of --runs, next to bare
`python -c pass` of the same interpreter), warm query p50/p95 (200 queries, k=10), peak RSS (VmHWM of
a process doing open + 100 queries), bytes on disk (the store's whole directory) and installed size
(site-packages growth of a fresh venv, as bench/install_size.py measures it).

Every system runs in its own fresh venv under a temporary work dir (memento from a wheel of this tree,
chromadb, apsw, apsw + sqlite-vec): chromadb never enters memento's environment, and no system pays
for another's site-packages at start-up. The work dir (venvs, stores, vectors, memento's model cache)
is removed at the end unless --keep. Needs PyPI for the venvs.

    python -m bench.peers [--size 10000] [--runs 7]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from bench import corpus
from bench.common import REPO, percentiles, write_result
from bench.install_size import site_packages, tree_bytes

DIM = 384          # memento's full-tier model (all-MiniLM-L6-v2)
BATCH = 1_000      # ingest batch, every system
K = 10
N_QUERIES = 200    # warm queries
RSS_QUERIES = 100  # queries in the peak-RSS process

EMBED = """
import json
from memento.vectors.embedder import Embedder
from memento.vectors.registry import model_for_tier
W = {work!r}
embedder = Embedder(model_for_tier("full"))
for name in ("texts", "queries"):
    vectors = embedder.embed(json.load(open(W + "/" + name + ".json")))
    assert all(len(v) == {dim} * 4 for v in vectors)
    open(W + "/" + name + ".f32", "wb").write(b"".join(vectors))
"""

# Every probe starts with this: paths, the query texts, the vector reader, VmHWM.
PRELUDE = """
import json, sys, time
W, P, DIM = {work!r}, {store!r}, {dim}
Q = json.load(open(W + "/queries.json"))
def raw_vectors(name):  # float32 little-endian rows, as memento's embedder returns them
    blob, n = open(W + "/" + name + ".f32", "rb").read(), DIM * 4
    return [blob[j:j + n] for j in range(0, len(blob), n)]
def peak_mb():  # VmHWM, not ru_maxrss: ru_maxrss is inherited from the parent across fork+exec
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
"""

INGEST = """
T = json.load(open(W + "/texts.json"))
{create}
started = time.perf_counter()
for a in range(0, len(T), {batch}):
    add(a, min(a + {batch}, len(T)))
elapsed = time.perf_counter() - started
{close}
print(json.dumps({{"seconds": elapsed}}))
"""

COLD = """
{open}
assert query(0)
{close}
"""

WARM = """
{open}
for i in range(5):
    query(i)  # model loaded, pages cached
ms, ids = [], []
for i in range(len(Q)):
    started = time.perf_counter()
    ids.append(query(i))
    ms.append((time.perf_counter() - started) * 1000)
{close}
print(json.dumps({{"ms": ms, "ids": ids}}))
"""

RSS = """
{open}
for i in range({n}):
    query(i)
{close}
print(json.dumps({{"peak_mb": peak_mb()}}))
"""


@dataclass
class System:
    """How one system creates a store and adds to it (`add(a, b)`: texts T[a:b], ids a+1..b), opens
    its persisted store and queries it (`query(i)`: top-k ids for query i), and closes it."""
    name: str
    env: str           # the fresh venv it runs in, named by what was installed there
    create: str
    open: str
    close: str


MEMENTO_QUERY = """
def query(i):
    return [h.id for h in mem.recall(Q[i], k={k}, mode={mode!r}, min_score=0)]
"""

# The "precomputed" row: the caller's vectors go in through the public API; the model never runs.
MEMENTO_QUERY_WITH_VECTOR = """
QV = raw_vectors("queries")
def query(i):
    return [h.id for h in mem.recall(Q[i], k={k}, mode={mode!r}, vector=QV[i], min_score=0)]
"""


def memento_system(name: str, tier: str, mode: str, precomputed: bool = False) -> System:
    open_ = f"import memento\nmem = memento.open(P + '/memento.db', tier={tier!r})\n"
    create = "import os\nos.makedirs(P)\n" + open_
    if precomputed:
        create += ("DV = raw_vectors('texts')\n"
                   "def add(a, b):\n    mem.remember_many([{'text': T[j], 'vector': DV[j]} for j in range(a, b)])\n")
        query = MEMENTO_QUERY_WITH_VECTOR
    else:
        # Model loaded before the clock (as bench/ingest.py does): ingest counts embedding, not loading.
        create += ("mem.recall('warm up', k=1)\n" if tier != "minimal" else "")
        create += "def add(a, b):\n    mem.remember_many(T[a:b])\n"
        query = MEMENTO_QUERY
    return System(name, f"memento[{tier}]", create=create,
                  open=open_ + query.format(k=K, mode=mode), close="mem.close()")


CHROMA_OPEN = """
import numpy
import chromadb
from chromadb.config import Settings
client = chromadb.PersistentClient(path=P, settings=Settings(anonymized_telemetry=False))
"""

CHROMA = System(
    "chromadb", "chromadb",
    create=CHROMA_OPEN + """
col = client.create_collection("bench", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
DV = numpy.fromfile(W + "/texts.f32", dtype="<f4").reshape(-1, DIM)
def add(a, b):
    col.add(ids=[str(j + 1) for j in range(a, b)], documents=T[a:b], embeddings=DV[a:b])
""",
    open=CHROMA_OPEN + f"""
col = client.get_collection("bench", embedding_function=None)
QV = numpy.fromfile(W + "/queries.f32", dtype="<f4").reshape(-1, DIM)
def query(i):
    return [int(x) for x in col.query(query_embeddings=QV[i:i + 1], n_results={K})["ids"][0]]
""",
    close="client.close()")

# The lower bound: one apsw connection, one virtual table, one statement; no memento code.
FTS5_OPEN = """
import re, apsw
conn = apsw.Connection(P + "/fts.db")
def query(i):  # every word quoted, OR-joined (no stopwords dropped)
    match = " OR ".join('"' + w + '"' for w in re.findall(r"[^\\W_]+", Q[i]))
    return [r[0] for r in conn.execute(
        "SELECT rowid, text FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT %d" % {k}, (match,))]
"""

SQLITE_FTS5 = System(
    "sqlite FTS5", "apsw",
    create="""
import apsw, os
os.makedirs(P, exist_ok=True)
conn = apsw.Connection(P + "/fts.db")
conn.execute("CREATE VIRTUAL TABLE docs USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')")
def add(a, b):
    with conn:
        conn.executemany("INSERT INTO docs(rowid, text) VALUES (?, ?)", ((j + 1, T[j]) for j in range(a, b)))
""",
    open=FTS5_OPEN.format(k=K), close="conn.close()")

VEC0_CONNECT = """
import apsw, os, sqlite_vec
os.makedirs(P, exist_ok=True)
conn = apsw.Connection(P + "/vec.db")
conn.enable_load_extension(True)
conn.load_extension(sqlite_vec.loadable_path())
"""

SQLITE_VEC0 = System(
    "sqlite vec0", "apsw sqlite-vec",
    create=VEC0_CONNECT + """
conn.execute("CREATE VIRTUAL TABLE docs USING vec0(embedding float[%d] distance_metric=cosine, +text text)" % DIM)
DV = raw_vectors("texts")
def add(a, b):
    with conn:
        conn.executemany("INSERT INTO docs(rowid, embedding, text) VALUES (?, ?, ?)",
                         ((j + 1, DV[j], T[j]) for j in range(a, b)))
""",
    open=VEC0_CONNECT + f"""
QV = raw_vectors("queries")
def query(i):  # exact KNN: vec0 scans every vector
    return [r[0] for r in conn.execute(
        "SELECT rowid, distance, text FROM docs WHERE embedding MATCH ? AND k = {K} ORDER BY distance", (QV[i],))]
""",
    close="conn.close()")

SYSTEMS = [
    memento_system("memento minimal", "minimal", "keyword"),
    memento_system("memento full", "full", "hybrid"),
    memento_system("memento full (precomputed)", "full", "hybrid", precomputed=True),
    CHROMA,
    SQLITE_FTS5,
    SQLITE_VEC0,
]
# Which peer each memento row is held against, besides chromadb.
LOWER_BOUND = {"memento minimal": "sqlite FTS5", "memento full": "sqlite vec0",
               "memento full (precomputed)": "sqlite vec0"}


ENVS = {  # venv name -> what `pip install` puts in it
    "memento[minimal]": ["{wheel}[minimal]"],
    "memento[full]": ["{wheel}[full]"],
    "chromadb": ["chromadb"],
    "apsw": ["apsw"],
    "apsw sqlite-vec": ["apsw", "sqlite-vec"],
}


def venv_python(work: Path, env: str) -> str:
    return str(work / ("venv-" + env.replace(" ", "-")) / "bin" / "python")


def install(work: Path) -> Dict[str, dict]:
    """One fresh venv per system (memento from a wheel of this tree): its site-packages growth is the
    installed size (bench/install_size.py's method), and the system's probes run in it."""
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(REPO)],
                   check=True, capture_output=True)
    wheel = next((work / "dist").glob("*.whl"))
    sizes = {}
    for env, packages in ENVS.items():
        python = Path(venv_python(work, env))
        venv.create(python.parent.parent, with_pip=True)
        sp = site_packages(python.parent.parent)
        before = {p.name: tree_bytes(p) if p.is_dir() else p.stat().st_size for p in sp.iterdir()}
        subprocess.run([str(python), "-m", "pip", "install", "-q", *(p.format(wheel=wheel) for p in packages)],
                       check=True, capture_output=True)
        after = {p.name: tree_bytes(p) if p.is_dir() else p.stat().st_size for p in sp.iterdir()}
        added = sorted(((n, b) for n, b in after.items() if b != before.get(n)), key=lambda nb: -nb[1])
        sizes[env] = {"added_mb": round(sum(b for _, b in added) / 1e6, 1),
                      "top": [{"name": n, "mb": round(b / 1e6, 1)} for n, b in added[:8]]}
        print(f"  {env}: {sizes[env]['added_mb']} MB ("
              + ", ".join(f"{t['name']} {t['mb']}" for t in sizes[env]["top"][:5]) + ")", flush=True)
    return sizes


class Bench:
    def __init__(self, work: Path, runs: int):
        self.work = work
        self.runs = runs
        # memento builds its model folder once, here, on first use (outside every clock); removed with work.
        self.environ = {**os.environ, "MEMENTO_CACHE_DIR": str(work / "memento-cache")}

    def store(self, system: System) -> Path:
        return self.work / "stores" / system.name.replace(" ", "-").replace("(", "").replace(")", "")

    def argv(self, system: System, body: str) -> List[str]:
        prelude = PRELUDE.format(work=str(self.work), store=str(self.store(system)), dim=DIM)
        return [venv_python(self.work, system.env), "-c", prelude + body]

    def run(self, argv: List[str]) -> dict:
        out = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=self.work, env=self.environ)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def wall_times(self, argv: List[str], runs: int) -> List[float]:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, cwd=self.work, env=self.environ)
            times.append(time.perf_counter() - started)
        return times

    def bare_python_s(self, env: str) -> float:
        return statistics.median(self.wall_times([venv_python(self.work, env), "-c", "pass"], self.runs))

    def measure(self, system: System, size: int) -> dict:
        idle = CpuMeter()
        fill = {"open": system.open, "close": system.close}
        ingest = self.run(self.argv(system, INGEST.format(create=system.create, batch=BATCH, **fill)))
        cold_argv = self.argv(system, COLD.format(**fill))
        self.wall_times(cold_argv, 1)  # warm the OS page cache once: we measure the program, not the disk
        bare = self.bare_python_s(system.env)
        cold = self.wall_times(cold_argv, self.runs)
        warm = self.run(self.argv(system, WARM.format(**fill)))
        rss = self.run(self.argv(system, RSS.format(n=RSS_QUERIES, **fill)))
        return {
            "system": system.name, "venv": system.env, "size": size,
            "cold_ms": round(statistics.median(cold) * 1000, 1),
            "bare_python_ms": round(bare * 1000, 1),
            "cold_over_bare_ms": round((statistics.median(cold) - bare) * 1000, 1),
            "cold_runs_ms": [round(t * 1000, 1) for t in cold],
            **{f"warm_{k}": v for k, v in percentiles(warm["ms"]).items() if k in ("p50_ms", "p95_ms", "p99_ms")},
            "ingest_per_s": round(size / ingest["seconds"], 1),
            "ingest_s": round(ingest["seconds"], 2),
            "peak_rss_mb": round(rss["peak_mb"], 1),
            "disk_mb": round(tree_bytes(self.store(system)) / 1e6, 2),
            "other_cpu_share": idle.others_share(),
            "_ids": warm["ids"],
        }


class CpuMeter:
    """How busy the machine was with other people's work while we measured: CPU time of the whole
    machine (/proc/stat) less our own and our children's, as a share of all cores' wall time."""
    def __init__(self):
        self.start = self.sample()

    @staticmethod
    def sample():
        with open("/proc/stat") as f:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
        busy = user + nice + system + irq + softirq + steal
        ours = os.times()
        return (time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"),
                ours.user + ours.system + ours.children_user + ours.children_system)

    def others_share(self) -> float:
        (w0, b0, o0), (w1, b1, o1) = self.start, self.sample()
        return round(max(0.0, (b1 - b0) - (o1 - o0)) / ((w1 - w0) * os.cpu_count()), 3)


def overlap(a: List[List[int]], b: List[List[int]]) -> float:
    """Mean share of b's top-k that a also returns."""
    return round(statistics.fmean(len(set(x) & set(y)) / max(1, len(y)) for x, y in zip(a, b)), 3)


FIGURES = [  # key, header
    ("cold_ms", "cold ms"), ("cold_over_bare_ms", "cold over bare ms"),
    ("warm_p50_ms", "warm p50 ms"), ("warm_p95_ms", "warm p95 ms"), ("ingest_per_s", "ingest /s"),
    ("peak_rss_mb", "peak RSS MB"), ("disk_mb", "disk MB"), ("installed_mb", "installed MB"),
]


def print_tables(rows: List[dict], ratios: List[dict]) -> None:
    print("\n| system | " + " | ".join(h for _, h in FIGURES) + " |")
    print("|---" * (len(FIGURES) + 1) + "|")
    for r in rows:
        print(f"| {r['system']} | " + " | ".join(f"{r[k]:,}" for k, _ in FIGURES) + " |")
    print("\nRatios memento / peer (below 1: memento smaller or faster; ingest /s: above 1 is faster):")
    print("| memento | peer | " + " | ".join(h for _, h in FIGURES) + " |")
    print("|---" * (len(FIGURES) + 2) + "|")
    for r in ratios:
        print(f"| {r['memento']} | {r['peer']} | " + " | ".join(f"{r[k]}" for k, _ in FIGURES) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=7, help="cold starts per system (median reported)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (venvs, stores, vectors)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="memento-peers-"))
    try:
        print(f"fresh venvs in {work} (installed size; each system's probes run in its own)")
        sizes = install(work)
        bench = Bench(work, args.runs)
        chroma_version = subprocess.run(
            [venv_python(work, "chromadb"), "-c", "import chromadb; print(chromadb.__version__)"],
            check=True, capture_output=True, text=True).stdout.strip()
        texts, queries = corpus.texts(args.size), corpus.queries(N_QUERIES)
        (work / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
        (work / "queries.json").write_text(json.dumps(queries), encoding="utf-8")
        started = time.perf_counter()
        subprocess.run([venv_python(work, "memento[full]"), "-c", EMBED.format(work=str(work), dim=DIM)],
                       check=True, cwd=work, env=bench.environ)
        print(f"embedded {len(texts):,} texts + {len(queries)} queries once with memento's full-tier model "
              f"in {time.perf_counter() - started:.0f}s; chromadb {chroma_version}")
        rows = []
        for system in SYSTEMS:
            row = bench.measure(system, args.size)
            row["installed_mb"] = sizes[system.env]["added_mb"]
            rows.append(row)
            print(f"  {system.name}: cold {row['cold_ms']} ms (bare {row['bare_python_ms']}), warm p50 "
                  f"{row['warm_p50_ms']} ms, ingest {row['ingest_per_s']:,.0f}/s, peak RSS {row['peak_rss_mb']} MB"
                  + (f"; WARNING: other work took {row['other_cpu_share']:.0%} of the CPU meanwhile"
                     if row["other_cpu_share"] > 0.05 else ""), flush=True)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    ids = {r["system"]: r.pop("_ids") for r in rows}
    agreement = {  # the same vectors went in: the same neighbours should come out
        "chromadb vs exact vec0": overlap(ids["chromadb"], ids["sqlite vec0"]),
        "memento minimal vs raw FTS5": overlap(ids["memento minimal"], ids["sqlite FTS5"]),
        "memento full (precomputed) vs memento full": overlap(ids["memento full (precomputed)"], ids["memento full"]),
    }
    by_name = {r["system"]: r for r in rows}
    ratios = [{"memento": mine, "peer": peer,
               **{k: round(by_name[mine][k] / by_name[peer][k], 2) if by_name[peer][k] > 0 else None
                  for k, _ in FIGURES}}
              for mine, lower in LOWER_BOUND.items() for peer in ("chromadb", lower)]
    print_tables(rows, ratios)
    print("top-10 agreement: " + ", ".join(f"{k} {v}" for k, v in agreement.items()))
    write_result("peers", {
        "chromadb": chroma_version, "size": args.size, "queries": N_QUERIES, "k": K, "batch": BATCH,
        "cold_runs": args.runs,
        "embeddings": "memento full-tier model (all-MiniLM-L6-v2, 384-d), computed once; chromadb and vec0 "
                      "get these vectors; memento full embeds through its API; 'precomputed' is handed them (remember_many items' vector, recall(vector=))",
        "rows": rows, "ratios": ratios, "top10_agreement": agreement, "installed": sizes})


if __name__ == "__main__":
    main()
